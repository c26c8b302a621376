// Content detectors: find identifiers (SSN, email, phone, payment card, MRN, date of birth, IP
// address) inside free text and replace each with a label such as [SSN]. Compiled once per set of
// detectors; one combined scan per value, linear in its length; pure (no I/O, no state between calls).
//
// How the output path uses it (a Decision's `detections`, policy/types.ts DetectRule):
//   - RowDescription: for each field with a table OID and attribute number resolved to (table,
//     column), `const names = detectorsFor(decision.detections, table, column)`; when non-empty,
//     `detectorFor(names)` (memoised) is that field's scanner. A field already masked is not scanned.
//   - DataRow: for a text-format field with a scanner, `scanBuffer(value)` and forward `out` (the
//     same Buffer when nothing was found: re-encode the row only when `changed`); add `counts` into
//     the statement's totals with addCounts for the audit record. NULL stays NULL. A binary-format
//     text/varchar/json field is the same UTF-8 bytes; jsonb binary is a version byte (1) then the
//     text; other binary types carry no text.
//   - COPY ... TO STDOUT, text or CSV: scan each CopyData payload with the union of the table's
//     detectors (a COPY row is not split into columns here; an identifier is never split across
//     CopyData messages by PostgreSQL, which sends one row per message). Binary COPY: refuse.
//   - NoticeResponse and ErrorResponse: scan the fields that may echo values (M message, D detail,
//     H hint, W where; the s/t/c/n name fields hold object names, not values) with the union of
//     every detector of the decision, so "Key (notes)=(... 123-45-6789)" does not leak.

import { DETECTOR_NAMES, type DetectorName, type DetectRule } from '../policy/types.ts';
import { confirm, DEFAULT_MRN_PATTERN, DETECTOR_LABELS, detectorPattern, mayOccur } from './detector-patterns.ts';

export { DETECTOR_NAMES, type DetectorName } from '../policy/types.ts';
export { DEFAULT_MRN_PATTERN, DETECTOR_LABELS } from './detector-patterns.ts';

/** How many identifiers each detector replaced in one value (detectors that found none are absent). */
export type DetectionCounts = Partial<Record<DetectorName, number>>;

export interface TextScan {
  /** The value with every detected identifier replaced by its label; the input itself when none was found. */
  out: string;
  /**
   * Identifiers replaced, by detector: those replaced here, and the labels already in the value
   * (identifiers replaced at the source, enforce/detector-sql.ts, reach the output as labels).
   */
  counts: DetectionCounts;
  /** Whether anything was replaced (out !== the input). */
  changed: boolean;
}

export interface BufferScan {
  /** UTF-8 bytes with identifiers replaced; the very same Buffer when none was found. */
  out: Buffer;
  counts: DetectionCounts;
  changed: boolean;
}

export interface DetectorOptions {
  /**
   * The medical record number pattern (JavaScript regular expression source, matched
   * case-insensitively; the whole match is replaced by [MRN]). Default: DEFAULT_MRN_PATTERN.
   * It must not match the empty string, nor use capturing groups or backreferences; keep its
   * quantifiers bounded ({0,10}, not *) so that a scan stays linear.
   */
  mrn?: string;
}

/** A compiled set of detectors. Compile once (per policy decision's detector list), scan many values. */
export interface Detector {
  /** The detectors it runs, in the order they are tried at one position. */
  readonly names: readonly DetectorName[];
  scanText(text: string): TextScan;
  /** A DataRow field, a COPY data row, a NoticeResponse or ErrorResponse field: UTF-8 bytes. */
  scanBuffer(value: Buffer): BufferScan;
  /** scanBuffer for a value of any length, SCAN_WINDOW characters per turn of the event loop. */
  scanBufferInTurns(value: Buffer): Promise<BufferScan>;
}

/**
 * Characters scanned in one turn of the event loop (scanBufferInTurns): a few milliseconds of work
 * at worst. A value of more bytes than this is scanned in turns (LARGE_VALUE_BYTES).
 */
export const SCAN_WINDOW = 32 * 1024;
export const LARGE_VALUE_BYTES = SCAN_WINDOW;
/** No detector's match is longer (their quantifiers are bounded: an email is at most ~700 characters). */
const MAX_MATCH = 1024;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A confirmed identifier: which detector, and the span of the text it replaces. */
type Found = { name: DetectorName; start: number; end: number };

/**
 * The identifier a detector's match holds (its `_v` group after a cue, else the whole match), if it
 * passes the detector's check. A `_v` group always ends its match (detector-patterns.ts), so its span
 * is the match's last characters: no `d` (indices) flag, which made every exec about seven times
 * slower (red-team round 5: a value of "1 1 1 ..." cost 3.5 s per MB, the event loop blocked).
 */
