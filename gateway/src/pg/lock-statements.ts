// The session's prepared lock statements: the DO block of `LOCK TABLE ... NOWAIT` Gatehouse sends ahead of an
// extended-protocol message (enforce/lock-ahead.ts, pg/arrival-locks.ts) is parsed once per relation set and
// session under a reserved name, then only bound, executed and its portal closed: three messages up and three
// answers in, their bytes encoded once, in place of six (Close, Parse, Bind, Execute, Close, Close) with the
// block's text parsed by the server every time. Every extended statement naming relations gets the block
// (red-team round 18a, R18a-3), so this is on the path of every such statement.
// A prepared statement outlives transactions and errors, but not a DEALLOCATE or DISCARD (the client's, or the
// pool's reset, which ends the session anyway): the session forgets its statements whenever a message that
// may drop them goes up (forget), and one is trusted only once the server answered its own Parse with
// ParseComplete; until then each use parses it again (Close first, so that a Parse already done is no
// 42P05). One dropped where Gatehouse cannot see it (a DEALLOCATE inside a function) fails the statement it
// was sent for once (26000, nothing of it run) and is parsed again at its next use. The block's relation names are resolved by PL/pgSQL at every run, not at Parse, so a prepared block
// locks what the names mean when it runs, as the one-shot block did. One dropped and replaced under its name
// (a DEALLOCATE and a PREPARE inside a function) runs the session's statement in its place and locks nothing:
// pg/lock-answers.ts ends the session on its tag, and only plain reads use prepared blocks (pg/arrival-locks.ts
// lockReuseSafe; red-team round 19a, R19a-1).

import { lockBlockSql } from '../enforce/lock-ahead.ts';
import type { LockPrefix } from '../enforce/lock-prefix.ts';
import { encodeBind, encodeClose, encodeExecute, encodeParse } from '../wire/frontend.ts';

/** What to send for one use of a block, how many answers it gets, and what to call at its ParseComplete. */
export interface LockBlockUse {
  messages: readonly Buffer[];
  answers: number;
  /** Called when the server answers this use's Parse with ParseComplete (null: no Parse sent). */
  parsed: (() => void) | null;
  /** Called when the block failed with 26000 (its statement gone: a DEALLOCATE run where Gatehouse could not see it, in a function, say). */
  lost: (() => void) | null;
}

interface Entry {
  /** Close (statement) and Parse, for a use that must prepare it first. */
  readonly prepare: readonly Buffer[];
  /** Bind, Execute, Close (portal). */
  readonly run: readonly Buffer[];
  /** Whether the server answered the latest Parse sent with ParseComplete, with nothing since that may drop it. */
  ready: boolean;
  /** Counts the Parses sent: a ParseComplete counts only for the latest (an earlier one may be undone by a later Close). */
  generation: number;
}

/** How a use's block is sent: the session's prepared statement, or parsed and dropped in one go (patient: retried, see use). */
export type LockBlockKind = 'prepared' | 'one-shot' | 'patient';

/** Relation sets prepared at most per session; a set beyond them gets the one-shot block (parsed and closed each time). */
export const MAX_LOCK_STATEMENTS = 32;

export class LockStatements {
  private readonly byText = new Map<string, Entry>();

  /** `name`: the session's reserved name (its portal; statements are `name` + a number, the one-shot one `name`). */
  constructor(private readonly name: string) {}

  /**
   * `kind`: 'prepared' (a plain read: pg/arrival-locks.ts lockReuseSafe), 'one-shot' (anything else), or
   * 'patient' (a write released after its approval, whose block tries its locks again briefly,
   * enforce/lock-ahead.ts lockBlockSql: rare, so sent one-shot, never prepared).
   */
  use(prefix: LockPrefix, kind: LockBlockKind = 'prepared'): LockBlockUse {
    const entry = kind === 'prepared' ? this.entry(prefix) : null;
    if (entry === null) return this.oneShot(prefix, kind === 'patient');
    const lost = (): void => {
      entry.ready = false;
      entry.generation++;
    };
    if (entry.ready) return { messages: entry.run, answers: entry.run.length, parsed: null, lost };
    const generation = ++entry.generation;
    return {
      messages: [...entry.prepare, ...entry.run],
      answers: entry.prepare.length + entry.run.length,
      parsed: () => {
        if (entry.generation === generation) entry.ready = true;
      },
      lost,
    };
  }

  /** A message that may drop the session's prepared statements went up (DEALLOCATE, DISCARD, a Query not read). */
  forget(): void {
    for (const entry of this.byText.values()) {
      entry.ready = false;
      entry.generation++;
    }
  }

  private entry(prefix: LockPrefix): Entry | null {
    const known = this.byText.get(prefix.text);
    if (known !== undefined) return known;
    if (this.byText.size >= MAX_LOCK_STATEMENTS) return null;
    const statement = `${this.name}${this.byText.size + 1}`;
    const entry: Entry = {
      prepare: [encodeClose('S', statement), encodeParse({ name: statement, sql: lockBlockSql(prefix), paramTypes: [] })],
      run: [encodeBind({ portal: this.name, statement, paramFormats: [], params: [], resultFormats: [] }), encodeExecute(this.name, 0), encodeClose('P', this.name)],
      ready: false,
      generation: 0,
    };
    this.byText.set(prefix.text, entry);
    return entry;
  }

  /**
   * The block parsed, run and dropped in one go. The first Close drops the statement a block of the session left
   * prepared when its Execute failed (the server skipped its Closes with the client's messages to the Sync):
   * one name, so at most one is ever left (red-team round 17b, R17b-3).
   */
  private oneShot(prefix: LockPrefix, patient: boolean): LockBlockUse {
    const n = this.name;
    const messages = [
      encodeClose('S', n),
      encodeParse({ name: n, sql: lockBlockSql(prefix, patient), paramTypes: [] }),
      encodeBind({ portal: n, statement: n, paramFormats: [], params: [], resultFormats: [] }),
      encodeExecute(n, 0),
      encodeClose('P', n),
      encodeClose('S', n),
    ];
    return { messages, answers: messages.length, parsed: null, lost: null };
  }
}
