# Statement-level rules: what kinds of statement may run at all, whatever tables they touch.
# Mirrors policies/cedar/statements.cedar (the "execute" action on the session's database).
package gatehouse

table_kinds := {"select", "insert", "update", "delete", "merge"}

session_kinds := {"transaction", "set", "show", "discard", "deallocate", "cursor"}

file_functions := {"pg_read_file", "pg_read_binary_file", "pg_ls_dir", "lo_import", "lo_export", "pg_stat_file"}

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
	file_function(f)
}

file_function(f) if f in file_functions

file_function(f) if {
	startswith(f, "pg_catalog.")
	substring(f, count("pg_catalog."), -1) in file_functions
}

deny contains {"id": "deny-unbounded-write", "reason": "UPDATE and DELETE need a WHERE clause"} if {
	input.statement.kind in {"update", "delete"}
	not input.statement.has_where
}