function confirmed(name: DetectorName, m: RegExpExecArray): Found | null {
  const whole = m.groups?.[name];
  if (whole === undefined) return null;
  const end = m.index + m[0].length;
  const value = m.groups?.[`${name}_v`];
  if (value !== undefined && !m[0].endsWith(value)) return null; // not at the end: a pattern broke the rule
  const start = value === undefined ? m.index : end - value.length;
  if (end <= start || !confirm(name, m.input.slice(start, end))) return null;
  return { name, start, end };
}

/** Thrown for an unknown detector name or an unusable MRN pattern: a policy or configuration error. */
export class DetectorConfigError extends Error {
  override readonly name = 'DetectorConfigError';
}

export function isDetectorName(name: string): name is DetectorName {
  return (DETECTOR_NAMES as readonly string[]).includes(name);
}

/**
 * Compile the named detectors (duplicates and order do not matter) into one scanner. The combined
 * expression names each detector's alternative; when a match fails its detector's extra check
 * (Luhn, SSN ranges, a real date), the detectors after it are tried at the same position.
 */
export function compileDetectors(names: readonly string[], options: DetectorOptions = {}): Detector {
  for (const name of names) {
    if (!isDetectorName(name)) throw new DetectorConfigError(`unknown content detector "${name}" (known: ${DETECTOR_NAMES.join(', ')})`);
  }
  const chosen = DETECTOR_NAMES.filter((n) => names.includes(n));
  const mrn = checkedMrnPattern(options.mrn ?? DEFAULT_MRN_PATTERN);
  const source = (n: DetectorName): string => `(?<${n}>${detectorPattern(n, mrn)})`;
  // One combined expression per subset of the detectors that may occur in a value (mayOccur),
  // compiled the first time a value needs it (at most 2^7). Named groups tell which detector matched
  // match after a kept cue (the `<name>_v` group).
  const combinedBySubset = new Map<number, { re: RegExp; active: DetectorName[] } | null>();
  function combinedFor(text: string): { re: RegExp; active: DetectorName[] } | null {
    let subset = 0;
    chosen.forEach((n, i) => {
      if (mayOccur(n, text)) subset |= 1 << i;
    });
    let entry = combinedBySubset.get(subset);
    if (entry === undefined) {
      const active = chosen.filter((_, i) => (subset & (1 << i)) !== 0);
      entry = active.length === 0 ? null : { re: new RegExp(active.map(source).join('|'), 'gi'), active };
      combinedBySubset.set(subset, entry);
    }
    return entry;
  }
  // Sticky single-detector expressions, for a retry at the same position after a rejected match.
  const sticky = new Map(chosen.map((n) => [n, new RegExp(source(n), 'iy')] as const));

  /**
   * The identifiers whose match starts in [from, until) of `text`, in order, without overlaps; the
   * scan looks at most MAX_MATCH characters past `until`.
   */
  function findIn(text: string, from: number, until: number): Found[] {
    const entry = text.length === 0 ? null : combinedFor(text);
    if (entry === null) return [];
    const { re: combined, active } = entry;
    const found: Found[] = [];
    combined.lastIndex = from;
    for (let m = combined.exec(text); m !== null && m.index < until; m = combined.exec(text)) {
      const f = accepted(m, text, active);
      if (f === null) {
        combined.lastIndex = m.index + 1;
        continue;
      }
      found.push(f);
      combined.lastIndex = Math.max(f.end, m.index + 1);
    }
    return found;
  }

  function scanText(text: string): TextScan {
    return assemble(text, findIn(text, 0, text.length), labelsIn(text, chosen));
  }

  /**
   * scanText for a long value, a window at a time with a turn of the event loop between windows, so
   * that other sessions are served meanwhile (a 5 MB note stalled them for seconds). Each window is
   * scanned with one character before it (the patterns look one character back) and MAX_MATCH after
   * it (no match is longer), so it finds what one scan of the whole value finds.
   */
  async function scanTextInTurns(text: string): Promise<TextScan> {
    if (text.length <= SCAN_WINDOW) return scanText(text);
    const found: Found[] = [];
    let start = 0;
    while (start < text.length) {
      const lo = Math.max(0, start - 1);
      const until = Math.min(text.length, start + SCAN_WINDOW);
      const slice = text.slice(lo, Math.min(text.length, until + MAX_MATCH));
      let end = until;
      for (const f of findIn(slice, start - lo, until - lo)) {
        found.push({ name: f.name, start: f.start + lo, end: f.end + lo });
        end = Math.max(end, f.end + lo);
      }
      start = end;
      if (start < text.length) await nextTurn();
    }
    return assemble(text, found, labelsIn(text, chosen));
  }

  function assemble(text: string, found: readonly Found[], counts: DetectionCounts): TextScan {
    if (found.length === 0) return { out: text, counts, changed: false };
    const parts: string[] = [];
    let copied = 0;
    for (const f of found) {
      parts.push(text.slice(copied, f.start), DETECTOR_LABELS[f.name]);
      counts[f.name] = (counts[f.name] ?? 0) + 1;
      copied = f.end;
    }
    parts.push(text.slice(copied));
    return { out: parts.join(''), counts, changed: true };
  }

  /** The detector that really matched at m.index, and the span to replace: the combined match if confirmed, else a later detector's. */
  function accepted(m: RegExpExecArray, text: string, active: readonly DetectorName[]): Found | null {
    const groups = m.groups ?? {};
    const first = active.findIndex((n) => groups[n] !== undefined);
    if (first < 0) return null;
    const found = confirmed(active[first]!, m);
    if (found !== null) return found;
    for (const next of active.slice(first + 1)) {
      const re = sticky.get(next)!;
      re.lastIndex = m.index;
      const again = re.exec(text);
      const retry = again === null ? null : confirmed(next, again);
      if (retry !== null) return retry;
    }
    return null;
  }

  const asBuffer = (value: Buffer, scan: TextScan): BufferScan =>
    scan.changed ? { out: Buffer.from(scan.out, 'utf8'), counts: scan.counts, changed: true } : { out: value, counts: scan.counts, changed: false };
  return {
    names: chosen,
    scanText,
    scanBuffer: (value) => asBuffer(value, scanText(value.toString('utf8'))),
    scanBufferInTurns: async (value) => asBuffer(value, await scanTextInTurns(value.toString('utf8'))),
  };
}

