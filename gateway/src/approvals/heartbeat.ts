// This instance's heartbeat in the shared approval store: written on a timer so that the other
// instances know its held statements are still alive; when it stops (or its heartbeat goes stale)
// they withdraw its pending requests (service.ts withdrawOrphans) instead of waiting for their TTL.

import type { ApprovalStore } from './store.ts';

export interface Heartbeat {
  /** Stops beating and marks the instance stopped, so the others withdraw its requests at once. */
  stop(): Promise<void>;
}

/** Beats once before it returns (no request is opened before the instance is known), then every `everyMs`. */
export async function startHeartbeat(store: ApprovalStore, instanceId: string, everyMs: number, onError: (message: string) => void = () => undefined): Promise<Heartbeat> {
  await store.heartbeat(instanceId);
  let beating: Promise<void> | null = null;
  const timer = setInterval(() => {
    beating ??= store
      .heartbeat(instanceId)
      .catch((e: unknown) => onError(`approvals: heartbeat failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (beating = null));
  }, everyMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await beating;
      await store.markStopped(instanceId).catch((e: unknown) => onError(`approvals: marking this instance stopped failed: ${e instanceof Error ? e.message : String(e)}`));
    },
  };
}
