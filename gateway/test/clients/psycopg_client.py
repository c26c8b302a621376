#!/usr/bin/python3
"""A psycopg 3 client that Gatehouse's integration tests run against a real gateway.

psycopg 3 binds parameters on the server (extended protocol through libpq), can prepare
statements (prepare=True), asks for binary results on a binary cursor, and opens a
transaction block implicitly when autocommit is off. Everything it sees is printed as one
JSON document on standard output for gateway/test/clients-psycopg.test.ts.

Usage: GATEHOUSE_TOKEN=<jwt> /usr/bin/python3 psycopg_client.py <gateway port>
"""

import datetime
import json
import os
import sys

import psycopg


def fail(message):
    print("psycopg client: " + message, file=sys.stderr)
    sys.exit(1)


def plain(value):
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return value


def rows_of(cur):
    return [[plain(v) for v in row] for row in cur.fetchall()]


def sqlstate_of(run):
    """Runs a callable; returns None when it succeeded, else the error's SQLSTATE."""
    try:
        run()
        return None
    except psycopg.Error as e:
        return e.sqlstate or "no-sqlstate: " + str(e)


def formats_of(cur):
    res = cur.pgresult
    return [res.fformat(i) for i in range(res.nfields)]


def outcome_of(error):
    return {"error": type(error).__name__, "sqlstate": error.sqlstate}


