// Sends each approval event to every configured target (approvals.notifications), in the
// background: the request is already saved when an event is announced, so a slow, failing or
// unreachable receiver never blocks or loses it. Failures go to the operator log and a counter.
// Logs name a target by its kind, position and host only: a Slack webhook URL is a secret.

import { createHash, randomUUID } from 'node:crypto';
import type { NotificationTarget } from '../../config/types.ts';
import { deliver, type Attempt } from './deliver.ts';
import { notificationDocument, type ApprovalEvent } from './event.ts';
import { ATTEMPT_HEADER, DELIVERY_HEADER, SIGNATURE_HEADER, signBody, TIMESTAMP_HEADER } from './signature.ts';
import { slackText } from './slack-text.ts';

export type NotificationOutcome = 'sent' | 'failed' | 'dropped';

export interface NotifierOptions {
  targets: readonly NotificationTarget[];
  /** The approval page's address, read when an event is sent; null when there is none. */
  pageUrl: () => string | null;
  /** The operator log. */
  log: (message: string) => void;
  /** Counts each delivery's outcome (gatehouse_approval_notifications_total). */
  count?: (target: NotificationTarget['kind'], outcome: NotificationOutcome) => void;
  now?: () => Date;
}

export interface Notifier {
  notify(event: ApprovalEvent): void;
  /** Deliveries still running or waiting to retry. */
  inFlight(): number;
  /** Stops retrying and waits for the deliveries under way to end. */
  close(): Promise<void>;
}

/** Deliveries waiting at once beyond which new ones are dropped (a receiver down for long). */
const MAX_IN_FLIGHT = 1000;

export function createNotifier(o: NotifierOptions): Notifier {
  const now = o.now ?? (() => new Date());
  const stop = new AbortController();
  const running = new Set<Promise<void>>();
  const names = o.targets.map(targetName);

  const send = async (target: NotificationTarget, name: string, event: ApprovalEvent): Promise<void> => {
    const deliveryId = randomUUID();
    const attempt = attemptFor(target, event, deliveryId, o.pageUrl(), now);
    const result = await deliver(target.url, target.delivery, attempt, stop.signal);
    if (result.ok) {
      o.count?.(target.kind, 'sent');
      if (result.attempts > 1) o.log(`approvals: ${name} for request ${event.request.id} (${event.kind}) sent after ${result.attempts} attempts`);
      return;
    }
    o.count?.(target.kind, 'failed');
    o.log(
      `approvals: ${name} for request ${event.request.id} (${event.kind}) failed after ${result.attempts} attempt(s): ${result.error}` +
        `${result.final ? '' : '; giving up'} (delivery ${deliveryId}; the request itself is unaffected)`,
    );
  };

  return {
    notify(event) {
      if (stop.signal.aborted) return;
      o.targets.forEach((target, i) => {
        if (running.size >= MAX_IN_FLIGHT) {
          o.count?.(target.kind, 'dropped');
          o.log(`approvals: ${names[i]} for request ${event.request.id} (${event.kind}) dropped: ${MAX_IN_FLIGHT} deliveries are already waiting`);
          return;
        }
        const p: Promise<void> = send(target, names[i]!, event)
          .catch((e: unknown) => o.log(`approvals: ${names[i]} failed: ${e instanceof Error ? e.message : String(e)}`))
          .finally(() => running.delete(p));
        running.add(p);
      });
    },
    inFlight: () => running.size,
    async close() {
      stop.abort();
      await Promise.allSettled([...running]);
    },
  };
}

/** The requests of one delivery, attempt n (signed at the attempt's time); `eventTime` is the document's `time` (default: now). */
export function attemptFor(target: NotificationTarget, event: ApprovalEvent, deliveryId: string, pageUrl: string | null, now: () => Date, eventTime: Date = now()): (n: number) => Attempt {
  switch (target.kind) {
    case 'webhook': {
      const body = JSON.stringify(notificationDocument(event, deliveryId, eventTime, pageUrl));
      return (n) => {
        const ts = Math.floor(now().getTime() / 1000);
        return { body, headers: { [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: signBody(target.secret, ts, body), [DELIVERY_HEADER]: deliveryId, [ATTEMPT_HEADER]: String(n) } };
      };
    }
    case 'slack': {
      const body = JSON.stringify({ text: slackText(event, pageUrl) });
      return (n) => ({ body, headers: { [ATTEMPT_HEADER]: String(n) } });
    }
    default: {
      const never: never = target;
      throw new Error(`unknown notification target ${String(never)}`);
    }
  }
}

/**
 * A target as the outbox names it: its kind and a hash of its URL and secret, the same on every
 * instance configured alike, and never the URL itself (a Slack webhook URL is a secret).
 */
export function targetKey(target: NotificationTarget): string {
  const secret = target.kind === 'webhook' ? target.secret : '';
  return `${target.kind}:${createHash('sha256').update(`${target.url}\n${secret}`).digest('hex').slice(0, 24)}`;
}

/** How the operator log names a target: kind, position and host (never the URL: it may be a secret). */
export function targetName(target: NotificationTarget, index: number): string {
  return `${target.kind} notification #${index + 1} (${hostOf(target.url)})`;
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'invalid URL';
  }
}
