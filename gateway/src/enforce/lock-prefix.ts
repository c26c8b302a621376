// The relation locks a query string's statements will take, taken when the string starts: a decision
// checks the DDL locks of the relations a statement names (enforce/table-locks.ts), but PostgreSQL
// takes the statement's own locks only when it runs, which in a multi-statement string can be long
// after the decision (an earlier statement waiting for a row). A migration that altered the table
// meanwhile would run under a decision that never saw it (red-team round 15, R15-1). Gatehouse
// prepends `LOCK TABLE ... NOWAIT` for those relations to a simple Query: it fails at once (55P03,
// shown as Gatehouse's own refusal) while another backend holds or waits for a conflicting lock, and
// otherwise holds the locks until the string's transaction ends, so nothing changes the tables between
// the decision and the statements. What a lock cannot cover is left out, not guessed (docs/data-path.md):
// strings with statements other than queries, writes, COPY, EXPLAIN, SET, SHOW and transaction control
// (some cannot run in a transaction block, or must run alone: VACUUM, CREATE INDEX CONCURRENTLY, LOCK,
// DECLARE), strings whose first statement is transaction control other than BEGIN (in a failed
// transaction the LOCK would fail where a ROLLBACK would have run), statements after a COMMIT or ROLLBACK
// of the string (the locks end there), and relations the upstream role may not lock or that PostgreSQL
// cannot lock (temporary ones, materialized views, foreign tables, relations not in the snapshot).

import { GatehouseError } from '../errors.ts';
import type { ParsedStatement, StatementFacts, StatementKind } from '../sql/facts.ts';
import type { RelationCatalog } from './relation-catalog.ts';

/** The LOCK statements to send ahead of a query string, built once per decision. */
export interface LockPrefix {
  /** The statements, each ending in `; `, to put before the forwarded text. */
  text: string;
  /** How many LOCK statements it holds (each answers with a CommandComplete Gatehouse swallows). */
  statements: number;
  /** Its length in characters (code points), as PostgreSQL counts an error's position in the query string. */
  chars: number;
  /** The relations locked, schema-qualified, sorted (for the refusal's message). */
  relations: string[];
}

/** Statement kinds a lock may be taken ahead of: all run inside an implicit transaction block as alone. */
const WRAPPABLE: ReadonlySet<StatementKind> = new Set<StatementKind>(['select', 'insert', 'update', 'delete', 'merge', 'copy', 'explain', 'set', 'show', 'transaction', 'two_phase']);

/** What a transaction-control statement does to the string's locks. */
type TransactionEffect = 'opens' | 'keeps' | 'ends';

const FIRST_WORD = /^\s*([A-Za-z]+)(?:\s+([A-Za-z]+))?/;

/**
 * BEGIN and START keep the locks (the implicit block becomes the transaction they open), as do
 * SAVEPOINT, RELEASE, ROLLBACK TO (it undoes only locks taken after its savepoint) and SET CONSTRAINTS;
 * anything else (COMMIT, ROLLBACK, PREPARE TRANSACTION, or a text not recognised: a comment first) ends them.
 */
function transactionEffect(p: ParsedStatement): TransactionEffect {
  if (p.facts.kind === 'two_phase') return 'ends';
  if (p.facts.command === 'ConstraintsSetStmt') return 'keeps';
  const m = FIRST_WORD.exec(p.text);
  const first = m?.[1]?.toUpperCase();
  const second = m?.[2]?.toUpperCase();
  switch (first) {
    case 'BEGIN':
    case 'START':
      return 'opens';
    case 'SAVEPOINT':
    case 'RELEASE':
      return 'keeps';
    case 'ROLLBACK':
    case 'ABORT':
      return second === 'TO' ? 'keeps' : 'ends';
    default:
      return 'ends';
  }
}

/** `"schema"."name"` as PostgreSQL reads it whatever the name holds. */
export function quotedRelation(schema: string, name: string): string {
  return `"${schema.replace(/"/g, '""')}"."${name.replace(/"/g, '""')}"`;
}

/**
 * The LOCK statements to send ahead of `statements` (one simple Query string) for the relations they
 * read (ACCESS SHARE) and write (ROW EXCLUSIVE), the modes their own statements take first; null when
 * there is none to take or the string must not be wrapped (see the header).
 */
