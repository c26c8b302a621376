# Clinical data: agents read with identifiers masked, breakglass reads everything,
# agents' writes to patients wait for a human. Mirrors policies/cedar/clinical.cedar.
package gatehouse

patient_masks := {
	"mrn": "hash",
	"first_name": "redact",
	"last_name": "redact",
	"ssn": "redact",
	"date_of_birth": "fake_date",
	"phone": "last4",
	"email": "hash",
	"address": "null",
}

mask contains {"id": "clinical-read-masked", "reason": "patient identifiers masked", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("agents")
	not member("breakglass")
	some t in input.statement.tables_read
	t == "clinical.patients"
	some column, strategy in patient_masks
}

allow contains {"id": "clinical-read", "reason": "clinical data without identifiers", "on": "read", "table": t} if {
	member("agents")
	some t in input.statement.tables_read
	schema_of(t) == "clinical"
	t != "clinical.patients"
}

allow contains {"id": "breakglass-read", "reason": "break-glass access", "on": "read", "table": t} if {
	member("breakglass")
	some t in input.statement.tables_read
	schema_of(t) == "clinical"
}

approve contains {"id": "clinical-write-approval", "reason": "writes to clinical.patients need approval", "on": "write", "table": t} if {
	member("agents")
	some t in input.statement.tables_written
	t == "clinical.patients"
}
