// Red-team round 20c: the revision fence (pg/revision-fence.ts) attacked from the cursor side. Real Gatehouse,
// real PostgreSQL, both engines, the policy activated from git as in production (as redteam-round20a-activation).
// Each test asserts the SECURE behaviour; an `it.fails` is an open finding.
//
// Findings:
// R20c-1 (medium, FIXED: a cursor effect now applies at the statement's CommandComplete, RevisionFence.completed,
//   called from the relay's completeStatement; both tests failed before): the fence stamped a cursor's revision when a DECLARE is FORWARDED, not when it
//   SUCCEEDS. A WITH HOLD cursor declared while a column is readable raw survives a policy activation that
//   masks it; the client then sends `DECLARE <same name> CURSOR FOR SELECT 1` outside a block (PostgreSQL
//   refuses it: 25P01, and the old cursor is untouched) and the fence now believes the cursor was declared
//   under the new revision: FETCH returns the raw values the new policy masks. Revocation lag for the life of
//   the session (the R20a-3 hole, reopened).
// R20c-2 (medium, FIXED with R20c-1): the same with CLOSE: a `CLOSE <name>` that PostgreSQL never runs (sent in an aborted
//   block: 25P02, or after a failing statement in the same simple-query string) makes the fence forget the
//   cursor, so its FETCH is no longer fenced.
//   Principled fix for both: apply a statement's cursor effect on its CommandComplete (DECLARE CURSOR /
//   CLOSE CURSOR / CLOSE CURSOR ALL), not when forwarded; or, simpler and fail-closed, never let a
//   DECLARE lower a known cursor's fence (keep the OLDEST revision of a name until a CLOSE completes) and
//   forget cursors only on a completed CLOSE or an idle ReadyForQuery 'I' for non-hold ones. A fence that
//   asks the server (pg_cursors: name, creation_time) on a FETCH after an activation would not need
//   prediction at all.
//
// Held (tests below, both engines): the R20a-3 control; a named portal bound in a block before the
//   activation and continued after it (Execute with a row limit, across Sync): 40001; a fenced WITH HOLD
//   cursor after another name is declared and closed, and MOVE + FETCH of it in a BEGIN ... COMMIT string:
//   40001; COMMIT AND CHAIN before the activation: the chained block is refused, one chained after it reads
//   masked; autocommit after an extended batch whose BEGIN PostgreSQL skipped (error ahead of it): not
//   refused, masked.
// Not tried for lack of time: a cursor opened inside a PL function (refcursor), PREPARE TRANSACTION, the
//   protocol differential fuzzer (scripts/fuzz-protocol.ts) with activations between batches.
//
// Run: GATEHOUSE_TEST_DB=gh_rt20c npx vitest run --project integration gateway/test/redteam-round20c.test.ts

import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { useLedgerGateway } from './support/ledger-activation.ts';
import { shown } from './support/shown-text.ts';
import { WireClient, errorCodes, rowsOf, serialize } from './support/wire-client.ts';
import { mintDevToken } from '../src/auth/dev-keys.ts';

const SECRET = '731-20-5252';

const outcome = (p: Promise<pg.QueryResult>): Promise<unknown> => p.then((r) => r.rows, (e: pg.DatabaseError) => e.code);

