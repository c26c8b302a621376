// Polling for tests that wait on another process or an asynchronous effect: a test fails at the
// timeout, a safety net for a noisy machine, instead of hanging (no duration is asserted).

/** Polls until `check` returns a value other than undefined and returns it; throws naming `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
