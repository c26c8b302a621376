// A pgx (jackc/pgx/v5) client that Gatehouse's integration tests run against a real gateway.
// pgx speaks only the extended protocol: it prepares and describes each statement once, caches
// it, and asks for BINARY results for the types it knows (int4, date, ...). Everything it sees
// is printed as one JSON document on standard output for gateway/test/clients-pgx.test.ts.
//
// Usage: GATEHOUSE_TOKEN=<jwt> go run . <gateway port> [<direct libpq URL>]
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

type outcome struct {
	OK    bool    `json:"ok"`
	Code  string  `json:"code,omitempty"`
	Rows  [][]any `json:"rows,omitempty"`
	Error string  `json:"error,omitempty"`
	Tag   string  `json:"tag,omitempty"`
}

type report struct {
	Allowed         []map[string]any `json:"allowed"`
	AllowedFormats  []int16          `json:"allowed_formats"`
	RawBinary       [][]string       `json:"raw_binary"`
	MaskedScan      []map[string]any `json:"masked_scan"`
	MaskedFormats   []int16          `json:"masked_formats"`
	DeniedCode      string           `json:"denied_code"`
	AfterDenied     int32            `json:"after_denied"`
	Batch           []outcome        `json:"batch"`
	BatchDirect     []outcome        `json:"batch_direct,omitempty"`
	ExecBatch       []outcome        `json:"exec_batch"`
	ExecBatchDirect []outcome        `json:"exec_batch_direct,omitempty"`
	CachedBatch     []outcome        `json:"cached_batch"`
	TxCodes         []string         `json:"tx_codes"`
	PreparedAfter   map[string]any   `json:"prepared_after"`
	SimpleProtocol  [][]any          `json:"simple_protocol"`
}

func codeOf(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	if err == nil {
		return ""
	}
	return "no-sqlstate: " + err.Error()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "pgx client: "+format+"\n", args...)
	os.Exit(1)
}

func dateString(t time.Time) string { return t.Format("2006-01-02") }

