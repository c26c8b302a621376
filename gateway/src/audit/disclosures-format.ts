// How `gatehouse audit disclosures` prints accesses: an aligned table for people, CSV for
// spreadsheets, NDJSON for scripts.

import type { Disclosure } from './disclosures.ts';
import { csvField, outcomeText, visible } from './query-format.ts';

export const DISCLOSURE_FORMATS = ['table', 'csv', 'ndjson'] as const;
export type DisclosureFormat = (typeof DISCLOSURE_FORMATS)[number];

function who(d: Disclosure): string {
  if (d.identity === null) return '(no identity)';
  return d.identity.name === null ? `${d.identity.subject} (${d.identity.issuer})` : `${d.identity.name} <${d.identity.subject}> (${d.identity.issuer})`;
}

const FIELDS: Array<{ title: string; value: (d: Disclosure) => string; table?: boolean }> = [
  { title: 'time', value: (d) => d.time, table: true },
  { title: 'identity', value: who, table: true },
  { title: 'subject', value: (d) => d.identity?.subject ?? '' },
  { title: 'issuer', value: (d) => d.identity?.issuer ?? '' },
  { title: 'name', value: (d) => d.identity?.name ?? '' },
  { title: 'match', value: (d) => d.match, table: true },
  { title: 'kind', value: (d) => d.kind ?? '', table: true },
  { title: 'tables', value: (d) => d.tables.join(' '), table: true },
  { title: 'columns', value: (d) => d.columns.join(' '), table: true },
  { title: 'masked', value: (d) => d.masked.join(' '), table: true },
  { title: 'decision', value: (d) => (d.approval === null ? d.decision : `${d.decision} (${d.approval})`), table: true },
  { title: 'outcome', value: outcomeText, table: true },
  { title: 'reason', value: (d) => d.reason, table: true },
  { title: 'purpose', value: (d) => d.purpose ?? '', table: true },
  { title: 'policies', value: (d) => d.policies.join(' ') },
  { title: 'revision', value: (d) => d.revision ?? '', table: true },
  { title: 'why', value: (d) => Object.entries(d.why ?? {}).map(([t, w]) => `${t}: ${w}`).join('; '), table: true },
  { title: 'decision_id', value: (d) => d.decision_id },
  { title: 'session_id', value: (d) => d.session_id },
  { title: 'at', value: (d) => d.at },
];

const TABLE_FIELDS = FIELDS.filter((f) => f.table === true);

export function disclosureTable(rows: readonly Disclosure[], width = 48): string {
  const cells = rows.map((r) => TABLE_FIELDS.map((f) => {
    const v = visible(f.value(r));
    return v.length > width ? `${v.slice(0, width - 1)}…` : v;
  }));
  const widths = TABLE_FIELDS.map((f, i) => Math.max(f.title.length, ...cells.map((c) => c[i]!.length)));
  const line = (values: string[]): string => values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(TABLE_FIELDS.map((f) => f.title)), ...cells.map(line)].join('\n') + '\n';
}

export function disclosureCsvHeader(): string {
  return `${FIELDS.map((f) => f.title).join(',')}\r\n`;
}

export function disclosureCsvRow(d: Disclosure): string {
  return `${FIELDS.map((f) => csvField(f.value(d))).join(',')}\r\n`;
}

export function disclosureNdjson(d: Disclosure): string {
  return `${JSON.stringify(d)}\n`;
}
