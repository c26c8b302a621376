# The system catalogs are readable by every authenticated identity (psql's \d needs them).
# Mirrors policies/cedar/catalog.cedar.
package gatehouse

allow contains {"id": "catalog-read", "reason": "system catalog", "on": "read", "table": t} if {
	some t in input.statement.tables_read
	schema_of(t) in {"pg_catalog", "information_schema"}
}
