# Statement-level rules: what kinds of statement may run at all, whatever tables they touch.
# Mirrors policies/cedar/statements.cedar (the "execute" action on the session's database).
package gatehouse

table_kinds := {"select", "insert", "update", "delete", "merge"}

session_kinds := {"transaction", "set", "show", "discard", "deallocate", "cursor", "empty"}

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

# Server administration (the "System Administration Functions" chapter of the PostgreSQL manual,
# and the statistics reset functions): signalling other backends, reloading the configuration,
# backup and WAL control, promotion and replay control, replication slots and origins (logical
# decoding of a slot also returns every table's changes, past every table rule), statistics
# resets, index maintenance, importing collations, and taking advisory locks (an agent holding an
# application's lock key can stall its workers or migrations; releasing is harmless and allowed).
# Older and newer names are listed too. txid_current() and pg_current_xact_id() are not: they
# only give the transaction an id, as any write does. set_config() is deny-set-role's business.
admin_functions := {
	"pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf", "pg_rotate_logfile", "pg_rotate_logfile_old",
	"pg_log_backend_memory_contexts",
	"pg_backup_start", "pg_backup_stop", "pg_start_backup", "pg_stop_backup", "pg_create_restore_point",
	"pg_switch_wal", "pg_switch_xlog",
	"pg_promote", "pg_wal_replay_pause", "pg_wal_replay_resume", "pg_xlog_replay_pause", "pg_xlog_replay_resume",
	"pg_create_physical_replication_slot", "pg_create_logical_replication_slot", "pg_drop_replication_slot",
	"pg_copy_physical_replication_slot", "pg_copy_logical_replication_slot", "pg_replication_slot_advance",
	"pg_logical_slot_get_changes", "pg_logical_slot_get_binary_changes", "pg_logical_slot_peek_changes",
	"pg_logical_slot_peek_binary_changes", "pg_logical_emit_message", "pg_log_standby_snapshot",
	"pg_sync_replication_slots",
	"pg_replication_origin_create", "pg_replication_origin_drop", "pg_replication_origin_oid",
	"pg_replication_origin_session_setup", "pg_replication_origin_session_reset",
	"pg_replication_origin_session_is_setup", "pg_replication_origin_session_progress",
	"pg_replication_origin_xact_setup", "pg_replication_origin_xact_reset", "pg_replication_origin_advance",
	"pg_replication_origin_progress",
	"pg_stat_reset", "pg_stat_reset_shared", "pg_stat_reset_single_table_counters",
	"pg_stat_reset_single_function_counters", "pg_stat_reset_slru", "pg_stat_reset_replication_slot",
	"pg_stat_reset_subscription_stats",
	"brin_summarize_new_values", "brin_summarize_range", "brin_desummarize_range", "gin_clean_pending_list",
	"pg_import_system_collations",
	"pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared",
	"pg_try_advisory_lock", "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock",
	"pg_try_advisory_xact_lock_shared",
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

# The parameters that carry the role: SET ROLE and SET SESSION AUTHORIZATION, and the same change
# written any other way (set_config('role', ...), UPDATE pg_settings, ALTER ROLE/DATABASE ... SET
# role, a function's SET role clause). "*" is a parameter whose name Gatehouse cannot know before
# the statement runs (set_config($1, ...), an expression, UPDATE pg_settings): it may be the role.
# "all" (RESET ALL, DISCARD ALL) is allowed: RESET ALL leaves the role alone, and DISCARD ALL only
# returns to the role the session logged in with.
role_settings := {"role", "session_authorization", "*"}

set_role_reason := "changing the role or session authorization is not allowed, however it is written (SET ROLE, set_config, UPDATE pg_settings), nor setting a parameter whose name is not written as a constant"

deny contains {"id": "deny-set-role", "reason": set_role_reason} if {
	input.statement.kind == "set"
	input.statement.setting in role_settings
}

deny contains {"id": "deny-set-role", "reason": set_role_reason} if {
	some s in input.statement.settings
	s in role_settings
}

# Notifications: NOTIFY (kind "listen", with LISTEN and UNLISTEN) is permitted by no rule of this
# set, so nobody may notify; pg_notify(channel, payload) sends the same notification from inside any
# statement (a SELECT, a WITH, a subquery) and is denied to the same identities, bare or as
# pg_catalog.pg_notify. A notification reaches every session listening on the channel, other
# applications' included, outside any table rule (and its payload may carry any value the statement
# can read). A policy set that permits NOTIFY to some identities says so here too, in its own file:
# `notify_permitted if member("listeners")`.
default notify_permitted := false

deny contains {"id": "deny-notify", "reason": "notifications are not allowed, as NOTIFY or as pg_notify(): a notification reaches every session listening on the channel, outside any table rule"} if {
	not notify_permitted
	some f in input.statement.functions
	builtin_function(f, {"pg_notify"})
}

# The run-time parameters agents may change (statement.settings: SET, SET LOCAL, RESET, set_config,
# ALTER ... SET, a function's SET clause), each justified in docs/policies.md: how the session
# presents values to its client, name resolution, limits on the session itself, transaction modes,
# and Gatehouse's own gatehouse.reason. Everything else is denied to agents, naming the parameter:
# logging (log_statement, log_min_duration_statement), replication and trigger behaviour
# (session_replication_role), resource and planner settings (work_mem, temp_buffers, jit, enable_*),
# row_security, and any custom parameter an application reads (myapp.tenant_id). "all" (RESET ALL,
# DISCARD ALL) returns every parameter to the value the session started with and is allowed; role,
# session_authorization and "*" are deny-set-role's. A name given as a protocol parameter ("$1" at
# Parse) passes here: each Execute is decided again on the bound name.
agent_settings := {
	"application_name", "client_encoding", "client_min_messages", "datestyle", "intervalstyle",
	"timezone", "extra_float_digits", "bytea_output", "standard_conforming_strings",
	"search_path",
	"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout",
	"transaction_timeout",
	"transaction", "session characteristics", "transaction_isolation", "transaction_read_only",
	"transaction_deferrable", "default_transaction_isolation", "default_transaction_read_only",
	"default_transaction_deferrable",
	"gatehouse.reason",
}

changed_settings contains s if some s in input.statement.settings

changed_settings contains input.statement.setting if {
	input.statement.kind == "set"
	is_string(input.statement.setting)
}

deny contains {"id": "deny-agent-settings", "reason": sprintf("agents may change only the parameters on their allow-list (docs/policies.md); this statement sets %s", [concat(", ", statement_settings)])} if {
	member("agents")
	some s in changed_settings
	not s in agent_settings
	not s in role_settings
	s != "all"
	not startswith(s, "$")
}

# The parameters a statement sets, as a reason names them: statement.settings, or for a hand-written
# input with only statement.setting, that one.
statement_settings := input.statement.settings if count(input.statement.settings) > 0

else := [input.statement.setting] if is_string(input.statement.setting)

else := ["(none)"]

deny contains {"id": "deny-ddl", "reason": "agents may not change the schema"} if {
	member("agents")
	input.statement.kind == "ddl"
}

deny contains {"id": "deny-grant", "reason": "agents may not grant privileges or manage roles"} if {
	member("agents")
	input.statement.kind == "grant"
}

# SELECT ... FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE, wherever it is written
# (subquery, WITH, EXPLAIN, PREPARE, DECLARE CURSOR): a row lock blocks every writer of those rows
# until the transaction ends, so an agent that may only read could stall the application.
# PostgreSQL itself asks for UPDATE privilege for FOR UPDATE; Gatehouse's upstream role has it.
deny contains {"id": "deny-row-locks", "reason": "agents may not lock rows (SELECT ... FOR UPDATE/SHARE): a row lock blocks writers until the transaction ends; drop the locking clause"} if {
	member("agents")
	input.statement.locks_rows
}

deny contains {"id": "deny-copy-file", "reason": "COPY to or from a server file or program is not allowed"} if {
	input.statement.kind == "copy"
	input.statement.copy.endpoint in {"file", "program"}
}

deny contains {"id": "deny-file-functions", "reason": "server-side file functions are not allowed"} if {
	some f in input.statement.functions
	builtin_function(f, file_functions)
}

# Agents do not administer the server. Break-glass may: cancelling or terminating a runaway
# backend is what break-glass is for.
deny contains {"id": "deny-admin-functions", "reason": "agents may not call server administration functions (signalling backends, reloading configuration, backup, WAL, replication, statistics resets, advisory locks): only break-glass may"} if {
	member("agents")
	not member("breakglass")
	some f in input.statement.functions
	builtin_function(f, admin_functions)
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