// optDate is a nullable date (a masked date of birth may come back NULL) as an ISO string or nil.
func optDate(t *time.Time) any {
	if t == nil {
		return nil
	}
	return dateString(*t)
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: GATEHOUSE_TOKEN=<jwt> %s <port> [<direct url>]", os.Args[0])
	}
	port := os.Args[1]
	token := os.Getenv("GATEHOUSE_TOKEN")
	if token == "" {
		fail("GATEHOUSE_TOKEN is not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%s user=agent dbname=postgres sslmode=disable", port))
	if err != nil {
		fail("config: %v", err)
	}
	cfg.Password = token
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		fail("connect: %v", err)
	}
	defer conn.Close(context.Background())

	r := report{}

	// 1. An allowed read of binary types (int4, date): every row round-trips exactly.
	rows, err := conn.Query(ctx, "SELECT id, patient_id, visit_date FROM clinical.visits WHERE id <= $1 ORDER BY id", 5)
	if err != nil {
		fail("allowed query: %v", err)
	}
	for _, fd := range rows.FieldDescriptions() {
		r.AllowedFormats = append(r.AllowedFormats, fd.Format)
	}
	for rows.Next() {
		var id, patientID int32
		var visitDate time.Time
		if err := rows.Scan(&id, &patientID, &visitDate); err != nil {
			fail("allowed scan: %v", err)
		}
		r.Allowed = append(r.Allowed, map[string]any{"id": id, "patient_id": patientID, "visit_date": dateString(visitDate)})
	}
	if err := rows.Err(); err != nil {
		fail("allowed rows: %v", err)
	}

	// 2. The raw binary bytes pgconn receives for int4 / date / text of a masked table.
	res := conn.PgConn().ExecParams(ctx, "SELECT id, date_of_birth, ssn, length(diagnosis_code) FROM clinical.patients WHERE id <= $1 ORDER BY id",
		[][]byte{[]byte("3")}, nil, []int16{0}, []int16{1, 1, 1, 1}).Read()
	if res.Err != nil {
		fail("raw binary: %v", res.Err)
	}
	for _, row := range res.Rows {
		out := []string{}
		for _, v := range row {
			if v == nil {
				out = append(out, "NULL")
			} else {
				out = append(out, hex.EncodeToString(v))
			}
		}
		r.RawBinary = append(r.RawBinary, out)
	}

	// 3. QueryRow(...).Scan on masked columns, ten times: the statement is prepared once and
	// then served from pgx's statement cache; masks must apply on every execution.
	const masked = "SELECT id, mrn, first_name, last_name, ssn, phone, email, address, date_of_birth, length(diagnosis_code) AS ssn_len FROM clinical.patients WHERE id = $1"
	for i := 1; i <= 10; i++ {
		var id int32
		var mrn, first, last, ssn, phone, email string
		var address *string
		var dob *time.Time
		var ssnLen *int32
		if err := conn.QueryRow(ctx, masked, int32(i)).Scan(&id, &mrn, &first, &last, &ssn, &phone, &email, &address, &dob, &ssnLen); err != nil {
			fail("masked scan %d: %v", i, err)
		}
		r.MaskedScan = append(r.MaskedScan, map[string]any{
			"id": id, "mrn": mrn, "first_name": first, "last_name": last, "ssn": ssn, "phone": phone, "email": email,
			"address": address, "date_of_birth": optDate(dob), "ssn_len": ssnLen,
		})
	}
	mrows, err := conn.Query(ctx, masked, int32(1))
	if err != nil {
		fail("masked formats: %v", err)
	}
	for _, fd := range mrows.FieldDescriptions() {
		r.MaskedFormats = append(r.MaskedFormats, fd.Format)
	}
	mrows.Close()

	// 4. A denied statement: *pgconn.PgError with Gatehouse's SQLSTATE; the connection goes on.
	_, err = conn.Exec(ctx, "DROP TABLE clinical.visits")
	r.DeniedCode = codeOf(err)
	if err := conn.QueryRow(ctx, "SELECT $1::int4 + 1", int32(41)).Scan(&r.AfterDenied); err != nil {
		fail("after denied: %v", err)
	}

	// 5. Batches mixing allowed, masked and denied statements. In pgx's default mode (cache
	// statements) every new statement is prepared first (Parse + Describe for all, one Sync), so
	// a denial fails the whole batch before anything runs. In exec mode each statement is
	// Parse/Bind/Describe/Execute in one pipeline with a single Sync: the statements before the
	// denied one run, the denied one errors, the rest are skipped.
	const denied = "DROP TABLE clinical.visits"
	r.Batch = runBatch(ctx, conn, denied)
	execCfg := cfg.Copy()
	execCfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	execConn, err := pgx.ConnectConfig(ctx, execCfg)
	if err != nil {
		fail("connect (exec mode): %v", err)
	}
	r.ExecBatch = runBatch(ctx, execConn, denied)
	execConn.Close(ctx)
	if len(os.Args) > 2 {
		// The same batches straight to PostgreSQL, with a statement that fails at Parse in the
		// denied one's place: Gatehouse's batch must fail the way the database's does.
		const failing = "SELECT * FROM clinical.no_such_table"
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeExec} {
			directCfg, err := pgx.ParseConfig(os.Args[2])
			if err != nil {
				fail("direct config: %v", err)
			}
			directCfg.DefaultQueryExecMode = mode
			direct, err := pgx.ConnectConfig(ctx, directCfg)
			if err != nil {
				fail("direct connect: %v", err)
			}
			if mode == pgx.QueryExecModeExec {
				r.ExecBatchDirect = runBatch(ctx, direct, failing)
			} else {
				r.BatchDirect = runBatch(ctx, direct, failing)
			}
			direct.Close(ctx)
		}
	}
	// Every statement already prepared: Bind/Execute only (no Describe), one Sync for all.
	r.CachedBatch = runBatch(ctx, conn, "")

	// 6. A denial inside a transaction aborts it until ROLLBACK.
	tx, err := conn.Begin(ctx)
	if err != nil {
		fail("begin: %v", err)
	}
	var one int32
	r.TxCodes = append(r.TxCodes, codeOf(tx.QueryRow(ctx, "SELECT count(*)::int4 FROM clinical.visits WHERE id = $1", int32(1)).Scan(&one)))
	_, err = tx.Exec(ctx, "SELECT pg_read_file($1)", "/etc/passwd")
	r.TxCodes = append(r.TxCodes, codeOf(err))
	r.TxCodes = append(r.TxCodes, codeOf(tx.QueryRow(ctx, "SELECT $1::int4", int32(1)).Scan(&one)))
	r.TxCodes = append(r.TxCodes, codeOf(tx.Rollback(ctx)))

	// 7. After all that, the cached masked statement still works and is still masked.
	var ssn, phone string
	if err := conn.QueryRow(ctx, "SELECT ssn, phone FROM clinical.patients WHERE id = $1", int32(2)).Scan(&ssn, &phone); err != nil {
		fail("prepared after: %v", err)
	}
	r.PreparedAfter = map[string]any{"ssn": ssn, "phone": phone}

	// 8. pgx's simple-protocol mode (client-side interpolation, a simple Query) is masked too.
	simpleCfg := cfg.Copy()
	simpleCfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	simpleConn, err := pgx.ConnectConfig(ctx, simpleCfg)
	if err != nil {
		fail("connect (simple protocol): %v", err)
	}
	srows, err := simpleConn.Query(ctx, "SELECT id, ssn, phone, date_of_birth FROM clinical.patients WHERE id <= $1 ORDER BY id", int32(3))
	if err != nil {
		fail("simple protocol: %v", err)
	}
	for srows.Next() {
		var id int32
		var ssn, phone string
		var dob *time.Time
		if err := srows.Scan(&id, &ssn, &phone, &dob); err != nil {
			fail("simple protocol scan: %v", err)
		}
		r.SimpleProtocol = append(r.SimpleProtocol, []any{id, ssn, phone, optDate(dob)})
	}
	if err := srows.Err(); err != nil {
		fail("simple protocol rows: %v", err)
	}
	simpleConn.Close(ctx)

	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(r); err != nil {
		fail("encode: %v", err)
	}
}

