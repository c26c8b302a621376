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