def run_pipeline(conn, failing):
    """Allowed, masked, failing, allowed in one pipeline; each statement's rows or error."""
    out = []
    cursors = []
    try:
        with conn.pipeline():
            cursors.append(conn.execute("SELECT id FROM clinical.visits WHERE id = %s", (1,)))
            cursors.append(conn.execute("SELECT ssn, phone FROM clinical.patients WHERE id = %s", (2,)))
            cursors.append(conn.execute(failing))
            cursors.append(conn.execute("SELECT %s::int", (4,)))
    except psycopg.Error as e:
        out.append(outcome_of(e))
    for c in cursors:
        try:
            out.append({"rows": rows_of(c)})
        except psycopg.Error as e:
            out.append(outcome_of(e))
    return out


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else int(os.environ.get("GATEHOUSE_PORT", "0"))
    token = os.environ.get("GATEHOUSE_TOKEN")
    if not port or not token:
        fail("usage: GATEHOUSE_TOKEN=<jwt> psycopg_client.py <port>")
    params = dict(host="127.0.0.1", port=port, dbname="postgres", user="agent", password=token, sslmode="disable", connect_timeout=10)
    report = {"psycopg": psycopg.__version__, "libpq": psycopg.pq.version(), "impl": psycopg.pq.__impl__}

    with psycopg.connect(autocommit=True, **params) as conn:
        # A plain allowed SELECT (no parameters: still the extended protocol in psycopg 3).
        cur = conn.execute("SELECT id, patient_id, visit_date FROM clinical.visits WHERE id <= 5 ORDER BY id")
        report["allowed"] = rows_of(cur)

        # A masked SELECT with a server-side parameter.
        masked = "SELECT id, mrn, first_name, last_name, ssn, phone, email, address, date_of_birth FROM clinical.patients WHERE id = %s"
        cur = conn.execute(masked, (3,))
        report["masked_param"] = rows_of(cur)

        # The same statement prepared on the server (named statement), executed for ids 1..8.
        report["masked_prepared"] = []
        for i in range(1, 9):
            cur = conn.execute(masked, (i,), prepare=True)
            report["masked_prepared"].extend(rows_of(cur))
        report["prepared_names"] = sorted(
            r[0] for r in conn.execute("SELECT name FROM pg_catalog.pg_prepared_statements").fetchall()
        )

        # A binary cursor: results in binary format (int4, date, text), masks must still apply.
        with conn.cursor(binary=True) as bcur:
            bcur.execute(
                "SELECT id, ssn, phone, email, address, date_of_birth, length(diagnosis_code) AS ssn_len FROM clinical.patients WHERE id <= %s ORDER BY id",
                (4,),
            )
            report["binary_formats"] = formats_of(bcur)
            report["binary_masked"] = rows_of(bcur)
            bcur.execute("SELECT id, patient_id, visit_date FROM clinical.visits WHERE id <= %s ORDER BY id", (5,))
            report["binary_allowed_formats"] = formats_of(bcur)
            report["binary_allowed"] = rows_of(bcur)

        # A denied DROP: the error's SQLSTATE, and the connection goes on.
        report["denied_drop"] = sqlstate_of(lambda: conn.execute("DROP TABLE clinical.visits"))
        report["denied_param"] = sqlstate_of(lambda: conn.execute("SELECT pg_read_file(%s)", ("/etc/passwd",)))
        report["after_denied"] = conn.execute("SELECT %s::int + 1", (41,)).fetchone()[0]

        # A pipeline (libpq pipeline mode): allowed, masked, denied, then more, one Sync.
        report["pipeline"] = run_pipeline(conn, "DROP TABLE clinical.visits")
        report["after_pipeline"] = conn.execute("SELECT 7").fetchone()[0]

    if len(sys.argv) > 2:
        # The same pipeline straight to PostgreSQL, with a statement failing at Parse in the
        # denied one's place: through Gatehouse it must fail the way the database's does.
        with psycopg.connect(sys.argv[2], autocommit=True) as direct:
            report["pipeline_direct"] = run_pipeline(direct, "SELECT * FROM clinical.no_such_table")

    # Transaction semantics with autocommit off: psycopg sends BEGIN before the first statement.
    with psycopg.connect(autocommit=False, **params) as conn:
        tx = []
        tx.append(sqlstate_of(lambda: conn.execute("SELECT count(*) FROM clinical.visits")))
        tx.append(str(conn.info.transaction_status.name))
        tx.append(sqlstate_of(lambda: conn.execute("DROP TABLE clinical.visits")))
        tx.append(str(conn.info.transaction_status.name))
        tx.append(sqlstate_of(lambda: conn.execute("SELECT 1")))
        conn.rollback()
        tx.append(str(conn.info.transaction_status.name))
        tx.append(conn.execute("SELECT ssn FROM clinical.patients WHERE id = %s", (1,)).fetchone()[0])
        conn.commit()
        report["transaction"] = tx

        # A server-side (named) cursor: DECLARE, then FETCH itersize rows at a time, on an
        # unmasked table and on a masked one (its DECLARE is rewritten, so FETCH returns masked rows).
        with conn.cursor(name="visits_cursor") as named:
            named.itersize = 3
            named.execute("SELECT id, patient_id, visit_date FROM clinical.visits WHERE id <= %s ORDER BY id", (5,))
            report["named_cursor"] = [[plain(v) for v in row] for row in named]
        conn.rollback()
        with conn.cursor(name="patients_cursor") as named:
            named.itersize = 2
            named.execute("SELECT id, ssn FROM clinical.patients WHERE id <= %s ORDER BY id", (3,))
            report["named_cursor_masked"] = [[plain(v) for v in row] for row in named]
        conn.rollback()

        # Client-side binding (a simple Query with the values inlined) and executemany(returning=True).
        ccur = psycopg.ClientCursor(conn)
        ccur.execute("SELECT id, ssn, phone FROM clinical.patients WHERE id = %s", (2,))
        report["client_cursor"] = rows_of(ccur)
        many = conn.cursor()
        many.executemany("SELECT id, ssn FROM clinical.patients WHERE id = %s", [(1,), (2,), (3,)], returning=True)
        sets = []
        while True:
            sets.append(rows_of(many))
            if not many.nextset():
                break
        report["executemany"] = sets
        conn.rollback()

    print(json.dumps(report))


if __name__ == "__main__":
    main()