// runBatch sends allowed, masked, failing (when not empty), masked again and allowed statements as
// one pgx.Batch and reports each statement's rows or SQLSTATE.
func runBatch(ctx context.Context, conn *pgx.Conn, failing string) []outcome {
	batch := &pgx.Batch{}
	batch.Queue("SELECT id, visit_date FROM clinical.visits WHERE id = $1", int32(2))
	batch.Queue("SELECT id, ssn, phone, date_of_birth FROM clinical.patients WHERE id = $1", int32(4))
	if failing != "" {
		batch.Queue(failing)
	}
	batch.Queue("SELECT id, first_name, diagnosis_code IS NOT NULL FROM clinical.patients WHERE id = $1", int32(5))
	batch.Queue("SELECT $1::int4 * 2", int32(21))
	br := conn.SendBatch(ctx, batch)
	out := []outcome{}
	for i := 0; i < batch.Len(); i++ {
		rows, err := br.Query()
		o := outcome{}
		if err == nil {
			for rows.Next() {
				vals, verr := rows.Values()
				if verr != nil {
					err = verr
					break
				}
				row := []any{}
				for _, v := range vals {
					if t, ok := v.(time.Time); ok {
						row = append(row, dateString(t))
					} else {
						row = append(row, v)
					}
				}
				o.Rows = append(o.Rows, row)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
			o.Tag = rows.CommandTag().String()
		}
		o.OK = err == nil
		if err != nil {
			o.Code = codeOf(err)
			o.Error = err.Error()
		}
		out = append(out, o)
	}
	if err := br.Close(); err != nil {
		out = append(out, outcome{OK: false, Code: codeOf(err), Error: "close: " + err.Error()})
	}
	// The connection must still be usable after the batch.
	var n int32
	if err := conn.QueryRow(ctx, "SELECT "+strconv.Itoa(7)+"::int4").Scan(&n); err != nil || n != 7 {
		out = append(out, outcome{OK: false, Code: codeOf(err), Error: fmt.Sprintf("after batch: %v %d", err, n)})
	}
	return out
}
