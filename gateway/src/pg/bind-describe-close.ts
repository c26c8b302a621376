// The extended-protocol messages that name prepared statements and portals rather than carry SQL:
// Bind, Describe and Close, checked against the session's tables and sent upstream under the names
// Gatehouse gave them (pg/upstream-messages.ts), or refused in order (pg/session-refusals.ts).

import { randomUUID } from 'node:crypto';
import { GatehouseError } from '../errors.ts';
import type { FrontendMessage } from '../wire/frontend.ts';
import type { ArrivalLocks } from './arrival-locks.ts';
import { isReservedName, reservedName } from './cursor-names.ts';
import type { Pending } from './pending.ts';
import type { PortalTable } from './portal-table.ts';
import { refuseExtended, type RefusalHost } from './session-refusals.ts';
import { bindUpstream, closeUpstream, describeUpstream, unknownStatement } from './upstream-messages.ts';

/** What the three messages need of the session. */
export interface NamedMessagesHost extends RefusalHost {
  readonly portals: Pick<PortalTable, 'bind' | 'close' | 'describeTarget'>;
  /** Sends a client message (or what replaces it) upstream, expecting `expect`. */
  forward(raw: Buffer, expect: Pending): void;
}

type Message<T extends FrontendMessage['type']> = Extract<FrontendMessage, { type: T }>;

export class NamedMessages {
  constructor(
    private readonly s: NamedMessagesHost,
    private readonly locks: Pick<ArrivalLocks, 'beforeBind' | 'beforeDescribe'>,
  ) {}

  /** `lockAhead`: the Bind waited for the statements ahead of it (pg/statement-order.ts). */
  bind(msg: Message<'bind'>, raw: Buffer, lockAhead: boolean): void {
    if (isReservedName(msg.portal)) return refuseExtended(this.s, reservedName(msg.portal));
    const statement = this.s.statements.get(msg.statement);
    if (!statement) return refuseExtended(this.s, unknownStatement(msg.statement));
    const { portal, previous } = this.s.portals.bind(msg.portal, statement, msg.params, msg.resultFormats);
    const upstreamRaw = bindUpstream(msg, raw, statement, portal);
    this.locks.beforeBind(statement, lockAhead, portal);
    return this.s.forward(upstreamRaw, { kind: 'bind', portal, previous });
  }

  describe(msg: Message<'describe'>, raw: Buffer): void {
    if (msg.target === 'P') {
      const target = this.s.portals.describeTarget(msg.name);
      if (target instanceof GatehouseError) return refuseExtended(this.s, target);
      if (target === null) return this.s.forward(raw, { kind: 'describe', hidden: false, target: null, untracked: msg.name === '' });
      return this.s.forward(describeUpstream('P', msg.name, target.upstreamName, raw), { kind: 'describe', hidden: false, target });
    }
    const statement = this.s.statements.get(msg.name);
    if (!statement) return refuseExtended(this.s, unknownStatement(msg.name));
    this.locks.beforeDescribe(statement);
    return this.s.forward(describeUpstream('S', msg.name, statement.upstreamName, raw), { kind: 'describe', hidden: false, target: statement });
  }

  close(msg: Message<'close'>, raw: Buffer): void {
    if (msg.target === 'P') {
      if (isReservedName(msg.name)) return refuseExtended(this.s, reservedName(msg.name));
      // Closing a portal that does not exist is not an error in PostgreSQL; an untracked name
      // goes up as it is (at most a cursor this session DECLAREd: closing reveals nothing).
      const portal = this.s.portals.close(msg.name);
      return this.s.forward(portal ? closeUpstream('P', msg.name, portal.upstreamName, raw) : raw, { kind: 'close', portal });
    } else {
      // Closing a statement that does not exist is not an error in PostgreSQL.
      const statement = this.s.statements.get(msg.name) ?? null;
      this.s.statements.delete(msg.name);
      const upstreamName = statement?.upstreamName ?? `gatehouse.closed.${randomUUID()}`;
      return this.s.forward(closeUpstream('S', msg.name, upstreamName, raw), { kind: 'close-statement', statement });
    }
  }
}
