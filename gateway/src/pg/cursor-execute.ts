// An extended-protocol Execute of a portal name Gatehouse did not bind: a SQL cursor this session
// DECLAREd (PostgreSQL keeps protocol portals and SQL cursors in one namespace), or a name it refuses.
// Such an Execute reads the cursor's rows exactly like FETCH, so it is decided, admitted and audited as
// the FETCH it amounts to (`FETCH FORWARD <row limit> FROM "<name>"`, `FETCH ALL` without a limit): one
// statement record before it goes upstream, one outcome record when PostgreSQL answers it (rows, and
// CommandComplete, PortalSuspended or the error), or the refusal's (42939, 34000, 40001, the policy's).

import type { QueryDecision } from '../enforce/decided-statement.ts';
import { GatehouseError } from '../errors.ts';
import { quoteIdent } from '../enforce/mask-expressions.ts';
import type { RevisionFence } from './revision-fence.ts';
import type { SearchPathTracker } from './search-path-tracker.ts';
import { admit, type Admission } from './statement-admission.ts';

/**
 * The FETCH an Execute of cursor `name` with row limit `maxRows` amounts to (0 or less: every row left,
 * as PostgreSQL reads the limit). The name is quoted: a protocol portal name is taken as it is, never
 * case folded. The unnamed portal has no SQL name: its text does not parse (it is never a cursor).
 */
export function cursorFetchText(name: string, maxRows: number): string {
  return maxRows > 0 ? `FETCH FORWARD ${maxRows} FROM ${quoteIdent(name)}` : `FETCH ALL FROM ${quoteIdent(name)}`;
}

/** The rows of a cursor read by Execute come without a RowDescription, so no output plan can be built for them. */
function cursorRowsUnfiltered(name: string, decisionId: string | undefined): GatehouseError {
  return new GatehouseError('FEATURE_NOT_SUPPORTED', `Gatehouse cannot mask or scan the rows of cursor "${name}" read with a protocol Execute, which the policy asks for on this FETCH, so it was not run`, {
    hint: 'Read the cursor with SQL FETCH, whose rows come with their columns.',
    ...(decisionId !== undefined ? { decisionId } : {}),
  });
}

/**
 * Whether the decided FETCH of a cursor Execute may go upstream. `refusal`: why the name itself is refused
 * (reserved, 42939; neither bound nor DECLAREd, 34000): that error whatever the decision, as before the
 * Execute was decided. Then the decision and the checks every statement passes (pg/statement-admission.ts:
 * a cursor declared, or a block begun, under an older policy revision is refused with 40001), then masks
 * or content detection the FETCH's decision may ask for, which its rows could not get.
 */
export function admitCursorExecute(
  decided: QueryDecision,
  name: string,
  refusal: GatehouseError | null,
  searchPath: Pick<SearchPathTracker, 'unresolved'>,
  fence: Pick<RevisionFence, 'refusal'>,
): Admission {
  if (refusal !== null) return { kind: 'refuse', statements: decided.statements, error: refusal, pathUnknown: false };
  const d = admit(decided, searchPath, fence);
  if (d.kind === 'refuse') return d;
  const filtered = d.masks.length > 0 || d.statements.some((s) => s.decision.action === 'mask' && (s.decision.detections ?? []).length > 0);
  if (filtered) return { kind: 'refuse', statements: d.statements, error: cursorRowsUnfiltered(name, d.statements[0]?.decision.id), pathUnknown: false };
  return d;
}
