// Whether the Parse or Bind of a statement held for approval went up to the server ahead of its Execute in
// the transaction still open, so that an approval wait at that Execute would hold their locks (red-team round
// 18a, R18a-4). They wait in Gatehouse with the Execute (pg/arrival-locks.ts, pg/session-output.ts
// holdUpstream) until one of three things sends them: that statement's own Execute (then nothing waits with
// them), another statement's Execute (its answer is needed first: pg/statement-order.ts), or a Flush (the
// client's, or Gatehouse's for a message parked behind the statements ahead). The last two expose them:
// their locks are then held on the server until the transaction ends. A Sync or a Query ends the implicit
// transaction (an explicit block goes on, and its own locks are the client's: docs/approvals.md, "Locks
// during the wait"), and with it what was exposed.

import type { Portal, PreparedStatement } from './pending.ts';

/** A held Parse or Describe (portal null) or Bind of a statement awaiting approval, not yet sent. */
interface Held {
  statement: PreparedStatement;
  portal: Portal | null;
}

/** Why held messages were sent: an Execute of `portal` (null: a cursor Gatehouse does not track), a Flush, or a Sync or Query. */
export type HeldRelease = { by: 'execute'; portal: Portal | null } | { by: 'flush' } | { by: 'end' };

export class ApprovalExposure {
  private held: Held[] = [];
  /** Statements whose Parse, and portals whose Bind, went up ahead of their Execute since the last Sync or Query. */
  private statements = new WeakSet<PreparedStatement>();
  private portals = new WeakSet<Portal>();

  /** A Parse or Describe (portal null) or Bind of `statement`, which awaits approval, is queued and held. */
  hold(statement: PreparedStatement, portal: Portal | null): void {
    this.held.push({ statement, portal });
  }

  /** What was held goes up now, for `release`'s reason. */
  released(release: HeldRelease): void {
    switch (release.by) {
      case 'end':
        this.held = [];
        this.statements = new WeakSet();
        this.portals = new WeakSet();
        return;
      case 'execute':
      case 'flush': {
        // Its own Execute sends a portal's Bind, and its statement's Parse, with nothing to wait for.
        const own = release.by === 'execute' ? release.portal : null;
        // A Bind that went up took its statement's locks (PostgreSQL locks the plan's relations there, held to the
        // end of the transaction): every later Execute of that statement would wait with them, whatever its
        // portal (red-team round 20b, R20b-2).
        for (const h of this.held) {
          if (h.portal === null && h.statement !== own?.statement) this.statements.add(h.statement);
          else if (h.portal !== null && h.portal !== own) {
            this.portals.add(h.portal);
            this.statements.add(h.statement);
          }
        }
        this.held = [];
        return;
      }
      default: {
        const never: never = release;
        throw new Error(`unknown release ${JSON.stringify(never)}`);
      }
    }
  }

  /** Whether an Execute of `portal` waiting for approval would hold locks its own Parse or Bind took. */
  exposed(portal: Portal): boolean {
    return this.portals.has(portal) || this.statements.has(portal.statement);
  }
}
