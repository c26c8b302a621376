// What happens to each result column on the way back to the client, planned once per
// RowDescription (or per Describe of a portal):
// - defence in depth behind masking at the source: a result column that comes straight from a
//   masked table column (table OID + attribute number), or from a generated column computed from one,
//   is withheld (NULL). After the rewrite
//   (enforce/mask-rewrite.ts) none should: masked columns are computed expressions, which carry no
//   source;
// - content detectors (enforce/content-detectors.ts): a column from a table column the decision
//   asks to scan is scanned with that column's detectors; a computed column (no source: `upper(notes)`,
//   `notes || ''`, a JSON document) is scanned with every detector of the decision, since it may
//   carry a scanned column's text; a column from any other table column passes unscanned.
// COPY data and the text of notices and errors are scanned with every detector of the decision.

import type { DetectRule, MaskRule } from '../policy/types.ts';
import {
  addCounts,
  DETECTOR_NAMES,
  LARGE_VALUE_BYTES,
  SCAN_WINDOW,
  detectorFor,
  detectorsFor,
  type DetectionCounts,
  type Detector,
  type DetectorName,
  type DetectorOptions,
} from './content-detectors.ts';
import type { RelationCatalog } from './relation-catalog.ts';

export interface ResultField {
  name: string;
  tableOid: number;
  columnAttr: number;
  typeOid: number;
  /** 0 = text, 1 = binary (a Describe of a prepared statement says 0 for every column). */
  format: number;
}

/**
 * How one column's values go out. `scan`: `encoding` says where the text is in a value: the whole
 * value (`text`: text format, or a binary text-like type), after jsonb's version byte (`jsonb`).
 * A binary value of a type that holds no text passes; of any other type, it is withheld.
 */
export type ColumnAction =
  | { kind: 'pass' }
  | { kind: 'withhold' }
  | { kind: 'scan'; detector: Detector; encoding: 'text' | 'jsonb' };

export interface OutputPlan {
  columns: ColumnAction[];
  /** Whether any column is not `pass` (when false, rows are forwarded byte for byte). */
  any: boolean;
}

const PASS: ColumnAction = { kind: 'pass' };
const WITHHOLD: ColumnAction = { kind: 'withhold' };

/** Types whose binary format is the UTF-8 text itself: text, varchar, bpchar, name, json, xml, unknown, "char", bytea. */
const BINARY_TEXT_TYPES = new Set([25, 1043, 1042, 19, 114, 142, 705, 18, 17]);
const JSONB_OID = 3802;
/**
 * Types whose binary format holds no text: bool, the integers, oid, xid, floats, money, numeric,
 * date and time types, uuid. In binary format they pass; a scanned value of any other type that is
 * not text-like (a composite or whole row, an array, a domain, tsvector, a range, an extension
 * type) is withheld: its binary form carries the text where the scan cannot read it (red-team round
 * 5: `SELECT v FROM clinical.visits v` with binary results returned the raw note inside the record).
 */
const BINARY_NO_TEXT_TYPES = new Set([16, 20, 21, 23, 26, 28, 700, 701, 790, 1700, 1082, 1083, 1114, 1184, 1186, 1266, 2950]);

/** The union of every detector a decision asks for (for computed columns, COPY data, notices and errors). */
export function allDetectors(detections: readonly DetectRule[], options: DetectorOptions = {}): Detector | null {
  const wanted = new Set<DetectorName>(detections.flatMap((d) => d.detectors));
  if (wanted.size === 0) return null;
  return detectorFor(DETECTOR_NAMES.filter((n) => wanted.has(n)), options);
}

function scanAction(detector: Detector, field: ResultField): ColumnAction {
  if (field.format === 0 || BINARY_TEXT_TYPES.has(field.typeOid)) return { kind: 'scan', detector, encoding: 'text' };
  if (field.typeOid === JSONB_OID) return { kind: 'scan', detector, encoding: 'jsonb' };
  return BINARY_NO_TEXT_TYPES.has(field.typeOid) ? PASS : WITHHOLD;
}

/** Builds the plan from the relation snapshot; a column whose table is not in it counts as computed. */
export function planOutput(
  fields: readonly ResultField[],
  masks: readonly MaskRule[],
  detections: readonly DetectRule[],
  relations: RelationCatalog | null,
  options: DetectorOptions = {},
): OutputPlan {
  if (masks.length === 0 && detections.length === 0) return { columns: fields.map(() => PASS), any: false };
  const masked = new Set(masks.map((m) => `${m.table}\u0000${m.column}`));
  const every = allDetectors(detections, options);
  const columns = fields.map((f): ColumnAction => {
    const source = sourceOf(f, relations);
    if (source === null) return every === null ? PASS : scanAction(every, f);
    // A partition holds its parent's rows: the parent's masks and detections apply to it as well.
    const tables = [source.table, ...source.ancestors];
    // A generated column computed from a masked column is a copy of it (R21a-2).
    if ([source.column, ...source.generatedFrom].some((c) => tables.some((t) => masked.has(`${t}\u0000${c}`)))) return WITHHOLD;
    if (every === null) return PASS;
    const names = [...new Set(tables.flatMap((t) => detectorsFor(detections, t, source.column)))];
    return names.length === 0 ? PASS : scanAction(detectorFor(names, options), f);
  });
  return { columns, any: columns.some((c) => c.kind !== 'pass') };
}

