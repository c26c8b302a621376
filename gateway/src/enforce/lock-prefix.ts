// The relation locks a query string's statements will take, taken when the string starts: a decision
// checks the DDL locks of the relations a statement names (enforce/table-locks.ts), but PostgreSQL
// takes the statement's own locks only when it runs, which in a multi-statement string can be long
// after the decision (an earlier statement waiting for a row). A migration that altered the table
// meanwhile would run under a decision that never saw it (red-team round 15, R15-1). Gatehouse
// prepends `LOCK TABLE ... NOWAIT` for those relations to a simple Query: it fails at once (55P03,
// shown as Gatehouse's own refusal) while another backend holds or waits for a conflicting lock, and
// otherwise holds the locks until the string's transaction ends, so nothing changes the tables between
// the decision and the statements. What a lock cannot cover is left out, not guessed (docs/data-path.md):
// a single statement other than a query, a write, COPY, EXPLAIN, SET, SHOW or transaction control
// (some cannot run in a transaction block, or must run alone: VACUUM, CREATE INDEX CONCURRENTLY, LOCK,
// DECLARE; a string of several runs in an implicit block anyway, so it is wrapped whatever it holds), strings whose first statement is transaction control other than BEGIN (in a failed
// transaction the LOCK would fail where a ROLLBACK would have run), and relations the upstream role may
// not lock or that PostgreSQL cannot lock (temporary ones, materialized views, foreign tables, relations
// not in the snapshot).
// Statements after the point where the locks end (a COMMIT, ROLLBACK, ROLLBACK TO an older savepoint or
// PREPARE TRANSACTION in the string, or its start when no prefix goes ahead of it) would run unlocked:
// a string where they name a relation the prefix would lock is refused (red-team round 16, R16-1/R16-2).

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

/** Statement kinds a lock may be taken ahead of when sent alone: all run inside an implicit transaction block as alone. */
const WRAPPABLE: ReadonlySet<StatementKind> = new Set<StatementKind>(['select', 'insert', 'update', 'delete', 'merge', 'copy', 'explain', 'set', 'show', 'transaction', 'two_phase']);

/**
 * Whether a string may be wrapped. A string of more than one statement already runs in an implicit
 * transaction block, whatever its statements: those that cannot run in one (VACUUM, CREATE INDEX
 * CONCURRENTLY, ALTER SYSTEM...) fail there with or without a prefix, and those that need one (LOCK,
 * DECLARE) have it. Leaving such strings unwrapped let any statement of the kind, appended to the
 * round-15 string (`; DEALLOCATE ALL`), reopen R15-1 for the statements before it (red-team round 16b,
 * R16b-1). A single statement of another kind is left alone.
 */
function wrappable(statements: readonly ParsedStatement[]): boolean {
  return statements.length > 1 || statements.every((p) => WRAPPABLE.has(p.facts.kind));
}

/**
 * A parent with more partitions or inheritance children than this is locked without them (LOCK TABLE
 * ONLY): with the parent, they fit in a backend's 16 fast-path lock slots, beyond which each lock takes
 * a slot of the server-wide lock table.
 */
export const MAX_DESCENDANTS_LOCKED = 15;

/** What a transaction-control statement does to the string's locks. */
type TransactionEffect = 'opens' | 'keeps' | 'ends';

const FIRST_WORD = /^\s*([A-Za-z]+)(?:\s+([A-Za-z]+))?/;

/** An identifier as PostgreSQL reads it: unquoted (folded to lower case) or double-quoted. */
const NAME = '("(?:[^"]|"")+"|[A-Za-z_\\u0080-\\uffff][A-Za-z0-9_$\\u0080-\\uffff]*)\\s*;?\\s*$';
const SAVEPOINT_NAME = new RegExp(`^\\s*SAVEPOINT\\s+${NAME}`, 'i');
const RELEASE_NAME = new RegExp(`^\\s*RELEASE\\s+(?:SAVEPOINT\\s+)?${NAME}`, 'i');
const ROLLBACK_TO_NAME = new RegExp(`^\\s*ROLLBACK\\s+(?:(?:WORK|TRANSACTION)\\s+)?TO\\s+(?:SAVEPOINT\\s+)?${NAME}`, 'i');

