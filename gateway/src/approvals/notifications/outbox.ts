// Delivers the notifications queued in the shared store's outbox (postgres-store.ts), on every live
// instance: each claims due items under a lease, makes one attempt each, and records the result or
// the next attempt's time (the target's backoff, doubled each time). An instance that stops mid-way
// leaves its claims to expire, and another instance sends them: at-least-once, with the same
// delivery id in every attempt, so receivers drop duplicates.

import type { NotificationTarget } from '../../config/types.ts';
import type { ApprovalStore, OutboxItem } from '../store.ts';
import { deliver } from './deliver.ts';
import { attemptFor, targetKey, targetName, type NotificationOutcome } from './notifier.ts';

export interface OutboxOptions {
  store: ApprovalStore;
  targets: readonly NotificationTarget[];
  pageUrl: () => string | null;
  log: (message: string) => void;
  count?: (target: NotificationTarget['kind'], outcome: NotificationOutcome) => void;
  /** How often due items are looked for (default 1000 ms); kick() looks at once. */
  pollMs?: number;
  now?: () => Date;
}

export interface Outbox {
  /** Looks for due items now (after a change queued one). */
  kick(): void;
  /** Stops; items in flight are released for another instance (or the next start). */
  close(): Promise<void>;
}

/** The longest wait between two attempts, as deliver.ts. */
const MAX_BACKOFF_MS = 300_000;
const BATCH = 20;

export function startOutbox(o: OutboxOptions): Outbox {
  const now = o.now ?? (() => new Date());
  const byKey = new Map(o.targets.map((t, i) => [targetKey(t), { target: t, name: targetName(t, i) }]));
  const keys = [...byKey.keys()];
  // A claim outlives one attempt of the slowest target by a margin; then another instance may retry.
  const leaseSeconds = Math.ceil(Math.max(...o.targets.map((t) => t.delivery.timeoutMs)) / 1000) + 30;
  const stop = new AbortController();
  let running: Promise<void> | null = null;
  let again = false;

  const sendOne = async (item: OutboxItem): Promise<void> => {
    const entry = byKey.get(item.target);
    if (entry === undefined) return;
    const { target, name } = entry;
    const attempt = attemptFor(target, { kind: item.kind, request: item.request }, item.id, o.pageUrl(), now, new Date(item.createdAt));
    // One attempt here, numbered across instances and restarts by the outbox's count.
    const result = await deliver(target.url, { ...target.delivery, attempts: 1 }, () => attempt(item.attempts), stop.signal);
    if (stop.signal.aborted && !result.ok) {
      await o.store.finishNotification(item.id, { release: true }).catch(() => undefined);
      return;
    }
    if (result.ok) {
      await o.store.finishNotification(item.id, { outcome: 'sent' });
      o.count?.(target.kind, 'sent');
      if (item.attempts > 1) o.log(`approvals: ${name} for request ${item.request.id} (${item.kind}) sent after ${item.attempts} attempts`);
      return;
    }
    if (result.final || item.attempts >= target.delivery.attempts) {
      await o.store.finishNotification(item.id, { outcome: 'failed', error: result.error });
      o.count?.(target.kind, 'failed');
      o.log(`approvals: ${name} for request ${item.request.id} (${item.kind}) failed after ${item.attempts} attempt(s): ${result.error}; giving up (delivery ${item.id}; the request itself is unaffected)`);
      return;
    }
    await o.store.finishNotification(item.id, { retryInMs: Math.min(MAX_BACKOFF_MS, target.delivery.backoffMs * 2 ** (item.attempts - 1)), error: result.error });
  };

  const drain = (): Promise<void> => {
    if (running !== null) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          if (stop.signal.aborted) return;
          const items = await o.store.claimNotifications(keys, BATCH, leaseSeconds);
          await Promise.all(items.map((item) => sendOne(item).catch((e: unknown) => o.log(`approvals: notification ${item.id} could not be recorded: ${e instanceof Error ? e.message : String(e)}`))));
          if (items.length === BATCH) again = true;
        } while (again);
      } catch (e) {
        if (!stop.signal.aborted) o.log(`approvals: reading the notification outbox failed: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        running = null;
      }
    })();
    return running;
  };

  const timer = setInterval(() => void drain(), o.pollMs ?? 1000);
  timer.unref();
  return {
    kick: () => void drain(),
    close: async () => {
      clearInterval(timer);
      stop.abort();
      await running;
    },
  };
}
