# Trigger functions reviewed for writes under a mask. Analysts read sales.customers masked, so
# Gatehouse refuses (0A000) any write of theirs that can fire a user trigger function not listed here:
# a trigger's function reads every table raw and could RAISE or write what it read. Review a function
# (Gatehouse's docs/policies.md, "How to review a trigger function"), then list it, pinned to the
# definition you read ("schema.name@sha256:..."): if its body is replaced on the server later, writes
# firing it are refused until it is reviewed and pinned again. A name alone trusts any later body.
# Mirrors the @reviewed annotation in policies/cedar/sales.cedar.
package gatehouse

# sales.touch_forecast (README: "Reviewed trigger functions") stamps updated_at and reads nothing.
reviewed_trigger_functions := {"sales.touch_forecast@sha256:a052892714511f0f0c6ce36f5fc0f1a044a9ddf1b856d8d37148d6f8aacaf9c5"}

# Gatehouse keeps the entries whose function the write fires (statement.trigger_functions).
reviewed contains f if {
	some f in reviewed_trigger_functions
}
