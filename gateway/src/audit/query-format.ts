// How `gatehouse audit query` prints rows: an aligned table for people, CSV for spreadsheets,
// NDJSON for scripts, and OCSF 1.1 "Datastore Activity" (class 6005) events for SIEMs.

import type { AccessRow } from './query.ts';

export const QUERY_FORMATS = ['table', 'csv', 'ndjson', 'ocsf'] as const;
export type QueryFormat = (typeof QUERY_FORMATS)[number];

/** The outcome in a few words: ok (rows), error SQLSTATE, refused SQLSTATE, aborted, or "no outcome". */
export function outcomeText(row: Pick<AccessRow, 'outcome'>): string {
  const o = row.outcome;
  if (o === null) return 'no outcome';
  switch (o.status) {
    case 'ok':
      return o.rows === null ? `ok ${o.command_tag ?? ''}`.trim() : `ok ${o.rows} rows`;
    case 'error':
      return `error ${o.sqlstate}`;
    case 'refused':
      return `refused ${o.sqlstate}`;
    case 'aborted':
      return 'aborted';
  }
}

function who(row: AccessRow): string {
  return row.identity?.name ?? row.identity?.subject ?? '(no identity)';
}

function decisionText(row: AccessRow): string {
  return row.approval === null ? row.decision : `${row.decision} (${row.approval})`;
}

const COLUMNS: Array<{ title: string; value: (r: AccessRow) => string }> = [
  { title: 'time', value: (r) => r.time },
  { title: 'identity', value: who },
  { title: 'decision', value: decisionText },
  { title: 'outcome', value: outcomeText },
  { title: 'tables', value: (r) => [...new Set([...r.tables_read, ...r.tables_written])].join(' ') },
  { title: 'masked', value: (r) => r.masked.join(' ') },
  { title: 'revision', value: (r) => (r.revision === null ? '' : r.revision.startsWith('dir:') ? r.revision.slice(0, 16) : r.revision.slice(0, 12)) },
  { title: 'statement', value: (r) => r.statement.replace(/\s+/g, ' ') },
];

