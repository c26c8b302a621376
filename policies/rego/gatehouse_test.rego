# Unit tests for the Gatehouse policy set: `opa test policies/rego`.
package gatehouse_test

import data.gatehouse

base_statement := {
	"text": "",
	"fingerprint": "0",
	"protocol": "simple",
	"kind": "select",
	"command": "SelectStmt",
	"tables_read": [],
	"tables_written": [],
	"columns": {},
	"functions": [],
	"runs_sql_text": false,
	"has_where": false,
	"unbounded_writes": false,
	"locks_rows": false,
	"has_limit": false,
	"writes": false,
	"cte_writes": false,
	"explain_analyze": false,
	"inner_kind": null,
	"prepared_name": null,
	"copy": null,
	"setting": null,
	"settings": [],
}

request(groups, statement) := {
	"version": 2,
	"identity": {"subject": "agent-1", "issuer": "https://idp.test", "groups": groups, "roles": [], "name": null},
	"session": {"id": "s1", "client_address": "127.0.0.1", "application_name": "psql", "database": "clinic", "user": "agent", "tls": true},
	"statement": object.union(base_statement, statement),
}

ids(entries) := {e.id | some e in entries}

outcome(v) := "deny" if count(v.deny) > 0

else := "approve" if count(v.approve) > 0

else := "mask" if count(v.mask) > 0

else := "allow" if count(v.allow) > 0

else := "deny"

read_patients := {"tables_read": ["clinical.patients"], "columns": {"clinical.patients": ["*"]}}

test_agent_reads_patients_masked if {
	v := gatehouse.verdict with input as request(["agents"], read_patients)
	outcome(v) == "mask"
	{[m.column, m.strategy] | some m in v.mask} == {
		["mrn", "hash"], ["first_name", "redact"], ["last_name", "redact"], ["ssn", "redact"],
		["phone", "last4"], ["email", "hash"], ["address", "null"], ["date_of_birth", "fake_date"],
	}
	ids(v.mask) == {"clinical-read-masked"}
}

test_agent_reads_visits_unmasked if {
	v := gatehouse.verdict with input as request(["agents"], {"tables_read": ["clinical.visits"]})
	outcome(v) == "allow"
	ids(v.allow) == {"clinical-read", "statement-data"}
}

test_support_reads_visits_with_notes_detected if {
	v := gatehouse.verdict with input as request(["support"], {"tables_read": ["clinical.visits"]})
	outcome(v) == "mask"
	ids(v.allow) == {"statement-data"}
	{[m.table, m.column, m.strategy] | some m in v.mask} == {["clinical.visits", "notes", "detect"]}
	some m in v.mask
	{d | some d in m.detectors} == {"ssn", "email", "phone", "card", "mrn", "dob", "ip"}
}

test_breakglass_reads_visit_notes_as_written if {
	every groups in [["breakglass"], ["support", "breakglass"]] {
		v := gatehouse.verdict with input as request(groups, {"tables_read": ["clinical.visits"]})
		outcome(v) == "allow"
	}
}

test_breakglass_reads_patients_unmasked if {
	v := gatehouse.verdict with input as request(["breakglass"], read_patients)
	outcome(v) == "allow"
	ids(v.allow) == {"breakglass-read", "statement-data"}
}

test_breakglass_agent_is_not_masked if {
	v := gatehouse.verdict with input as request(["agents", "breakglass"], read_patients)
	outcome(v) == "allow"
}

test_roles_count_as_groups if {
	r := json.patch(request([], read_patients), [{"op": "replace", "path": "/identity/roles", "value": ["agents"]}])
	v := gatehouse.verdict with input as r
	outcome(v) == "mask"
}

test_breakglass_no_file_functions if {
	v := gatehouse.verdict with input as request(["breakglass"], {"functions": ["pg_catalog.pg_read_file"]})
	outcome(v) == "deny"
	ids(v.deny) == {"deny-file-functions"}
}

test_unknown_group_denied if {
	v := gatehouse.verdict with input as request(["visitors"], read_patients)
	outcome(v) == "deny"
	ids(v.deny) == {"default-deny"}
}

test_unknown_group_may_select_constant if {
	v := gatehouse.verdict with input as request(["visitors"], {})
	outcome(v) == "allow"
}

test_catalog_read_for_everyone if {
	v := gatehouse.verdict with input as request([], {"tables_read": ["pg_catalog.pg_class", "information_schema.tables"]})
	outcome(v) == "allow"
	ids(v.allow) == {"catalog-read", "statement-data"}
}