/**
 * The detectors a decision asks for on one result column: the union of the column's own entry and
 * its table's "*" entry, in DETECTOR_NAMES order; [] when none (then nothing is scanned).
 */
export function detectorsFor(detections: readonly DetectRule[] | undefined, table: string, column: string): DetectorName[] {
  const wanted = new Set<DetectorName>();
  for (const d of detections ?? []) {
    if (d.table === table && (d.column === column || d.column === '*')) for (const n of d.detectors) wanted.add(n);
  }
  return DETECTOR_NAMES.filter((n) => wanted.has(n));
}

/** Compiled detectors by list and MRN pattern: decisions repeat the same few lists. */
const compiled = new Map<string, Detector>();
const COMPILED_MAX = 64;

/**
 * compileDetectors, memoised on the (sorted) list and the MRN pattern, so that the output path can
 * ask per RowDescription (or per COPY, notice, error) without compiling again.
 */
export function detectorFor(names: readonly string[], options: DetectorOptions = {}): Detector {
  const key = `${[...new Set(names)].sort().join(',')}\u0000${options.mrn ?? ''}`;
  let detector = compiled.get(key);
  if (detector === undefined) {
    detector = compileDetectors(names, options);
    if (compiled.size >= COMPILED_MAX) compiled.clear();
    compiled.set(key, detector);
  }
  return detector;
}

/** How many labels of the detectors `names` the text holds already. */
function labelsIn(text: string, names: readonly DetectorName[]): DetectionCounts {
  const counts: DetectionCounts = {};
  if (!text.includes('[')) return counts;
  for (const name of names) {
    const label = DETECTOR_LABELS[name];
    let n = 0;
    for (let at = text.indexOf(label); at >= 0; at = text.indexOf(label, at + label.length)) n++;
    if (n > 0) counts[name] = n;
  }
  return counts;
}

/** Add one value's counts into a running total (for an audit record of a whole result). */
export function addCounts(total: DetectionCounts, more: DetectionCounts): DetectionCounts {
  for (const [name, n] of Object.entries(more) as Array<[DetectorName, number]>) total[name] = (total[name] ?? 0) + n;
  return total;
}

function checkedMrnPattern(pattern: string): string {
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${pattern})$`, 'i');
  } catch (e) {
    throw new DetectorConfigError(`the MRN pattern does not compile: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (re.test('')) throw new DetectorConfigError('the MRN pattern matches the empty string');
  if (/\((?!\?)|\\[1-9]|\\k</.test(pattern.replace(/\\\\/g, '').replace(/\\\(/g, ''))) {
    throw new DetectorConfigError('the MRN pattern may not use capturing groups or backreferences: write (?:...)');
  }
  return pattern;
}
