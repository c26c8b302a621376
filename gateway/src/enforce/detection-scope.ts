// Content detectors (enforce/content-detectors.ts) scan what a statement sends back to the client:
// its rows, COPY data, notices and errors. A statement under detection that keeps what it reads for
// later (DECLARE CURSOR: its rows come back through FETCH, a statement of its own, decided without
// the detection) or stores it (a write, CREATE TABLE AS, SELECT INTO, whose copy is read back later
// from a column no detector scans; set_config('application_name', notes), which PostgreSQL reports
// in a ParameterStatus and SHOW reads back) would move the text past them, so it is refused
// (red-team round 5).
// So is a COPY whose options reshape the text on its way out: a CSV QUOTE or ESCAPE character, or a
// text-format DELIMITER, that occurs in an identifier is doubled or backslash-escaped inside it
// (`QUOTE '-'` sends 219--09--9999), another ENCODING is not the UTF-8 the scan reads, and binary
// COPY cannot be scanned at all.

import { parseSync } from 'libpg-query';
import { asNode, list, str, stringValue } from '../sql/ast.ts';
import type { ParsedStatement } from '../sql/facts.ts';
import type { Decision } from '../policy/types.ts';

/** COPY characters that never occur in an identifier a detector finds (delimiter, quote, escape). */
const SAFE_COPY_CHARACTERS: Readonly<Record<string, ReadonlySet<string>>> = {
  delimiter: new Set([',', ';', '\t', '|']),
  quote: new Set(['"', "'"]),
  escape: new Set(['"', "'", '\\']),
};
const UTF8_NAMES = new Set(['utf8', 'utf-8', 'unicode']);

export interface DetectionRefusal {
  message: string;
  hint: string;
}

/** Why a statement decided with content detections cannot run, or null when it can. */
export function detectionScopeRefusal(parsed: ParsedStatement | null, decision: Decision): DetectionRefusal | null {
  if (decision.action !== 'mask' || (decision.detections ?? []).length === 0 || parsed === null) return null;
  const scanned = [...new Set(decision.detections!.map((d) => `${d.table}.${d.column}`))].join(', ');
  if (parsed.facts.command === 'DeclareCursorStmt') {
    return {
      message: `Gatehouse does not open a cursor over ${scanned} while the policy asks to scan it for identifiers: the cursor's rows would come back through FETCH, unscanned`,
      hint: 'Read it with SELECT (a driver can page through the rows with the extended protocol\'s row limit).',
    };
  }
  if (parsed.facts.command === 'CopyStmt') {
    const option = reshapingCopyOption(parsed.text);
    if (option !== null) {
      return {
        message: `Gatehouse does not run COPY with ${option} while the policy asks to scan ${scanned} for identifiers: the scan could not recognise what that option does to the text`,
        hint: "Use COPY in text or CSV format with the default quote and escape characters, a delimiter among , ; | and tab, and no ENCODING option.",
      };
    }
  }
  if (parsed.facts.settingChanges.length > 0) {
    return {
      message: `Gatehouse does not run a statement that changes a setting while the policy asks to scan ${scanned} for identifiers: the setting would keep the text, and SHOW or current_setting() would read it back unscanned`,
      hint: 'Change settings in a statement of their own.',
    };
  }
  if (parsed.facts.writes) {
    return {
      message: `Gatehouse does not run a write while the policy asks to scan ${scanned} for identifiers: a copy of the text stored elsewhere would be read back unscanned`,
      hint: 'Read the table with SELECT; writes are not run under content detection.',
    };
  }
  return null;
}

/** The first option of a COPY statement that may reshape identifiers in its output (as written), or null. */
function reshapingCopyOption(text: string): string | null {
  let stmt: unknown;
  try {
    stmt = ((parseSync(text) as { stmts?: Array<{ stmt?: unknown }> }).stmts ?? [])[0]?.stmt;
  } catch {
    return 'options Gatehouse could not read';
  }
  const copy = asNode(stmt);
  if (copy?.type !== 'CopyStmt') return null;
  for (const o of list(copy.body, 'options')) {
    const def = asNode(o);
    if (def?.type !== 'DefElem') continue;
    const name = (str(def.body, 'defname') ?? '').toLowerCase();
    const value = stringValue(def.body['arg']);
    if (name === 'format' && value?.toLowerCase() === 'binary') return 'FORMAT binary';
    if (name === 'encoding' && !UTF8_NAMES.has((value ?? '').toLowerCase())) return `ENCODING '${value ?? '?'}'`;
    const safe = SAFE_COPY_CHARACTERS[name];
    if (safe !== undefined && (value === null || !safe.has(value))) return `${name.toUpperCase()} '${value ?? '?'}'`;
  }
  return null;
}
