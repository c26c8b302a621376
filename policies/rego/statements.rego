# Statement-level rules: what kinds of statement may run at all, whatever tables they touch.
# Mirrors policies/cedar/statements.cedar (the "execute" action on the session's database).
package gatehouse

table_kinds := {"select", "insert", "update", "delete", "merge"}

session_kinds := {"transaction", "set", "show", "discard", "deallocate", "cursor"}

# Server-side file access: reading, listing and writing the server's files (adminpack's pg_file_*
# and pg_logdir_ls install into pg_catalog too), and the functions that return the server's
# configuration files (pg_hba.conf, pg_ident.conf, postgresql.conf), build paths and log file name.
# The views over them are in catalog.rego (deny-catalog-secrets).
file_functions := {
	"pg_read_file", "pg_read_file_old", "pg_read_binary_file", "pg_stat_file",
	"pg_ls_dir", "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir",
	"pg_ls_replslotdir", "pg_ls_logicalsnapdir", "pg_ls_logicalmapdir",
	"lo_import", "lo_export",
	"pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync", "pg_logdir_ls",
	"pg_hba_file_rules", "pg_ident_file_mappings", "pg_show_all_file_settings", "pg_config", "pg_current_logfile",
}

# Statements whose effect is reading or writing tables: the table rules decide.
table_statement if input.statement.kind in table_kinds

table_statement if {
	input.statement.kind == "explain"
	input.statement.inner_kind in table_kinds
}

table_statement if {
	input.statement.kind == "copy"
	input.statement.copy.endpoint == "stdio"
}

allow contains {"id": "statement-data", "reason": "statement reads or writes tables", "on": "execute"} if {
	table_statement
}

allow contains {"id": "statement-session", "reason": "session and transaction control", "on": "execute"} if {
	input.statement.kind in session_kinds
}

deny contains {"id": "deny-set-role", "reason": "changing the role or session authorization is not allowed"} if {
	input.statement.kind == "set"
	input.statement.setting in {"role", "session_authorization"}
}

deny contains {"id": "deny-ddl", "reason": "agents may not change the schema"} if {
	member("agents")
	input.statement.kind == "ddl"
}

deny contains {"id": "deny-grant", "reason": "agents may not grant privileges or manage roles"} if {
	member("agents")
	input.statement.kind == "grant"
}

deny contains {"id": "deny-copy-file", "reason": "COPY to or from a server file or program is not allowed"} if {
	input.statement.kind == "copy"
	input.statement.copy.endpoint in {"file", "program"}
}

deny contains {"id": "deny-file-functions", "reason": "server-side file functions are not allowed"} if {
	some f in input.statement.functions
	builtin_function(f, file_functions)
}

# SQL handed to a function as a string (query_to_xml, table_to_xml, ts_stat, dblink, ...) runs on the
# server without passing through these rules: nobody may run it, break-glass included, because the
# tables it reads or writes are not in the input. Write the SQL itself instead.
deny contains {"id": "deny-sql-text", "reason": "functions that run SQL given as a string are not allowed: the policy cannot see what that SQL reads or writes"} if {
	input.statement.runs_sql_text
}

# A built-in function, called bare or as pg_catalog.name; a function of that name in another schema
# is someone's own.
builtin_function(f, names) if f in names

builtin_function(f, names) if {
	startswith(f, "pg_catalog.")
	substring(f, count("pg_catalog."), -1) in names
}

# An UPDATE or DELETE without WHERE, or a TRUNCATE, wherever it is written: at the top level, in a
# WITH, under EXPLAIN (ANALYZE runs it), in COPY (DELETE ... RETURNING) TO, in PREPARE. The gateway
# finds them in the parse tree (statement.unbounded_writes); kind and has_where see the top level only.
deny contains {"id": "deny-unbounded-write", "reason": "UPDATE and DELETE need a WHERE clause, wherever they are written (WITH, EXPLAIN, COPY, PREPARE), and TRUNCATE is not allowed"} if {
	input.statement.unbounded_writes
}
