// Content detectors (enforce/content-detectors.ts) scan what a statement sends back to the client:
// its rows, COPY data, notices and errors. A statement under detection that keeps what it reads for
// later (DECLARE CURSOR: its rows come back through FETCH, a statement of its own, decided without
// the detection) or stores it (a write, CREATE TABLE AS, SELECT INTO, whose copy is read back later
// from a column no detector scans) would move the text past them, so it is refused (red-team round 5).

import type { ParsedStatement } from '../sql/facts.ts';
import type { Decision } from '../policy/types.ts';

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
  if (parsed.facts.writes) {
    return {
      message: `Gatehouse does not run a write while the policy asks to scan ${scanned} for identifiers: a copy of the text stored elsewhere would be read back unscanned`,
      hint: 'Read the table with SELECT; writes are not run under content detection.',
    };
  }
  return null;
}
