// A Parse under a prepared statement name already in use is refused before it is decided: preparing it
// upstream under the name in use would let the server's answer and the client's next Bind race
// (docs/data-path.md). PostgreSQL parses first (a syntax error is reported first), then refuses several
// statements (42601), and only then looks at the name: the same order here, with the decision point
// reporting the first two. Only PostgreSQL's parse runs here, and not on a text over the statement limits
// (refused by the limit, nothing parsed): a long text's facts are extracted in slices by the decision,
// never here in one turn (red-team round 18c, R18c-2).

import { GatehouseError } from '../errors.ts';
import { parsedStatementCount } from '../sql/parser.ts';
import { statementLimitError, type StatementLimits } from './statement-limits.ts';

/** The refusal of a Parse of `sql` under `name`, when the name is in use and the text is one statement. */
export function duplicateNameRefusal(name: string, sql: string, inUse: ReadonlyMap<string, unknown>, limits: StatementLimits): GatehouseError | null {
  if (name === '' || !inUse.has(name)) return null;
  if (statementLimitError(sql, 'extended', limits) !== null) return null;
  const count = parsedStatementCount(sql);
  if (count === null || count > 1) return null;
  return new GatehouseError('DUPLICATE_PREPARED_STATEMENT', `prepared statement "${name}" already exists`);
}
