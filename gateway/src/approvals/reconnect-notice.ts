// What a client is told when it connects again after its connection dropped while a statement was
// held: each request of this identity withdrawn because its client disconnected, or because the
// Gatehouse instance holding it stopped, in the last hour, named in a NoticeResponse (the statement
// did not run; run it again to ask again). Each request is told once per instance (another instance
// the client reaches may tell it again).

import type { Identity } from '../policy/types.ts';
import { INSTANCE_STOPPED_REASON, type ApprovalService } from './service.ts';
import type { ApprovalRequest } from './types.ts';

/** The reason a session gives when it withdraws the requests it held at disconnect (server.ts). */
export const DISCONNECT_REASON = 'the client disconnected';

/** How far back a dropped request is still told. */
const TOLD_FOR_MS = 3600_000;

export interface NoticeFields {
  message: string;
  detail: string;
  hint: string;
}

export class ReconnectNotices {
  private readonly told = new Set<string>();

  constructor(
    private readonly service: ApprovalService,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The notices for a new session of `identity` (none when nothing of its was dropped lately). */
  async forLogin(identity: Identity, sessionId: string): Promise<NoticeFields[]> {
    const since = this.now().getTime() - TOLD_FOR_MS;
    const dropped = (await this.service.withdrawnFor(identity, 200)).filter(
      (r) => r.sessionId !== sessionId && (r.closedReason === DISCONNECT_REASON || r.closedReason === INSTANCE_STOPPED_REASON) && r.closedAt !== null && Date.parse(r.closedAt) >= since && !this.told.has(r.id),
    );
    for (const r of dropped) this.told.add(r.id);
    if (this.told.size > 10_000) this.told.clear(); // bounded; a repeat after that is harmless
    return dropped.map(noticeFor);
  }
}

function noticeFor(r: ApprovalRequest): NoticeFields {
  return {
    message: `Gatehouse: approval request ${r.id} was withdrawn when ${r.closedReason === INSTANCE_STOPPED_REASON ? 'the Gatehouse holding it stopped' : 'your connection dropped'}; its statement did not run`,
    detail: `The ${r.statement.kind} held at ${r.createdAt} (fingerprint ${r.statement.fingerprint}) was withdrawn at ${r.closedAt ?? '?'}; approvers can no longer answer it.`,
    hint: 'Run the statement again to ask for approval again.',
  };
}