export function lockPrefixFor(statements: readonly ParsedStatement[], relations: RelationCatalog | null): LockPrefix | null {
  if (relations === null || statements.length === 0) return null;
  const known = MEMO.get(statements[0]!.facts);
  if (known !== undefined && known.relations === relations && sameFacts(known.facts, statements)) return known.prefix;
  const prefix = build(statements, relations);
  // Not kept for transaction control, whose effect is read from its text (first words), not its facts.
  if (!statements.some((p) => p.facts.kind === 'transaction' || p.facts.kind === 'two_phase')) {
    MEMO.set(statements[0]!.facts, { relations, facts: statements.map((p) => p.facts), prefix });
  }
  return prefix;
}

/**
 * Prefixes already built, by the facts of a string's statements (the parse cache hands out the same
 * facts for the same text or shape) and the relation snapshot they were built with: a string decided
 * again costs a lookup and a comparison per statement. Entries go with their facts.
 */
const MEMO = new WeakMap<StatementFacts, { relations: RelationCatalog; facts: readonly StatementFacts[]; prefix: LockPrefix | null }>();

function sameFacts(facts: readonly StatementFacts[], statements: readonly ParsedStatement[]): boolean {
  if (facts.length !== statements.length) return false;
  for (let i = 0; i < facts.length; i++) if (facts[i] !== statements[i]!.facts) return false;
  return true;
}

function build(statements: readonly ParsedStatement[], relations: RelationCatalog): LockPrefix | null {
  for (const p of statements) if (!WRAPPABLE.has(p.facts.kind)) return null;
  const first = statements[0]!;
  if ((first.facts.kind === 'transaction' || first.facts.kind === 'two_phase') && transactionEffect(first) !== 'opens') return null;
  const modes = new Map<string, 'read' | 'write'>();
  for (const p of statements) {
    if (p.facts.kind === 'transaction' || p.facts.kind === 'two_phase') {
      if (transactionEffect(p) === 'ends') break; // statements after it run with no lock of the prefix
      continue;
    }
    for (const t of p.facts.tablesRead) if (!modes.has(t.qualified)) modes.set(t.qualified, 'read');
    for (const t of p.facts.tablesWritten) modes.set(t.qualified, 'write');
  }
  const read: string[] = [];
  const write: string[] = [];
  const locked: string[] = [];
  for (const [qualified, mode] of [...modes].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
    const info = relations.get(qualified);
    if (info === null || info.persistence === 'temporary' || info.lockable === undefined) continue;
    // A written relation the role may only read is locked ACCESS SHARE (the write itself fails on privileges).
    const asWrite = mode === 'write' && info.lockable === 'write';
    (asWrite ? write : read).push(quotedRelation(info.schema, info.name));
    locked.push(info.qualified);
  }
  if (locked.length === 0) return null;
  let text = '';
  if (read.length > 0) text += `LOCK TABLE ${read.join(', ')} IN ACCESS SHARE MODE NOWAIT; `;
  if (write.length > 0) text += `LOCK TABLE ${write.join(', ')} IN ROW EXCLUSIVE MODE NOWAIT; `;
  return { text, statements: (read.length > 0 ? 1 : 0) + (write.length > 0 ? 1 : 0), chars: [...text].length, relations: locked };
}

/** Why a string was refused when its prefix could not take a lock at once (PostgreSQL's 55P03). */
export function lockPrefixRefusedReason(prefix: LockPrefix, serverMessage: string): string {
  return `another transaction holds or waits for a lock on a relation this query string uses (${serverMessage}), as a schema change does; Gatehouse locks ${prefix.relations.join(', ')} before the string runs so that no change comes between its decision and its statements, so none of it was run`;
}

/** The refusal the client sees then: Gatehouse's own 55P03, in the style of the decision-time one (enforce/table-locks.ts). */
export function lockPrefixRefusal(reason: string, decisionId: string | undefined): GatehouseError {
  return new GatehouseError('RELATION_LOCKED', `Gatehouse refused this statement: ${reason}`, {
    ...(decisionId !== undefined ? { decisionId, detail: `decision ${decisionId}` } : {}),
    hint: 'Retry after the transaction changing it commits or rolls back (pg_locks shows which backend holds it).',
  });
}
