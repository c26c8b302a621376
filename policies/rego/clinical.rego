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

# Visit notes are free text: clinicians write identifiers into them (a callback number, a date of
# birth, an email). The support desk reads visits with every identifier the detectors find in a note
# replaced by a label ([PHONE], [DOB], ...) on the way out; the rest of the note is returned as written.
note_detectors := ["ssn", "email", "phone", "card", "mrn", "dob", "ip"]

mask contains {"id": "clinical-notes-detect", "reason": "identifiers in visit notes replaced", "on": "read", "table": t, "column": "notes", "strategy": "detect", "detectors": note_detectors} if {
	member("support")
	not member("breakglass")
	some t in input.statement.tables_read
	t == "clinical.visits"
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

# Who answers, how many, how long the statement waits, whether the agent must say why, and the longest
# time-boxed grant an approver may give instead of a one-off yes (docs/approvals.md).
patient_write_approval := {"approvers": ["clinical-leads"], "quorum": 1, "ttl": "1h", "reason_required": false, "grant": "30m"}

approve contains object.union(patient_write_approval, {"id": "clinical-write-approval", "reason": "writes to clinical.patients need approval", "on": "write", "table": t}) if {
	member("agents")
	some t in input.statement.tables_written
	t == "clinical.patients"
}
