import { describe, expect, it } from 'vitest';
import { ApprovalExposure } from './approval-exposure.ts';
import type { Portal, PreparedStatement } from './pending.ts';

const statement = (name: string): PreparedStatement => ({ name, upstreamName: name, sql: 'UPDATE t SET v = $1', preparedSql: 'UPDATE t SET v = $1', fields: null, awaitsApproval: true });
const portal = (s: PreparedStatement, name = ''): Portal => ({ name, upstreamName: name, statement: s, fields: null });

describe('ApprovalExposure', () => {
  it('its own Execute sends a held Parse and Bind: not exposed (the usual Parse, Bind, Describe, Execute)', () => {
    const e = new ApprovalExposure();
    const w = statement('w');
    const p = portal(w);
    e.hold(w, null);
    e.hold(w, p);
    expect(e.exposed(p)).toBe(false);
    e.released({ by: 'execute', portal: p });
    expect(e.exposed(p)).toBe(false);
  });

  it("another statement's Execute between a held Bind and its Execute exposes both the Parse and the Bind (R18a-4)", () => {
    const e = new ApprovalExposure();
    const w = statement('w');
    const p = portal(w, 'pw');
    e.hold(w, null);
    e.hold(w, p);
    e.released({ by: 'execute', portal: portal(statement('x')) });
    expect(e.exposed(p)).toBe(true);
    expect(e.exposed(portal(w, 'later'))).toBe(true); // its Parse went up: every portal of it in this transaction
  });

  it('an Execute of an untracked cursor, or a Flush, exposes what is held', () => {
    for (const release of [{ by: 'execute' as const, portal: null }, { by: 'flush' as const }]) {
      const e = new ApprovalExposure();
      const w = statement('w');
      const p = portal(w);
      e.hold(w, p);
      e.released(release);
      expect(e.exposed(p)).toBe(true);
      expect(e.exposed(portal(w, 'other'))).toBe(true); // that Bind went up and took the statement's locks (R20b-2)
    }
  });

  it('a Sync or Query ends the implicit transaction: nothing exposed after it (a statement prepared with Parse, Describe, Sync, then bound and run)', () => {
    const e = new ApprovalExposure();
    const w = statement('w');
    e.hold(w, null);
    e.released({ by: 'flush' });
    e.released({ by: 'end' });
    const p = portal(w);
    e.hold(w, p);
    expect(e.exposed(p)).toBe(false);
  });

  it('an Execute of another portal of the same statement sends its Parse but exposes the other Bind', () => {
    const e = new ApprovalExposure();
    const w = statement('w');
    const p1 = portal(w, 'p1');
    const p2 = portal(w, 'p2');
    e.hold(w, null);
    e.hold(w, p1);
    e.hold(w, p2);
    e.released({ by: 'execute', portal: p2 });
    expect(e.exposed(p1)).toBe(true);
    // p1's Bind took the statement's locks: a later Execute of p2 in this transaction would wait with them (R20b-2).
    expect(e.exposed(p2)).toBe(true);
  });

  it('R20b-2: a Bind that went up ahead (a Flush) exposes its statement: an Execute of another portal of it is refused too', () => {
    const e = new ApprovalExposure();
    const w = statement('w');
    const p1 = portal(w, 'p1');
    e.hold(w, p1);
    e.released({ by: 'flush' });
    const p2 = portal(w, 'p2');
    e.hold(w, p2);
    expect(e.exposed(p2)).toBe(true);
  });

  it('what is held after a release is held again', () => {
    const e = new ApprovalExposure();
    const w = statement('w');
    const p = portal(w);
    e.released({ by: 'flush' });
    e.hold(w, null);
    e.hold(w, p);
    expect(e.exposed(p)).toBe(false);
  });
});