/**
 * The table column a result column comes straight from, or null (computed). A view's or
 * materialized view's column counts as computed: PostgreSQL names the view as the column's source,
 * but its values are whatever the view's query made of the tables it reads (red-team round 5: a view
 * or materialized view over clinical.visits returned the notes unscanned).
 */
function sourceOf(f: ResultField, relations: RelationCatalog | null): { table: string; ancestors: readonly string[]; column: string; generatedFrom: readonly string[] } | null {
  if (f.tableOid === 0 || f.columnAttr <= 0 || relations === null) return null;
  const rel = relations.byId(f.tableOid);
  if (rel === null || rel.kind === 'view' || rel.kind === 'materialized_view') return null;
  const column = rel.columns.find((c) => c.attnum === f.columnAttr);
  if (column === undefined) return null;
  return { table: rel.qualified, ancestors: rel.ancestors, column: column.name, generatedFrom: column.generatedFrom ?? [] };
}

/**
 * One row through the plan: withheld columns become NULL, scanned ones have their identifiers
 * replaced (counted into `counts`). Returns null when nothing changed (forward the row as it came).
 */
export function filterRow(
  values: readonly (Buffer | null)[],
  plan: OutputPlan,
  counts: DetectionCounts,
  scanned?: ReadonlyMap<number, Buffer>,
): (Buffer | null)[] | null {
  let out: (Buffer | null)[] | null = null;
  for (let i = 0; i < values.length; i++) {
    const action = plan.columns[i] ?? PASS;
    const v = values[i]!;
    let next: Buffer | null = v;
    switch (action.kind) {
      case 'pass':
        continue;
      case 'withhold':
        next = null;
        break;
      case 'scan':
        next = v === null ? null : (scanned?.get(i) ?? scanValue(v, action, counts));
        break;
      default: {
        const never: never = action;
        throw new Error(`unknown column action ${JSON.stringify(never)}`);
      }
    }
    if (next !== v) (out ??= [...values])[i] = next;
  }
  return out;
}

/** Whether a row holds a value to scan longer than LARGE_VALUE_BYTES (then filterRowInTurns). */
export function needsTurns(values: readonly (Buffer | null)[], plan: OutputPlan): boolean {
  return values.some((v, i) => v !== null && v.length > LARGE_VALUE_BYTES && plan.columns[i]?.kind === 'scan');
}

/**
 * filterRow for a row with long values: each is scanned a window at a time, with turns of the event
 * loop between windows, so that other sessions are served while it is scanned.
 */
export async function filterRowInTurns(values: readonly (Buffer | null)[], plan: OutputPlan, counts: DetectionCounts): Promise<(Buffer | null)[] | null> {
  const scanned = new Map<number, Buffer>();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const action = plan.columns[i];
    if (v === null || v === undefined || v.length <= LARGE_VALUE_BYTES || action?.kind !== 'scan') continue;
    const jsonb = action.encoding === 'jsonb';
    if (jsonb && (v.length === 0 || v[0] !== 1)) continue;
    const scan = await action.detector.scanBufferInTurns(jsonb ? v.subarray(1) : v);
    addCounts(counts, scan.counts);
    scanned.set(i, !scan.changed ? v : jsonb ? Buffer.concat([v.subarray(0, 1), scan.out]) : scan.out);
  }
  return filterRow(values, plan, counts, scanned);
}

function scanValue(v: Buffer, action: Extract<ColumnAction, { kind: 'scan' }>, counts: DetectionCounts): Buffer {
  if (action.encoding === 'jsonb') {
    if (v.length === 0 || v[0] !== 1) return v; // not jsonb's version-1 text
    const scan = action.detector.scanBuffer(v.subarray(1));
    addCounts(counts, scan.counts);
    return scan.changed ? Buffer.concat([v.subarray(0, 1), scan.out]) : v;
  }
  const scan = action.detector.scanBuffer(v);
  addCounts(counts, scan.counts);
  return scan.out;
}

/** ErrorResponse and NoticeResponse fields that may quote values: message, detail, hint, context, internal query. */
export const VALUE_FIELDS = new Set(['M', 'D', 'H', 'W', 'q']);

/** What stays of a message field too long to scan at once: its scanned start, short of a possibly cut identifier. */
const CUT_MARK = ' ... (cut by Gatehouse: too long to scan for identifiers)';
const CUT_KEEP = SCAN_WINDOW - 1024;

/**
 * A notice's or error's fields with identifiers replaced in those that may quote values; null when
 * nothing changed. A field longer than SCAN_WINDOW (an error quoting a whole long value) is cut: its
 * first SCAN_WINDOW characters are scanned, and the last 1024 of them dropped, where an identifier
 * cut in two could be.
 */
export function scanMessageFields(fields: Readonly<Record<string, string>>, detector: Detector, counts: DetectionCounts): Record<string, string> | null {
  let out: Record<string, string> | null = null;
  for (const [code, value] of Object.entries(fields)) {
    if (!VALUE_FIELDS.has(code)) continue;
    if (value.length > SCAN_WINDOW) {
      const scan = detector.scanText(value.slice(0, SCAN_WINDOW));
      addCounts(counts, scan.counts);
      (out ??= { ...fields })[code] = scan.out.slice(0, Math.max(0, scan.out.length - (SCAN_WINDOW - CUT_KEEP))) + CUT_MARK;
      continue;
    }
    const scan = detector.scanText(value);
    addCounts(counts, scan.counts);
    if (!scan.changed) continue;
    (out ??= { ...fields })[code] = scan.out;
  }
  return out;
}
