# The system catalogs are readable by every authenticated identity (psql's \d and drivers' metadata
# queries need them), except the few that hold data rather than metadata. Mirrors
# policies/cedar/catalog.cedar.
package gatehouse

allow contains {"id": "catalog-read", "reason": "system catalog", "on": "read", "table": t} if {
	some t in input.statement.tables_read
	schema_of(t) in {"pg_catalog", "information_schema"}
}

# Catalogs whose rows are data: planner statistics (most_common_vals, histogram_bounds and the
# extended statistics hold real column values, masked ones included), other sessions' statement
# text, and large-object contents. Only break-glass reads them.
catalog_data_tables := {
	"pg_catalog.pg_statistic", "pg_catalog.pg_stats", "pg_catalog.pg_statistic_ext_data",
	"pg_catalog.pg_stats_ext", "pg_catalog.pg_stats_ext_exprs",
	"pg_catalog.pg_stat_activity",
	"pg_catalog.pg_largeobject",
}

# The functions behind the same data: session activity, pg_stat_statements (an extension, usually
# in public), and large objects read or written by SQL.
catalog_data_functions := {
	"pg_stat_get_activity", "pg_stat_get_backend_activity",
	"lo_get", "loread", "lo_open", "lo_close", "lo_lseek", "lo_lseek64", "lo_tell", "lo_tell64",
	"lo_put", "lowrite", "lo_from_bytea", "lo_creat", "lo_create", "lo_unlink", "lo_truncate", "lo_truncate64",
}

catalog_data_reason := "this catalog holds data, not metadata (planner statistics hold column values, pg_stat_activity other sessions' statements, pg_largeobject file contents): only break-glass may read it"

deny contains {"id": "deny-catalog-data", "reason": catalog_data_reason} if {
	not member("breakglass")
	some t in input.statement.tables_read
	catalog_data_table(t)
}

deny contains {"id": "deny-catalog-data", "reason": catalog_data_reason} if {
	not member("breakglass")
	some f in input.statement.functions
	catalog_data_function(f)
}

# Every name in the list is in pg_catalog: the prefix test first spares building the set (OPA's
# WebAssembly builds a set literal at each evaluation that reaches it) for every other table.
catalog_data_table(t) if {
	startswith(t, "pg_catalog.")
	t in catalog_data_tables
}

# pg_stat_statements lives in whichever schema the extension was installed in.
catalog_data_table(t) if name_of(t) == "pg_stat_statements"

catalog_data_function(f) if builtin_function(f, catalog_data_functions)

catalog_data_function(f) if f in {"pg_stat_statements", "public.pg_stat_statements"}

# Password hashes and connection secrets (user mappings' and subscriptions' options), and the
# server's configuration files (pg_hba.conf, pg_ident.conf, postgresql.conf and the files it
# includes, which may hold primary_conninfo's password; pg_config's build paths): nobody reads them
# through Gatehouse, break-glass included. The functions behind these views are file functions
# (statements.rego, deny-file-functions).
catalog_secret_tables := {
	"pg_catalog.pg_authid", "pg_catalog.pg_shadow",
	"pg_catalog.pg_user_mapping", "pg_catalog.pg_user_mappings",
	"pg_catalog.pg_subscription",
	"information_schema.user_mapping_options", "information_schema._pg_user_mappings",
	"pg_catalog.pg_hba_file_rules", "pg_catalog.pg_ident_file_mappings",
	"pg_catalog.pg_file_settings", "pg_catalog.pg_config",
}

deny contains {"id": "deny-catalog-secrets", "reason": "password hashes, connection secrets and the server's configuration files are not readable through Gatehouse"} if {
	some t in input.statement.tables_read
	system_table(t)
	t in catalog_secret_tables
}

# A table in pg_catalog or information_schema, where every name of catalog_secret_tables is (as for
# catalog_data_table: the set is built only for them).
system_table(t) if startswith(t, "pg_catalog.")

system_table(t) if startswith(t, "information_schema.")