test_update_patients_needs_approval if {
	v := gatehouse.verdict with input as request(["agents"], {
		"kind": "update", "command": "UpdateStmt", "tables_written": ["clinical.patients"],
		"has_where": true, "writes": true,
	})
	outcome(v) == "approve"
	ids(v.approve) == {"clinical-write-approval"}
	some e in v.approve
	e.approvers == ["clinical-leads"]
	e.ttl == "1h"
	e.grant == "30m"
}

test_delete_without_where_denied if {
	v := gatehouse.verdict with input as request(["agents"], {
		"kind": "delete", "command": "DeleteStmt", "tables_written": ["clinical.patients"], "writes": true,
		"unbounded_writes": true,
	})
	outcome(v) == "deny"
	ids(v.deny) == {"deny-unbounded-write"}
}

test_update_without_where_denied_for_bench_too if {
	v := gatehouse.verdict with input as request(["bench"], {
		"kind": "update", "command": "UpdateStmt", "tables_written": ["public.pgbench_accounts"], "writes": true,
		"unbounded_writes": true,
	})
	ids(v.deny) == {"deny-unbounded-write"}
}

# EXPLAIN ANALYZE, a WITH and COPY (query) TO run their DELETE: the fact, not the top-level kind, decides.
test_unbounded_delete_inside_explain_with_copy_denied_for_bench if {
	every statement in [
		{"kind": "explain", "command": "ExplainStmt", "inner_kind": "delete", "explain_analyze": true, "writes": true},
		{"kind": "select", "command": "SelectStmt", "cte_writes": true, "writes": true},
		{"kind": "copy", "command": "CopyStmt", "copy": {"direction": "to", "endpoint": "stdio", "query": true}},
	] {
		v := gatehouse.verdict with input as request(["bench"], object.union(statement, {
			"tables_written": ["public.pgbench_history"], "unbounded_writes": true,
		}))
		ids(v.deny) == {"deny-unbounded-write"}
	}
}

test_bounded_delete_in_a_with_allowed_for_bench if {
	v := gatehouse.verdict with input as request(["bench"], {
		"kind": "select", "command": "SelectStmt", "cte_writes": true, "writes": true,
		"tables_written": ["public.pgbench_history"], "tables_read": ["public.pgbench_history"],
	})
	outcome(v) == "allow"
}

test_agent_ddl_denied if {
	v := gatehouse.verdict with input as request(["agents"], {"kind": "ddl", "command": "CreateStmt", "tables_written": ["public.t"]})
	outcome(v) == "deny"
	"deny-ddl" in ids(v.deny)
}

test_agent_grant_denied if {
	v := gatehouse.verdict with input as request(["agents"], {"kind": "grant", "command": "GrantStmt"})
	ids(v.deny) == {"deny-grant", "default-deny"}
}

test_copy_to_program_denied if {
	v := gatehouse.verdict with input as request(["breakglass"], {
		"kind": "copy", "command": "CopyStmt", "tables_read": ["clinical.patients"],
		"copy": {"direction": "to", "endpoint": "program", "query": false},
	})
	outcome(v) == "deny"
	"deny-copy-file" in ids(v.deny)
}

test_copy_to_stdout_follows_table_rules if {
	v := gatehouse.verdict with input as request(["agents"], {
		"kind": "copy", "command": "CopyStmt", "tables_read": ["clinical.patients"],
		"copy": {"direction": "to", "endpoint": "stdio", "query": false},
	})
	outcome(v) == "mask"
}

test_file_functions_denied_bare_and_qualified if {
	every f in ["pg_read_file", "pg_catalog.pg_ls_dir", "lo_export"] {
		v := gatehouse.verdict with input as request(["agents"], {"functions": [f]})
		ids(v.deny) == {"deny-file-functions"}
	}
}

test_every_file_function_denied if {
	every f in [
		"pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_ls_replslotdir",
		"pg_catalog.pg_read_binary_file", "pg_stat_file", "lo_import", "pg_catalog.pg_file_write", "pg_logdir_ls",
	] {
		v := gatehouse.verdict with input as request(["breakglass"], {"functions": [f]})
		ids(v.deny) == {"deny-file-functions"}
	}
}

test_sql_text_denied_even_for_breakglass if {
	every groups in [["agents"], ["breakglass"], []] {
		v := gatehouse.verdict with input as request(groups, {"functions": ["query_to_xml"], "runs_sql_text": true})
		ids(v.deny) == {"deny-sql-text"}
	}
}

