// Opens the approvals of one gateway from its configuration: the store (memory or PostgreSQL),
// the service over it, the heartbeat and the sweeper that expires, voids and withdraws requests, and
// the notifications (from memory with the memory store; through the shared outbox with PostgreSQL).

import type { ApprovalAuditRecord } from '../audit/types.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { startHeartbeat } from './heartbeat.ts';
import { createMemoryStore } from './memory-store.ts';
import { createNotifier, targetKey, type NotificationOutcome } from './notifications/notifier.ts';
import { startOutbox } from './notifications/outbox.ts';
import { openPostgresStore } from './postgres-store.ts';
import { ApprovalService } from './service.ts';
import { startSweeper, type Sweeper } from './sweeper.ts';

export interface Approvals {
  service: ApprovalService;
  sweeper: Sweeper;
  /** Where approvers answer (told to held clients); null when there is no admin listener. */
  pageUrl(): string | null;
  setPageUrl(url: string): void;
  close(): Promise<void>;
}

export interface OpenApprovalsOptions {
  audit: (record: ApprovalAuditRecord) => void;
  activeRevision: () => string;
  onInfo?: (message: string) => void;
  /** Counts each notification's outcome (metrics). */
  countNotification?: (target: 'webhook' | 'slack', outcome: NotificationOutcome) => void;
}

export async function openApprovals(config: GatehouseConfig, options: OpenApprovalsOptions): Promise<Approvals> {
  const targets = config.approvals.notifications;
  const store =
    config.approvals.store === 'postgres' ? await openPostgresStore({ url: config.upstream.url, outboxTargets: targets.map(targetKey) }) : createMemoryStore();
  let pageUrl: string | null = config.approvals.pageUrl;
  const sending = {
    targets,
    pageUrl: () => pageUrl,
    log: options.onInfo ?? (() => undefined),
    ...(options.countNotification ? { count: options.countNotification } : {}),
  };
  // With an outbox, a change queues its notifications in its own transaction and any live instance
  // sends them; the instance that made the change only looks at once.
  const outbox = store.outbox ? startOutbox({ store, ...sending }) : null;
  const notifier = outbox === null ? createNotifier(sending) : null;
  const service = new ApprovalService({
    store,
    audit: options.audit,
    activeRevision: options.activeRevision,
    onEvent: (e) => (outbox === null ? notifier?.notify(e) : outbox.kick()),
  });
  // Other instances take this one for stopped when its heartbeat is older than the timeout: beat
  // five times per timeout, and sweep at least twice per timeout for theirs.
  const timeoutMs = config.approvals.heartbeatTimeoutSeconds * 1000;
  let heartbeat;
  try {
    heartbeat = await startHeartbeat(store, service.instanceId, Math.max(200, Math.floor(timeoutMs / 5)), options.onInfo);
  } catch (e) {
    await outbox?.close();
    await store.close().catch(() => undefined);
    throw e;
  }
  const sweeper = startSweeper(service, options.activeRevision, Math.min(5000, Math.floor(timeoutMs / 2)), options.onInfo, config.approvals.heartbeatTimeoutSeconds);
  options.onInfo?.(`approvals: ${store.kind} store${config.approvals.notifications.length === 0 ? '' : `, ${targets.length} notification target(s)${outbox === null ? '' : ' through the shared outbox'}`}`);
  return {
    service,
    sweeper,
    pageUrl: () => pageUrl,
    setPageUrl: (url) => (pageUrl = url),
    close: async () => {
      sweeper.stop();
      await heartbeat.stop();
      await notifier?.close();
      await outbox?.close();
      await store.close();
    },
  };
}