function savepointName(re: RegExp, text: string): string | null {
  const raw = re.exec(text)?.[1];
  if (raw === undefined) return null;
  // PostgreSQL folds only ASCII letters of an unquoted name.
  return raw.startsWith('"') ? raw.slice(1, -1).replace(/""/g, '"') : raw.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * What each statement of a string does to the locks taken at its start (null for statements that are
 * not transaction control). BEGIN and START keep them (the implicit block becomes the transaction they
 * open), as do SAVEPOINT, RELEASE and SET CONSTRAINTS; ROLLBACK TO keeps them only when its savepoint
 * was set earlier in the same string, after the locks (rolling back to a savepoint set before the string
 * releases every lock taken since: red-team round 16, R16-2); anything else (COMMIT, ROLLBACK, PREPARE
 * TRANSACTION, a name or text not recognised: a comment between its words) ends them.
 */
function transactionEffects(statements: readonly ParsedStatement[]): Array<TransactionEffect | null> {
  const savepoints: Array<string | null> = []; // set in this string, innermost last (null: a name not read)
  return statements.map((p) => {
    if (p.facts.kind === 'two_phase') return 'ends';
    if (p.facts.kind !== 'transaction') return null;
    if (p.facts.command === 'ConstraintsSetStmt') return 'keeps';
    const m = FIRST_WORD.exec(p.text);
    const first = m?.[1]?.toUpperCase();
    const second = m?.[2]?.toUpperCase();
    switch (first) {
      case 'BEGIN':
      case 'START':
        return 'opens';
      case 'SAVEPOINT':
        savepoints.push(savepointName(SAVEPOINT_NAME, p.text));
        return 'keeps';
      case 'RELEASE': {
        // Releases the innermost savepoint of that name and every one set after it (all of this
        // string's when the name is one set before it, or not read).
        const at = savepoints.lastIndexOf(savepointName(RELEASE_NAME, p.text) ?? '\u0000');
        savepoints.length = at < 0 ? 0 : at;
        return 'keeps';
      }
      case 'ROLLBACK': {
        if (second !== 'TO' && second !== 'WORK' && second !== 'TRANSACTION') return 'ends';
        const name = savepointName(ROLLBACK_TO_NAME, p.text);
        if (name === null) return 'ends';
        const at = savepoints.lastIndexOf(name);
        if (at < 0) return 'ends';
        savepoints.length = at + 1;
        return 'keeps';
      }
      default:
        return 'ends';
    }
  });
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

/**
 * How many of the string's first statements run under the locks taken at its start: up to the first
 * that ends them (none when the first statement is transaction control other than BEGIN/START).
 */
function lockedSegment(statements: readonly ParsedStatement[]): number {
  const effects = transactionEffects(statements);
  if (effects[0] !== null && effects[0] !== 'opens') return 0;
  const end = effects.findIndex((e) => e === 'ends');
  return end < 0 ? statements.length : end;
}

/** The relations the prefix can lock for a statement, as locked (schema-qualified), or null for one it cannot. */
function lockableRelation(relations: RelationCatalog, qualified: string): string | null {
  const info = relations.get(qualified);
  return info === null || info.persistence === 'temporary' || info.lockable === undefined ? null : info.qualified;
}

/**
 * The relations, that the prefix could lock, named by statements of a string Gatehouse wraps that run
 * after the locks taken at its start have ended (after a COMMIT, ROLLBACK, ROLLBACK TO an older savepoint
 * or PREPARE TRANSACTION in it, or all of them when it starts with such a statement): they would run with
 * no lock between their decision and their start, which an earlier statement of the string can make as
 * long as the client likes (red-team round 16, R16-1 and R16-2). Gatehouse refuses such a string.
 */
export function relationsPastLocks(statements: readonly ParsedStatement[], relations: RelationCatalog | null): string[] {
  if (relations === null || statements.length === 0) return [];
  // One statement that is not transaction control ends no lock: nothing comes after it (no sets made for it).
  if (statements.length === 1 && statements[0]!.facts.kind !== 'transaction' && statements[0]!.facts.kind !== 'two_phase') return [];
  if (!wrappable(statements)) return [];
  const past = new Set<string>();
  for (const p of statements.slice(lockedSegment(statements))) {
    for (const t of [...p.facts.tablesRead, ...p.facts.tablesWritten]) {
      const locked = lockableRelation(relations, t.qualified);
      if (locked !== null) past.add(locked);
    }
  }
  return [...past].sort();
}

/** The refusal of such a string (0A000): what to send instead. */
export function pastLocksRefusal(past: readonly string[], decisionId: string | undefined): GatehouseError {
  return new GatehouseError(
    'FEATURE_NOT_SUPPORTED',
    `Gatehouse refused this query string: it uses ${past.join(', ')} after a statement that ends its transaction (COMMIT, ROLLBACK, ROLLBACK TO a savepoint set before the string, PREPARE TRANSACTION, or transaction control other than BEGIN at its start), where the locks Gatehouse takes when a string starts (so that no schema change comes between a statement's decision and its run) no longer hold, so none of it was run`,
    {
      ...(decisionId !== undefined ? { decisionId, detail: `decision ${decisionId}` } : {}),
      hint: 'Send the statements after that transaction control statement as a query string of their own.',
    },
  );
}

function build(statements: readonly ParsedStatement[], relations: RelationCatalog): LockPrefix | null {
  if (!wrappable(statements)) return null;
  const segment = lockedSegment(statements);
  if (segment === 0) return null;
  const modes = new Map<string, 'read' | 'write'>();
  for (const p of statements.slice(0, segment)) {
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
    // LOCK TABLE locks every partition and inheritance child too; a statement pruned at planning locks
    // only those it reads. A parent with many of them is locked alone (ONLY), so that strings on one key
    // of a table with thousands of partitions cannot fill the server's lock table (red-team round 16,
    // R16-4); its partitions' DDL locks are still checked when the statement is decided.
    const only = relations.descendants(qualified).length > MAX_DESCENDANTS_LOCKED ? 'ONLY ' : '';
    (asWrite ? write : read).push(only + quotedRelation(info.schema, info.name));
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
