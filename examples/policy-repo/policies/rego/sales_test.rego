# Unit tests for the Rego policies: `opa test policies/rego` (gatehouse policy test runs them too).
package gatehouse_test

import data.gatehouse

read(groups, tables) := {
	"identity": {"subject": "ana", "issuer": "https://idp.example", "groups": groups, "roles": [], "name": null},
	"statement": {"kind": "select", "tables_read": tables, "tables_written": [], "functions": [], "setting": null},
}

test_analysts_get_customers_masked if {
	v := gatehouse.verdict with input as read(["analysts"], ["sales.customers"])
	count(v.deny) == 0
	{m.column | some m in v.mask} == {"email", "phone"}
}

test_others_are_denied if {
	v := gatehouse.verdict with input as read(["support"], ["sales.orders"])
	{d.id | some d in v.deny} == {"default-deny"}
}

session(settings, functions) := {
	"identity": {"subject": "ana", "issuer": "https://idp.example", "groups": ["analysts"], "roles": [], "name": null},
	"statement": {"kind": "set", "tables_read": [], "tables_written": [], "functions": functions, "setting": null, "settings": settings},
}

test_settings_off_the_allow_list_are_denied if {
	v := gatehouse.verdict with input as session(["search_path", "log_statement"], [])
	{d.id | some d in v.deny} == {"deny-settings"}
	w := gatehouse.verdict with input as session(["search_path", "statement_timeout"], [])
	count(w.deny) == 0
}

test_pg_notify_is_denied if {
	v := gatehouse.verdict with input as session([], ["pg_catalog.pg_notify"])
	{d.id | some d in v.deny} == {"deny-notify"}
}

test_reviewed_pins_the_forecast_trigger if {
	v := gatehouse.verdict with input as {
		"identity": {"subject": "ana", "groups": ["analysts"], "roles": []},
		"statement": {"kind": "update", "tables_read": [], "tables_written": ["sales.forecasts"], "trigger_functions": ["sales.touch_forecast"]},
	}
	v.reviewed == {"sales.touch_forecast@sha256:a052892714511f0f0c6ce36f5fc0f1a044a9ddf1b856d8d37148d6f8aacaf9c5"}
}
