// Closes what time, policy changes and stopped instances end, on a timer: pending requests whose
// TTL passed (expired), those asked for by a policy commit that is no longer active (void), and
// those whose statement was held by an instance that stopped (withdrawn). Several instances may
// sweep the same store: each close is a locked, idempotent change.

import type { ApprovalService } from './service.ts';

export interface Sweeper {
  /** Runs one sweep now (tests, and after a policy activation). */
  sweep(): Promise<void>;
  stop(): void;
}

export function startSweeper(
  service: ApprovalService,
  activeRevision: () => string,
  everyMs = 5000,
  onError: (message: string) => void = () => undefined,
  /** An instance whose heartbeat is older than this is taken for stopped. */
  staleAfterSeconds = 15,
): Sweeper {
  let running: Promise<void> | null = null;
  const sweep = (): Promise<void> => {
    running ??= (async () => {
      try {
        await service.expireDue();
        await service.voidStale(activeRevision());
        await service.withdrawOrphans(staleAfterSeconds);
      } catch (e) {
        onError(`approvals: sweep failed: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        running = null;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void sweep(), everyMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
