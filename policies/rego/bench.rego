# pgbench's tables are free to read and write for the bench group. Mirrors policies/cedar/bench.cedar.
package gatehouse

allow contains {"id": "bench-read-write", "reason": "pgbench tables", "on": "read", "table": t} if {
	member("bench")
	some t in input.statement.tables_read
	bench_table(t)
}

allow contains {"id": "bench-read-write", "reason": "pgbench tables", "on": "write", "table": t} if {
	member("bench")
	some t in input.statement.tables_written
	bench_table(t)
}

bench_table(t) if {
	schema_of(t) == "public"
	startswith(name_of(t), "pgbench_")
}

# The masking benchmark (gateway/src/bench/masked-select.ts): the bench_masked group reads the
# benchmark's people table with three columns masked at the source.
bench_people_masks := {"ssn": "redact", "email": "hash", "phone": "last4"}

mask contains {"id": "bench-masked", "reason": "masking benchmark", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("bench_masked")
	some t in input.statement.tables_read
	t == "public.pgbench_masked_people"
	some column, strategy in bench_people_masks
}

# The same three columns with strategies that need no key (no per-row keyed function in
# PostgreSQL), so the bench can show what the keyed hash costs on its own.
bench_people_unkeyed_masks := {"ssn": "redact", "email": "null", "phone": "last4"}

mask contains {"id": "bench-masked-unkeyed", "reason": "masking benchmark, no keyed strategy", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("bench_masked_unkeyed")
	some t in input.statement.tables_read
	t == "public.pgbench_masked_people"
	some column, strategy in bench_people_unkeyed_masks
}