for (const engine of ['rego', 'cedar'] as const) {
  describe(`red-team round 20c: the revision fence's cursor bookkeeping (${engine})`, () => {
    const ledger = useLedgerGateway('r20c', engine, SECRET, false);
    const reader = (): Promise<pg.Client> => ledger.reader();
    const activate = (masked: boolean): Promise<void> => ledger.activate(masked);
    /** A WITH HOLD cursor `name` declared while the secret is raw, then the mask activated. */
    const holdThenMask = async (c: pg.Client, name: string): Promise<void> => {
      await activate(false);
      await c.query('BEGIN');
      await c.query(`DECLARE ${name} CURSOR WITH HOLD FOR SELECT secret FROM public.r20c_ledger`);
      await c.query('COMMIT');
      await activate(true);
      expect(await outcome((await reader()).query('SELECT secret FROM public.r20c_ledger'))).toEqual([{ secret: '***' }]);
    };



    it('control: FETCH of a WITH HOLD cursor declared before the activation is refused (R20a-3 holds)', async () => {
      const c = await reader();
      try {
        await holdThenMask(c, 'h0');
        const got = await outcome(c.query('FETCH ALL FROM h0'));
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001');
      } finally {
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('R20c-1: a DECLARE of the same name that PostgreSQL refuses does not re-stamp the old cursor', async () => {
      const c = await reader();
      try {
        await holdThenMask(c, 'h1');
        // Outside a block, a cursor without HOLD is refused by PostgreSQL (25P01); h1 is untouched.
        expect(await outcome(c.query('DECLARE h1 CURSOR FOR SELECT 1'))).toBe('25P01');
        const got = await outcome(c.query('FETCH ALL FROM h1'));
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001');
      } finally {
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('R20c-2: a CLOSE that PostgreSQL never runs (aborted block) does not unfence the cursor', async () => {
      const c = await reader();
      try {
        await holdThenMask(c, 'h2');
        await c.query('BEGIN');
        expect(await outcome(c.query('SELECT 1/0'))).toBe('22012');
        expect(await outcome(c.query('CLOSE h2'))).toBe('25P02');
        await c.query('ROLLBACK');
        const got = await outcome(c.query('FETCH ALL FROM h2'));
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001');
      } finally {
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });
    const wire = async (): Promise<WireClient> =>
      WireClient.connect(ledger.gw.port, await mintDevToken({ keyDir: join(ledger.workDir, 'keys'), subject: `r20c-reader-${engine}`, groups: ['r20c-readers'], ttlSeconds: 600 }));

    it('held: a named portal bound in a block before the activation, continued after it (Execute with a row limit), is refused', async () => {
      await ledger.direct.query(`DELETE FROM public.r20c_ledger; INSERT INTO public.r20c_ledger VALUES (1, '${SECRET}'), (2, '${SECRET}')`);
      await activate(false);
      const w = await wire();
      try {
        w.send(serialize.query('BEGIN'));
        expect(errorCodes((await w.untilReady(1))[0]!)).toEqual([]);
        w.send(serialize.parse({ name: 's1', text: 'SELECT secret FROM public.r20c_ledger ORDER BY id' }), serialize.bind({ statement: 's1', portal: 'p1' }), serialize.execute({ portal: 'p1', rows: 1 }), serialize.sync());
        const [first] = await w.untilReady(1);
        expect(errorCodes(first!)).toEqual([]);
        await activate(true);
        w.send(serialize.execute({ portal: 'p1', rows: 0 }), serialize.sync());
        const [rest] = await w.untilReady(1);
        expect(shown(rowsOf(rest!))).not.toContain(SECRET);
        expect(errorCodes(rest!)).toEqual(['40001']);
      } finally {
        w.close();
        await ledger.direct.query(`DELETE FROM public.r20c_ledger; INSERT INTO public.r20c_ledger VALUES (1, '${SECRET}')`);
      }
    });

    it('held: a WITH HOLD cursor stays fenced after another name is declared and closed, and a MOVE then FETCH of it in one string is refused', async () => {
      const c = await reader();
      try {
        await holdThenMask(c, 'h3');
        // Another cursor closed and declared under the new revision leaves h3 fenced.
        await c.query('BEGIN; DECLARE other CURSOR WITH HOLD FOR SELECT 1; COMMIT');
        await c.query('CLOSE other');
        expect(await outcome(c.query('FETCH ALL FROM h3'))).toBe('40001');
        expect(await outcome(c.query('BEGIN; MOVE ABSOLUTE 0 IN h3; FETCH ALL FROM h3; COMMIT'))).toBe('40001');
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.query('CLOSE ALL').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('held: COMMIT AND CHAIN across the activation starts the next block under the new revision (masked), and a block opened by COMMIT AND CHAIN before it is refused', async () => {
      const c = await reader();
      try {
        await activate(false);
        await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
        expect(await outcome(c.query('SELECT secret FROM public.r20c_ledger'))).toEqual([{ secret: SECRET }]);
        await c.query('COMMIT AND CHAIN');
        await activate(true);
        const got = await outcome(c.query('SELECT secret FROM public.r20c_ledger'));
        expect(shown(got)).not.toContain(SECRET);
        expect(got).toBe('40001');
        await c.query('ROLLBACK');
        await c.query('BEGIN');
        await c.query('COMMIT AND CHAIN');
        expect(await outcome(c.query('SELECT secret FROM public.r20c_ledger'))).toEqual([{ secret: '***' }]);
        await c.query('COMMIT');
      } finally {
        await c.query('ROLLBACK').catch(() => undefined);
        await c.end().catch(() => undefined);
      }
    });

    it('held: autocommit traffic after an extended batch that failed before its BEGIN is not refused after the activation (and reads masked)', async () => {
      const w = await wire();
      try {
        await activate(false);
        // An error ahead of BEGIN in one batch: PostgreSQL skips the BEGIN; the session is idle after Sync.
        w.send(serialize.parse({ text: 'SELECT 1/0' }), serialize.bind({}), serialize.execute({}), serialize.parse({ text: 'BEGIN' }), serialize.bind({}), serialize.execute({}), serialize.sync());
        const [failed] = await w.untilReady(1);
        expect(errorCodes(failed!)).toEqual(['22012']);
        await activate(true);
        w.send(serialize.query('SELECT secret FROM public.r20c_ledger'));
        const [after] = await w.untilReady(1);
        expect(errorCodes(after!)).toEqual([]);
        expect(rowsOf(after!)).toEqual([['***']]);
      } finally {
        w.close();
      }
    });
  });
}
