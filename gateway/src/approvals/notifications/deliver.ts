// Delivers one notification: POSTs it, and retries with exponential backoff on network errors,
// timeouts, 408, 429 and 5xx, up to the target's attempts. Other answers (4xx) are final. Each
// attempt rebuilds its request (a signed webhook is signed again with a fresh timestamp).

import type { DeliveryPolicy } from '../../config/types.ts';

export interface Attempt {
  body: string;
  headers: Record<string, string>;
}

export type DeliveryResult =
  | { ok: true; attempts: number; status: number }
  | { ok: false; attempts: number; error: string; /** Whether the last failure was final (4xx) or attempts ran out. */ final: boolean };

/** The longest wait between two attempts. */
const MAX_BACKOFF_MS = 300_000;

export async function deliver(url: string, policy: DeliveryPolicy, attempt: (n: number) => Attempt, signal: AbortSignal): Promise<DeliveryResult> {
  let error = 'not attempted';
  for (let n = 1; n <= policy.attempts; n++) {
    if (signal.aborted) return { ok: false, attempts: n - 1, error: `stopped (Gatehouse is shutting down) after: ${error}`, final: true };
    const a = attempt(n);
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'gatehouse-approvals', ...a.headers },
        body: a.body,
        redirect: 'error',
        signal: AbortSignal.any([signal, AbortSignal.timeout(policy.timeoutMs)]),
      });
      // The receiver's answer body is not needed; reading it frees the connection.
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return { ok: true, attempts: n, status: res.status };
      error = `HTTP ${res.status}`;
      if (!retryable(res.status)) return { ok: false, attempts: n, error, final: true };
    } catch (e) {
      error = describe(e, policy.timeoutMs);
    }
    if (n < policy.attempts) await sleep(Math.min(MAX_BACKOFF_MS, policy.backoffMs * 2 ** (n - 1)), signal);
  }
  return { ok: false, attempts: policy.attempts, error, final: false };
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function describe(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'aborted';
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause : null;
  const code = cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : null;
  return code ?? (cause?.message ?? (e instanceof Error ? e.message : String(e)));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
