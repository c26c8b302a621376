// A Rego policy added to the example policies by the tests that change the schema through
// Gatehouse: members of `schema-admins` may run anything and read and write every table; `agents`
// may read the tables whose qualified name starts with `agentTablePrefix` (scratch views and
// functions the test creates), and clinical.patients masked, as the example policies say.

export function schemaAdminsRego(ruleId: string, agentTablePrefix: string): string {
  return `package gatehouse

allow contains {"id": "${ruleId}-admins", "reason": "schema admins", "on": "execute"} if member("schema-admins")

allow contains {"id": "${ruleId}-admins", "reason": "schema admins", "on": "read", "table": t} if {
	member("schema-admins")
	some t in input.statement.tables_read
}

allow contains {"id": "${ruleId}-admins", "reason": "schema admins", "on": "write", "table": t} if {
	member("schema-admins")
	some t in input.statement.tables_written
}

allow contains {"id": "${ruleId}-agents-read", "reason": "scratch views", "on": "read", "table": t} if {
	member("agents")
	some t in input.statement.tables_read
	startswith(t, "${agentTablePrefix}")
}
`;
}
