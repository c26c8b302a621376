# Functions that are not built in (SQL or PL functions outside pg_catalog and information_schema, as
# the database's catalog says: input.statement.user_functions) read whatever tables they like, masked
# ones raw, whatever the statement's own tables are. Agents may call only those listed here.
# Mirrors policies/cedar/routines.cedar.
package gatehouse

# Add "schema.function" names an agent may call (reviewed: they read nothing masked).
agent_user_functions := {"public.gatehouse_example_reviewed_function"}

deny contains {"id": "deny-user-functions", "reason": "agents may call only reviewed user-defined functions: a function you define can read masked tables raw"} if {
	member("agents")
	not member("breakglass")
	some f in input.statement.user_functions
	not f in agent_user_functions
}

# A write fires the enabled user triggers of the tables it writes (input.statement.triggers; their
# functions: input.statement.trigger_functions), and a trigger's function reads any table raw and can
# RAISE what it read. Agents may write only where every trigger that can fire runs a reviewed function.
# Add "schema.function" names here once reviewed (they read nothing masked, or raise nothing they read).
agent_trigger_functions := {"public.gatehouse_example_reviewed_trigger"}

# The same list, told to Gatehouse (the verdict's "reviewed" set): for an identity under a mask
# (any identity that reads something masked or may not read some table), Gatehouse itself refuses a
# write that can fire a user trigger function not in it, whatever the rules here say (red-team round
# 10, R10-6; docs/data-path.md).
reviewed contains f if {
	some f in input.statement.trigger_functions
	f in agent_trigger_functions
}

deny contains {"id": "deny-unreviewed-triggers", "reason": "agents may write only tables whose triggers run reviewed functions: a trigger's function reads masked tables raw"} if {
	member("agents")
	not member("breakglass")
	some f in input.statement.trigger_functions
	not f in agent_trigger_functions
}
