// Opens the approvals of one gateway from its configuration: the store (memory or PostgreSQL),
// the service over it, the sweeper that expires and voids requests, and the notifications.

import type { ApprovalAuditRecord } from '../audit/types.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { createMemoryStore } from './memory-store.ts';
import { createNotifier, type NotificationOutcome } from './notifications/notifier.ts';
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
  const store = config.approvals.store === 'postgres' ? await openPostgresStore({ url: config.upstream.url }) : createMemoryStore();
  let pageUrl: string | null = config.approvals.pageUrl;
  const notifier = createNotifier({
    targets: config.approvals.notifications,
    pageUrl: () => pageUrl,
    log: options.onInfo ?? (() => undefined),
    ...(options.countNotification ? { count: options.countNotification } : {}),
  });
  const service = new ApprovalService({ store, audit: options.audit, activeRevision: options.activeRevision, onEvent: (e) => notifier.notify(e) });
  const sweeper = startSweeper(service, options.activeRevision, 5000, options.onInfo);
  options.onInfo?.(`approvals: ${store.kind} store${config.approvals.notifications.length === 0 ? '' : `, ${config.approvals.notifications.length} notification target(s)`}`);
  return {
    service,
    sweeper,
    pageUrl: () => pageUrl,
    setPageUrl: (url) => (pageUrl = url),
    close: async () => {
      sweeper.stop();
      await notifier.close();
      await store.close();
    },
  };
}