test_sql_text_fact_decides_not_the_name if {
	# The gateway computes runs_sql_text from the function names; the policy reads only the fact.
	v := gatehouse.verdict with input as request(["agents"], {"functions": ["query_to_xml"]})
	outcome(v) == "allow"
}

test_catalog_data_denied_to_agents if {
	every t in ["pg_catalog.pg_stats", "pg_catalog.pg_statistic", "pg_catalog.pg_stats_ext", "pg_catalog.pg_stat_activity", "pg_catalog.pg_largeobject", "public.pg_stat_statements"] {
		v := gatehouse.verdict with input as request(["agents"], {"tables_read": [t]})
		"deny-catalog-data" in ids(v.deny)
	}
}

test_catalog_data_functions_denied_to_agents if {
	every f in ["pg_stat_get_activity", "pg_catalog.lo_get", "loread", "pg_stat_statements"] {
		v := gatehouse.verdict with input as request(["agents"], {"functions": [f]})
		ids(v.deny) == {"deny-catalog-data"}
	}
}

test_breakglass_reads_catalog_data if {
	v := gatehouse.verdict with input as request(["agents", "breakglass"], {"tables_read": ["pg_catalog.pg_stats"]})
	outcome(v) == "allow"
	ids(v.allow) == {"catalog-read", "statement-data"}
}

test_catalog_secrets_denied_to_everyone if {
	every t in ["pg_catalog.pg_authid", "pg_catalog.pg_shadow", "pg_catalog.pg_user_mappings", "information_schema.user_mapping_options"] {
		v := gatehouse.verdict with input as request(["breakglass"], {"tables_read": [t]})
		ids(v.deny) == {"deny-catalog-secrets"}
	}
}

test_metadata_catalogs_stay_readable if {
	v := gatehouse.verdict with input as request(["agents"], {"tables_read": [
		"pg_catalog.pg_class", "pg_catalog.pg_attribute", "pg_catalog.pg_statistic_ext", "pg_catalog.pg_roles",
		"pg_catalog.pg_largeobject_metadata", "pg_catalog.pg_database", "pg_catalog.pg_type",
	]})
	outcome(v) == "allow"
}

test_user_function_with_same_name_in_other_schema_not_denied if {
	v := gatehouse.verdict with input as request(["agents"], {"functions": ["app.pg_read_file"]})
	outcome(v) == "allow"
}

test_session_statements_allowed if {
	every kind in ["transaction", "show", "discard", "deallocate", "cursor"] {
		v := gatehouse.verdict with input as request([], {"kind": kind})
		outcome(v) == "allow"
	}
}

test_set_allowed if {
	v := gatehouse.verdict with input as request([], {"kind": "set", "setting": "search_path"})
	outcome(v) == "allow"
}

test_set_role_denied if {
	every setting in ["role", "session_authorization"] {
		v := gatehouse.verdict with input as request(["breakglass"], {"kind": "set", "setting": setting})
		ids(v.deny) == {"deny-set-role"}
	}
}

test_role_set_any_other_way_denied if {
	every settings in [["role"], ["session_authorization"], ["*"], ["search_path", "role"]] {
		v := gatehouse.verdict with input as request(["breakglass"], {"functions": ["set_config", "pg_catalog.set_config"], "settings": settings})
		ids(v.deny) == {"deny-set-role"}
	}
}

test_other_settings_and_reset_all_allowed if {
	every settings in [["search_path"], ["all"], ["application_name", "statement_timeout"]] {
		v := gatehouse.verdict with input as request(["agents"], {"settings": settings})
		outcome(v) == "allow"
	}
}

test_agents_no_admin_functions if {
	every f in ["pg_terminate_backend", "pg_catalog.pg_cancel_backend", "pg_reload_conf", "pg_catalog.pg_switch_wal", "pg_advisory_lock", "pg_stat_reset"] {
		v := gatehouse.verdict with input as request(["agents"], {"functions": [f]})
		ids(v.deny) == {"deny-admin-functions"}
	}
}

test_admin_functions_for_breakglass_and_own_functions if {
	v := gatehouse.verdict with input as request(["agents", "breakglass"], {"functions": ["pg_terminate_backend"]})
	outcome(v) == "allow"
	w := gatehouse.verdict with input as request(["agents"], {"functions": ["public.pg_terminate_backend", "pg_advisory_unlock_all"]})
	outcome(w) == "allow"
}

test_bench_reads_and_writes if {
	v := gatehouse.verdict with input as request(["bench"], {
		"kind": "update", "command": "UpdateStmt", "has_where": true, "writes": true,
		"tables_read": ["public.pgbench_accounts"], "tables_written": ["public.pgbench_accounts"],
	})
	outcome(v) == "allow"
	ids(v.allow) == {"bench-read-write", "statement-data"}
}

