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
