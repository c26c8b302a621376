# Which kinds of statement may run at all. Mirrors policies/cedar/statements.cedar.
package gatehouse

data_kinds := {"select", "insert", "update", "delete", "merge"}

# Reading and writing tables: the table rules (sales.rego) decide.
allow contains {"id": "statement-data", "reason": "statement reads or writes tables", "on": "execute"} if {
	input.statement.kind in data_kinds
}

allow contains {"id": "statement-session", "reason": "session and transaction control", "on": "execute"} if {
	input.statement.kind in {"transaction", "set", "show"}
}

deny contains {"id": "deny-schema-changes", "reason": "schema and privilege changes go through migrations"} if {
	input.statement.kind in {"ddl", "grant"}
}

# SET ROLE and SET SESSION AUTHORIZATION, and the same change written any other way:
# set_config('role', ...), UPDATE pg_settings, ALTER ... SET role. statement.settings names every
# parameter a statement sets or resets; "*" is one whose name Gatehouse cannot know before the
# statement runs (set_config($1, ...), UPDATE pg_settings), so it may be the role. "all" (RESET ALL,
# DISCARD ALL) is allowed: it never gives the session a role it did not log in with.
role_settings := {"role", "session_authorization", "*"}

deny contains {"id": "deny-set-role", "reason": "changing the role is not allowed"} if {
	input.statement.kind == "set"
	input.statement.setting in role_settings
}

deny contains {"id": "deny-set-role", "reason": "changing the role is not allowed"} if {
	some s in input.statement.settings
	s in role_settings
}

# NOTIFY is not permitted (statement-session does not list kind "listen"), and pg_notify() sends the
# same notification from inside any statement: deny it too, bare or as pg_catalog.pg_notify.
deny contains {"id": "deny-notify", "reason": "notifications are not allowed, as NOTIFY or as pg_notify()"} if {
	some f in input.statement.functions
	f in {"pg_notify", "pg_catalog.pg_notify"}
}

# The run-time parameters a session may change: how values are presented to the client, name
# resolution, limits on the session itself, transaction modes. Anything else (log_statement,
# session_replication_role, work_mem, an application's own myapp.* parameters) is denied, naming the
# parameters. "all" (RESET ALL, DISCARD ALL) and the role settings (deny-set-role) are left out, and
# so are names given as protocol parameters ("$1" at Parse): each Execute is decided on the bound name.
session_settings := {
	"application_name", "client_encoding", "client_min_messages", "datestyle", "intervalstyle",
	"timezone", "extra_float_digits", "bytea_output", "standard_conforming_strings", "search_path",
	"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout", "idle_session_timeout",
	"transaction_timeout", "transaction", "session characteristics", "transaction_isolation",
	"transaction_read_only", "transaction_deferrable", "default_transaction_isolation",
	"default_transaction_read_only", "default_transaction_deferrable", "gatehouse.reason",
}

deny contains {"id": "deny-settings", "reason": sprintf("only the parameters on the allow-list may be set; this statement sets %s", [concat(", ", input.statement.settings)])} if {
	some s in input.statement.settings
	not s in session_settings
	not s in role_settings
	s != "all"
	not startswith(s, "$")
}

# SQL handed to a function as a string (query_to_xml, table_to_xml, dblink, ...) runs on the server
# without passing through these rules, masks included: Gatehouse sets runs_sql_text for those calls.
deny contains {"id": "deny-sql-text", "reason": "functions that run SQL given as a string are not allowed"} if {
	input.statement.runs_sql_text
}

# An UPDATE or DELETE without WHERE, or a TRUNCATE, wherever it is written (top level, WITH, EXPLAIN,
# COPY (query), PREPARE): Gatehouse sets unbounded_writes for those. Denied, not sent for approval.
deny contains {"id": "deny-unbounded-write", "reason": "UPDATE and DELETE need a WHERE clause, wherever they are written, and TRUNCATE is not allowed"} if {
	input.statement.unbounded_writes
}
