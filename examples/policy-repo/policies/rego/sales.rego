# The sales schema: analysts read it, with customers' contact details masked; their changes to
# forecasts wait for approval; nothing else is written through Gatehouse. Mirrors policies/cedar/sales.cedar.
package gatehouse

customer_masks := {"email": "hash", "phone": "last4"}

mask contains {"id": "analysts-read-customers", "reason": "customer contact details masked", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("analysts")
	some t in input.statement.tables_read
	t == "sales.customers"
	some column, strategy in customer_masks
}

allow contains {"id": "analysts-read-sales", "reason": "sales data", "on": "read", "table": t} if {
	member("analysts")
	some t in input.statement.tables_read
	schema_of(t) == "sales"
	t != "sales.customers"
}

# Answered by one sales lead within the hour (docs/approvals.md has every field).
approve contains {"id": "analysts-write-forecasts", "reason": "forecast changes need a second pair of eyes", "on": "write", "table": t, "approvers": ["sales-leads"], "ttl": "1h"} if {
	member("analysts")
	some t in input.statement.tables_written
	t == "sales.forecasts"
}