test_bench_group_cannot_read_clinical if {
	v := gatehouse.verdict with input as request(["bench"], read_patients)
	ids(v.deny) == {"default-deny"}
}

test_agents_cannot_write_visits if {
	v := gatehouse.verdict with input as request(["agents"], {
		"kind": "insert", "command": "InsertStmt", "tables_written": ["clinical.visits"], "writes": true,
	})
	ids(v.deny) == {"default-deny"}
}

test_do_blocks_not_permitted if {
	v := gatehouse.verdict with input as request(["breakglass"], {"kind": "do", "command": "DoStmt"})
	ids(v.deny) == {"default-deny"}
}

test_two_phase_not_permitted if {
	v := gatehouse.verdict with input as request(["breakglass"], {"kind": "two_phase", "command": "TransactionStmt", "writes": true})
	ids(v.deny) == {"default-deny"}
}

test_row_locks_denied_to_agents if {
	lock := {"tables_read": ["clinical.visits"], "columns": {"clinical.visits": ["id"]}, "locks_rows": true}
	v := gatehouse.verdict with input as request(["agents"], lock)
	ids(v.deny) == {"deny-row-locks"}
	b := gatehouse.verdict with input as request(["breakglass"], lock)
	not "deny-row-locks" in ids(b.deny)
}

test_pg_notify_denied_like_notify if {
	every groups in [["agents"], ["breakglass"], ["bench"], []] {
		every f in ["pg_notify", "pg_catalog.pg_notify"] {
			v := gatehouse.verdict with input as request(groups, {"functions": [f]})
			ids(v.deny) == {"deny-notify"}
		}
		n := gatehouse.verdict with input as request(groups, {"kind": "listen", "command": "NotifyStmt"})
		ids(n.deny) == {"default-deny"}
	}
}

test_pg_notify_of_another_schema_is_someones_own if {
	v := gatehouse.verdict with input as request(["agents"], {"functions": ["app.pg_notify"]})
	outcome(v) == "allow"
}

test_pg_notify_allowed_where_the_set_permits_notifications if {
	v := gatehouse.verdict with input as request(["agents"], {"functions": ["pg_notify"]}) with gatehouse.notify_permitted as true
	outcome(v) == "allow"
}

test_agents_change_only_allow_listed_settings if {
	every settings in [
		["application_name"], ["search_path", "statement_timeout"], ["timezone", "datestyle", "extra_float_digits"],
		["transaction"], ["session characteristics"], ["gatehouse.reason"], ["all"], [],
		["$1"], ["$2", "application_name"],
	] {
		v := gatehouse.verdict with input as request(["agents"], {"settings": settings})
		outcome(v) == "allow"
	}
}

test_agents_other_settings_denied_naming_the_setting if {
	every s in ["log_statement", "session_replication_role", "work_mem", "myapp.tenant_id"] {
		v := gatehouse.verdict with input as request(["agents"], {"settings": ["application_name", s]})
		ids(v.deny) == {"deny-agent-settings"}
		some e in v.deny
		e.reason == sprintf("agents may change only the parameters on their allow-list (docs/policies.md); this statement sets application_name, %s", [s])
	}
}

test_agents_hand_written_set_checked_too if {
	v := gatehouse.verdict with input as request(["agents"], {"kind": "set", "setting": "log_statement"})
	ids(v.deny) == {"deny-agent-settings"}
	w := gatehouse.verdict with input as request(["agents"], {"kind": "set", "setting": "search_path"})
	outcome(w) == "allow"
}

test_agents_role_is_deny_set_role_alone if {
	v := gatehouse.verdict with input as request(["agents"], {"settings": ["role"]})
	ids(v.deny) == {"deny-set-role"}
}

test_settings_allow_list_is_for_agents if {
	every groups in [["breakglass"], ["bench"]] {
		v := gatehouse.verdict with input as request(groups, {"settings": ["session_replication_role"]})
		outcome(v) == "allow"
	}
}

test_reviewed_names_only_the_listed_trigger_functions_a_write_fires if {
	v := gatehouse.verdict with input as request(["bench"], {"trigger_functions": ["public.gatehouse_example_reviewed_trigger", "public.unreviewed"]})
	v.reviewed == {"public.gatehouse_example_reviewed_trigger"}
	w := gatehouse.verdict with input as request(["bench"], {"trigger_functions": ["public.unreviewed"]})
	count(w.reviewed) == 0
}
