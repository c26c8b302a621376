// A snapshot of something read from the upstream database's catalog (routines, relations), loaded
// on demand over Gatehouse's catalog connection, kept for decisions to read synchronously, and
// reloaded in the background once stale: stale-while-revalidate, one load in flight at a time.

import type pg from 'pg';

/** The latest snapshot for one database. */
export class CatalogSnapshot<T extends { loadedAt: number }> {
  private latest: T | null = null;
  private loading: Promise<T> | null = null;

  constructor(
    private readonly connect: () => Promise<pg.Client>,
    private readonly read: (client: pg.Client) => Promise<T>,
    private readonly refreshAfterMs: number,
  ) {}

  /** Loads a snapshot unless a fresh one is there (or `force`); rejects when the database cannot be read. */
  async load(force = false): Promise<T> {
    if (!force && this.latest !== null && !this.stale()) return this.latest;
    this.loading ??= this.connect()
      .then(this.read)
      .then(
        (snapshot) => {
          this.latest = snapshot;
          this.loading = null;
          return snapshot;
        },
        (e: unknown) => {
          this.loading = null;
          throw e;
        },
      );
    return this.loading;
  }

  /** Resolves once a first load has been tried (at most after `timeoutMs`); later calls do not wait. */
  async ready(timeoutMs = 5_000): Promise<void> {
    if (this.latest !== null) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([this.load().then(() => undefined, () => undefined), timeout]);
    clearTimeout(timer);
  }

  /**
   * The snapshot to decide with now: null when none could be loaded yet (what needs it then fails
   * closed). A stale one is still returned while a newer one loads in the background.
   */
  current(): T | null {
    if (this.latest === null || this.stale()) void this.load().catch(() => undefined);
    return this.latest;
  }

  /** Asks for a reload soon (something was named that the snapshot does not know yet). */
  refreshSoon(): void {
    if (this.latest !== null && Date.now() - this.latest.loadedAt < 1_000) return;
    void this.load(true).catch(() => undefined);
  }

  private stale(): boolean {
    return this.latest !== null && Date.now() - this.latest.loadedAt > this.refreshAfterMs;
  }
}
