# Gatehouse policy set: the one entrypoint, shared helpers, and the default deny.
#
# Every rule adds an object to one of four sets, and Gatehouse combines them
# (deny > approve > mask > allow). Permits say what they cover with "on"
# ("read" | "write" | "execute") and, for tables, "table": a table read or written,
# or a statement, that no permit covers is denied with the id "default-deny",
# exactly as in the Cedar policy set (one request per table and per statement).
package gatehouse

verdict := {"deny": deny, "approve": approve, "mask": mask, "allow": allow, "reviewed": reviewed}

# Groups and roles from the identity token are both group memberships.
member(g) if g in input.identity.groups

member(g) if g in input.identity.roles

# Tables are "schema.name"; the schema ends at the first dot.
schema_of(t) := substring(t, 0, indexof(t, "."))

name_of(t) := substring(t, indexof(t, ".") + 1, -1)

covered(on, t) if {
	some e in allow
	e.on == on
	e.table == t
}

covered(on, t) if {
	some e in approve
	e.on == on
	e.table == t
}

covered(on, t) if {
	some e in mask
	e.on == on
	e.table == t
}

statement_covered if {
	some e in allow
	e.on == "execute"
}

statement_covered if {
	some e in approve
	e.on == "execute"
}

deny contains {"id": "default-deny", "reason": sprintf("no policy permits read on %s", [t])} if {
	some t in input.statement.tables_read
	not covered("read", t)
}

deny contains {"id": "default-deny", "reason": sprintf("no policy permits write on %s", [t])} if {
	some t in input.statement.tables_written
	not covered("write", t)
}

deny contains {"id": "default-deny", "reason": sprintf("no policy permits %s statements", [input.statement.kind])} if {
	not statement_covered
}