/** Control characters (C0, DEL, C1) and bidirectional overrides shown as \\u escapes: a terminal would act on them. */
export function visible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An aligned text table; the statement column is cut at `width` characters. */
export function formatTable(rows: AccessRow[], width = 60): string {
  const cells = rows.map((r) => COLUMNS.map((c, i) => {
    const v = visible(c.value(r));
    return i === COLUMNS.length - 1 && v.length > width ? `${v.slice(0, width - 1)}…` : v;
  }));
  const widths = COLUMNS.map((c, i) => Math.max(c.title.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]): string => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(COLUMNS.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}

const CSV_FIELDS: Array<{ title: string; value: (r: AccessRow) => string }> = [
  { title: 'time', value: (r) => r.time },
  { title: 'decision_id', value: (r) => r.decision_id },
  { title: 'session_id', value: (r) => r.session_id },
  { title: 'subject', value: (r) => r.identity?.subject ?? '' },
  { title: 'issuer', value: (r) => r.identity?.issuer ?? '' },
  { title: 'name', value: (r) => r.identity?.name ?? '' },
  { title: 'groups', value: (r) => (r.identity?.groups ?? []).join(' ') },
  { title: 'client_address', value: (r) => r.client_address },
  { title: 'application_name', value: (r) => r.application_name },
  { title: 'database', value: (r) => r.database ?? '' },
  { title: 'kind', value: (r) => r.kind ?? '' },
  { title: 'command', value: (r) => r.command ?? '' },
  { title: 'decision', value: (r) => r.decision },
  { title: 'approval', value: (r) => r.approval ?? '' },
  { title: 'outcome', value: outcomeText },
  { title: 'tables_read', value: (r) => r.tables_read.join(' ') },
  { title: 'tables_written', value: (r) => r.tables_written.join(' ') },
  { title: 'columns', value: (r) => r.columns.join(' ') },
  { title: 'masked', value: (r) => r.masked.join(' ') },
  { title: 'policies', value: (r) => r.policies.join(' ') },
  { title: 'reason', value: (r) => r.reason },
  { title: 'engine', value: (r) => r.engine ?? '' },
  { title: 'revision', value: (r) => r.revision ?? '' },
  { title: 'fingerprint', value: (r) => r.fingerprint },
  { title: 'statement', value: (r) => r.statement },
  { title: 'at', value: (r) => r.at },
];

/**
 * One CSV field (RFC 4180 quoting). A value a spreadsheet would run as a formula (= + - @, tab,
 * carriage return first) is prefixed with a quote: the log holds text agents chose.
 */
export function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== value ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function csvHeader(): string {
  return `${CSV_FIELDS.map((f) => f.title).join(',')}\r\n`;
}

export function csvRow(row: AccessRow): string {
  return `${CSV_FIELDS.map((f) => csvField(f.value(row))).join(',')}\r\n`;
}

export function ndjsonRow(row: AccessRow): string {
  return `${JSON.stringify(row)}\n`;
}

/** OCSF Datastore Activity's activity_id for the statement's kind (sql/facts.ts). */
function activityOf(row: AccessRow): { id: number; name: string } {
  switch (row.kind) {
    case 'select':
    case 'copy':
    case 'explain':
    case 'show':
    case 'cursor':
    case 'execute':
      return row.tables_written.length > 0 ? { id: 5, name: 'Write' } : { id: 4, name: 'Query' };
    case 'update':
    case 'merge':
      return { id: 2, name: 'Update' };
    case 'insert':
      return { id: 6, name: 'Create' };
    case 'delete':
      return { id: 7, name: 'Delete' };
    default:
      return { id: 99, name: 'Other' };
  }
}

const CLASS_UID = 6005;
const CATEGORY_UID = 6;

/** The row as an OCSF 1.1.0 Datastore Activity event (class 6005), one JSON object. */
export function ocsfEvent(row: AccessRow, productVersion: string): Record<string, unknown> {
  const activity = activityOf(row);
  const allowed = row.decision === 'allow' || row.decision === 'mask' || (row.decision === 'approve' && row.approval === 'approved');
  const o = row.outcome;
  const succeeded = o !== null && o.status === 'ok';
  const status = o === null ? { status_id: 0, status: 'Unknown' } : succeeded ? { status_id: 1, status: 'Success' } : { status_id: 2, status: 'Failure' };
  const statusCode = o !== null && (o.status === 'error' || o.status === 'refused') ? { status_code: o.sqlstate } : {};
  const tables = [...new Set([...row.tables_read, ...row.tables_written])];
  return {
    class_uid: CLASS_UID,
    class_name: 'Datastore Activity',
    category_uid: CATEGORY_UID,
    category_name: 'Application Activity',
    activity_id: activity.id,
    activity_name: activity.name,
    type_uid: CLASS_UID * 100 + activity.id,
    type_name: `Datastore Activity: ${activity.name}`,
    time: Date.parse(row.time),
    severity_id: allowed ? 1 : 3,
    severity: allowed ? 'Informational' : 'Medium',
    ...status,
    ...statusCode,
    status_detail: outcomeText(row),
    action_id: allowed ? 1 : 2,
    action: allowed ? 'Allowed' : 'Denied',
    disposition_id: allowed ? 1 : 2,
    disposition: allowed ? 'Allowed' : 'Blocked',
    message: `${row.decision}: ${row.reason}`,
    metadata: {
      version: '1.1.0',
      uid: row.decision_id,
      correlation_uid: row.session_id,
      product: { name: 'Gatehouse', vendor_name: 'Gatehouse', version: productVersion },
      log_name: row.at.replace(/:\d+$/, ''),
    },
    actor: {
      user: {
        uid: row.identity?.subject ?? null,
        name: row.identity?.name ?? row.identity?.subject ?? null,
        groups: (row.identity?.groups ?? []).map((name) => ({ name })),
        ...(row.identity ? { domain: row.identity.issuer } : {}),
      },
      session: { uid: row.session_id },
      app_name: row.application_name,
    },
    src_endpoint: row.client_address === '' ? {} : { ip: row.client_address },
    database: { name: row.database, type: 'PostgreSQL' },
    type_id: tables.length > 0 ? 3 : 1,
    type: tables.length > 0 ? 'Table' : 'Database',
    ...(tables.length > 0 ? { table: { name: tables[0] } } : {}),
    query_info: { query_string: row.statement, uid: row.fingerprint },
    policy: { uid: row.revision, name: row.policies.join(' '), desc: row.reason },
    unmapped: {
      decision: row.decision,
      approval: row.approval,
      tables,
      columns: row.columns,
      masked: row.masked,
      engine: row.engine,
    },
  };
}
