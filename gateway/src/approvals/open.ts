// Opens the approvals of one gateway from its configuration: the store (memory or PostgreSQL),
// the service over it, and the sweeper that expires and voids requests.

import type { ApprovalAuditRecord } from '../audit/types.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { createMemoryStore } from './memory-store.ts';
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
}

export async function openApprovals(config: GatehouseConfig, options: OpenApprovalsOptions): Promise<Approvals> {
  const store = config.approvals.store === 'postgres' ? await openPostgresStore({ url: config.upstream.url }) : createMemoryStore();
  const service = new ApprovalService({ store, audit: options.audit, activeRevision: options.activeRevision });
  const sweeper = startSweeper(service, options.activeRevision, 5000, options.onInfo);
  let pageUrl: string | null = config.approvals.pageUrl;
  options.onInfo?.(`approvals: ${store.kind} store`);
  return {
    service,
    sweeper,
    pageUrl: () => pageUrl,
    setPageUrl: (url) => (pageUrl = url),
    close: async () => {
      sweeper.stop();
      await store.close();
    },
  };
}
