// The portals of one session as Gatehouse knows them. Each named portal the client binds is
// created upstream under a fresh reserved name (`gatehouse_<session>_c<n>`), never reused, so SQL
// (FETCH, MOVE, CLOSE, which share PostgreSQL's portal namespace) cannot reach it by the client's
// name, and a name always means the statement Gatehouse decided on. Changes are made when the
// client's Bind or Close goes out and undone when the server refuses or skips it (pg/upstream-relay.ts).

import { GatehouseError } from '../errors.ts';
import { isReservedName, reservedName } from './cursor-names.ts';
import type { Portal, PreparedStatement } from './pending.ts';

/**
 * An Execute or Describe of a portal Gatehouse cannot attribute: not bound through it (or its
 * Bind failed), and no cursor of that name was DECLAREd by this session. Refused rather than run
 * without knowing what it reads.
 */
function unknownPortal(name: string): GatehouseError {
  return new GatehouseError('UNKNOWN_PORTAL', `portal "${name}" does not exist`, {
    hint: 'Through Gatehouse, execute only portals bound with Bind on this connection, or cursors this session opened with DECLARE.',
  });
}

/** What a portal name in an Execute, Describe or Close refers to. */
export type PortalTarget =
  | { kind: 'portal'; portal: Portal } // bound through Gatehouse: decided on its statement
  | { kind: 'cursor' } // not bound here, but DECLAREd by SQL in this session (decided then)
  | { kind: 'unknown' };

export class PortalTable {
  private readonly byName = new Map<string, Portal>();
  /** Cursor names this session's SQL DECLAREs used (only grows: the server says whether one is open). */
  private readonly declared = new Set<string>();
  private counter = 0;

  /** `prefix`: the session's reserved prefix, e.g. `gatehouse_1a2b3c4d_`. */
  constructor(private readonly prefix: string) {}

  /** A Bind going out: the new portal, and the one it replaces in Gatehouse's view (for undo). */
  bind(name: string, statement: PreparedStatement, params: readonly (Buffer | null)[], resultFormats: readonly number[] = []): { portal: Portal; previous: Portal | null } {
    // The unnamed portal keeps its name: SQL cannot name it, and PostgreSQL replaces it at every Bind.
    const upstreamName = name === '' ? '' : `${this.prefix}c${++this.counter}`;
    const portal: Portal = { name, upstreamName, statement, fields: statement.fields, params, resultFormats };
    const previous = this.byName.get(name) ?? null;
    this.byName.set(name, portal);
    return { portal, previous };
  }

  /** A Close going out: the portal it closes in Gatehouse's view (for undo), or null. */
  close(name: string): Portal | null {
    const portal = this.byName.get(name) ?? null;
    this.byName.delete(name);
    return portal;
  }

  /** The server refused or skipped a Bind: Gatehouse's view goes back to what it replaced. */
  undoBind(portal: Portal, previous: Portal | null): void {
    if (this.byName.get(portal.name) !== portal) return;
    if (previous) this.byName.set(portal.name, previous);
    else this.byName.delete(portal.name);
  }

  /** The server refused or skipped a Close: the portal is still there. */
  undoClose(portal: Portal): void {
    if (!this.byName.has(portal.name)) this.byName.set(portal.name, portal);
  }

  noteDeclared(name: string): void {
    this.declared.add(name);
  }

  resolve(name: string): PortalTarget {
    const portal = this.byName.get(name);
    if (portal) return { kind: 'portal', portal };
    return this.declared.has(name) ? { kind: 'cursor' } : { kind: 'unknown' };
  }

  /**
   * What a Describe of this name reaches: as for an Execute (target), except that a Describe of the
   * unnamed portal Gatehouse did not bind goes upstream as it is (null). There it can only be the
   * portal of a simple-Query statement that failed in a transaction block, which PostgreSQL keeps
   * until the block ends and describes without running anything: 25P02 for one with columns, NoData
   * for one without (a COPY); else none (34000). A Describe reveals no rows.
   */
  describeTarget(name: string): Portal | null | GatehouseError {
    if (name === '' && this.resolve(name).kind === 'unknown') return null;
    return this.target(name);
  }

  /**
   * What an Execute or Describe of this name reaches: a portal bound through Gatehouse, null for a
   * cursor this session DECLAREd (forwarded under its own name), or the refusal.
   */
  target(name: string): Portal | null | GatehouseError {
    if (isReservedName(name)) return reservedName(name);
    const target = this.resolve(name);
    switch (target.kind) {
      case 'portal':
        return target.portal;
      case 'cursor':
        return null;
      case 'unknown':
        return unknownPortal(name);
      default: {
        const never: never = target;
        throw new Error(`unknown portal target ${JSON.stringify(never)}`);
      }
    }
  }
}
