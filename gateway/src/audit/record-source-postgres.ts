// The audit record source over the PostgreSQL audit table (sink postgres): each instance's chain read
// in seq order a page at a time, the chains merged by record time, with the time range, the
// instances and a decision id asked of PostgreSQL (the table's primary key, time and decision_id
// indexes) instead of filtered here.

import pg from 'pg';
import { auditInstances, auditTable, type AuditTable } from './postgres-table.ts';
import { AuditSourceError, type AuditRecordSource, type LineScope, type SourceLine } from './record-source.ts';

export interface PostgresSourceOptions {
  /** libpq URL of the database holding the table (reading needs SELECT). */
  url: string;
  /** schema.table; default gatehouse.audit_log. */
  table?: string;
  /** Only these instances' chains; default every instance in the table. */
  instances?: readonly string[];
  /** Rows per page of one instance; default 5000. */
  pageSize?: number;
}

interface Row {
  instance: string;
  seq: string;
  time: Date;
  line: string;
}

/**
 * The WHERE clause of a scope, for an instance's rows (`$1` the instance, `$2` the types or null,
 * `$3` since, `$4` until). Records after `until` are kept when they are the outcome or approval of a
 * statement before it (found by the decision_id index).
 */
function scopeSql(t: AuditTable): string {
  return `instance = $1
    AND ($2::text[] IS NULL OR type = ANY ($2::text[]))
    AND ($3::timestamptz IS NULL OR time >= $3::timestamptz)
    AND ($4::timestamptz IS NULL OR time < $4::timestamptz
         OR (type <> 'statement' AND decision_id IN (
               SELECT s.decision_id FROM ${t.sql} s
                WHERE s.instance = $1 AND s.type = 'statement' AND s.decision_id IS NOT NULL
                  AND s.time < $4::timestamptz AND ($3::timestamptz IS NULL OR s.time >= $3::timestamptz))))`;
}

export function auditTableSource(options: PostgresSourceOptions): AuditRecordSource {
  const table = auditTable(options.table);
  const qualified = `${table.schema}.${table.name}`;
  const pageSize = options.pageSize ?? 5000;
  const only = options.instances !== undefined && options.instances.length > 0 ? [...options.instances] : null;
  const where = (r: Pick<Row, 'instance' | 'seq'>): string => `${qualified}[${r.instance}]:${r.seq}`;

  async function* lines(scope: LineScope): AsyncGenerator<SourceLine> {
    const client = new pg.Client({ connectionString: options.url, application_name: 'gatehouse:audit-read' });
    client.on('error', () => undefined); // a broken connection fails the query in progress
    const ask = async <T extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<T[]> => {
      try {
        return (await client.query<T>(sql, params)).rows;
      } catch (e) {
        throw new AuditSourceError(`cannot read the audit table ${qualified}: ${(e as Error).message}`, { cause: e });
      }
    };
    try {
      await client.connect();
    } catch (e) {
      throw new AuditSourceError(`cannot connect to the database holding the audit table ${qualified}: ${(e as Error).message}`, { cause: e });
    }
    try {
      const types = scope.types.length === 0 ? null : [...scope.types];
      if (scope.decisionId !== null) {
        // One decision: a probe of the decision_id index, across instances.
        const rows = await ask<Row>(
          `SELECT instance, seq, time, line FROM ${table.sql}
            WHERE decision_id = $1 AND ($2::text[] IS NULL OR type = ANY ($2::text[])) AND ($3::text[] IS NULL OR instance = ANY ($3::text[]))
            ORDER BY time, instance, seq`,
          [scope.decisionId, types, only],
        );
        for (const r of rows) yield { text: r.line, at: where(r) };
        return;
      }
      let instances: string[];
      try {
        instances = only ?? (await auditInstances(client, table));
      } catch (e) {
        throw new AuditSourceError(`cannot read the audit table ${qualified}: ${(e as Error).message}`, { cause: e });
      }
      const sql = `SELECT instance, seq, time, line FROM ${table.sql} WHERE ${scopeSql(table)} AND seq > $5 ORDER BY seq LIMIT $6`;
      const params = (instance: string, after: string): unknown[] => [instance, types, scope.since, scope.until, after, pageSize];
      // Each chain: a page in hand, where the next one starts, whether there is one.
      const chains = instances.map((instance) => ({ instance, rows: [] as Row[], next: 0, after: '0', more: true }));
      const head = async (c: (typeof chains)[number]): Promise<Row | null> => {
        if (c.next >= c.rows.length && c.more) {
          c.rows = await ask<Row>(sql, params(c.instance, c.after));
          c.next = 0;
          c.more = c.rows.length === pageSize;
          if (c.rows.length > 0) c.after = c.rows.at(-1)!.seq;
        }
        return c.rows[c.next] ?? null;
      };
      for (;;) {
        let first: (typeof chains)[number] | null = null;
        let firstRow: Row | null = null;
        for (const c of chains) {
          const r = await head(c);
          if (r === null) continue;
          if (firstRow === null || r.time.getTime() < firstRow.time.getTime()) {
            first = c;
            firstRow = r;
          }
        }
        if (first === null || firstRow === null) return;
        first.next++;
        yield { text: firstRow.line, at: where(firstRow) };
      }
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  return {
    name: only === null ? qualified : `${qualified} (instance ${only.join(', ')})`,
    lines,
  };
}
