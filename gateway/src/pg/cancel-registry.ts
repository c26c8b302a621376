// Maps the backend keys Gatehouse gives clients to the upstream backend each session runs on, so
// a CancelRequest reaches the right backend while the upstream keys never leave Gatehouse.

import { randomBytes, timingSafeEqual } from 'node:crypto';

/** Logins served by one draw from the CSPRNG (8 bytes each): one system call per 512 logins, not per login. */
const DRAW_BYTES = 4096;

export interface UpstreamBackend {
  processId: number;
  secretKey: Buffer;
  /** Told of each cancel forwarded to this backend (a pooled backend waits for it before serving another client). */
  cancelling?(sent: Promise<unknown>): void;
}

export interface ClientKey {
  processId: number;
  secretKey: Buffer;
}

export class CancelRegistry {
  private readonly byPid = new Map<number, { key: Buffer; upstream: UpstreamBackend; local: (() => boolean) | null }>();
  /** Unused random bytes from the last draw; every login takes bytes nobody else got, never reused. */
  private random = Buffer.alloc(0);
  private taken = 0;

  private nextRandom(): Buffer {
    if (this.taken + 8 > this.random.length) {
      this.random = randomBytes(DRAW_BYTES);
      this.taken = 0;
    }
    const bytes = this.random.subarray(this.taken, this.taken + 8);
    this.taken += 8;
    return bytes;
  }

  /** Issues a fresh (pid, key) pair for a client session. */
  register(upstream: UpstreamBackend): ClientKey {
    // Eight CSPRNG bytes per login: a positive 31-bit process id and a 4-byte key.
    let processId: number;
    let secretKey: Buffer;
    do {
      const bytes = this.nextRandom();
      processId = bytes.readUInt32BE(0) & 0x7fffffff;
      secretKey = Buffer.from(bytes.subarray(4)); // a copy: a live session does not keep the whole draw
    } while (processId === 0 || this.byPid.has(processId));
    this.byPid.set(processId, { key: secretKey, upstream, local: null });
    return { processId, secretKey };
  }

  /**
   * What a valid CancelRequest also does inside Gatehouse (refuse a statement still being decided);
   * it returns whether the server should get the cancel too (false when only Gatehouse's own work
   * runs there: a cancel hitting it would stay pending in the backend and stop the client's next
   * statement, where PostgreSQL would have ignored it on an idle session).
   */
  onLocalCancel(processId: number, local: () => boolean): void {
    const entry = this.byPid.get(processId);
    if (entry) entry.local = local;
  }

  /** Runs the session's local cancel (call only after lookup() accepted the keys): whether to cancel upstream too. */
  cancelLocally(processId: number): boolean {
    return this.byPid.get(processId)?.local?.() ?? true;
  }

  unregister(processId: number): void {
    this.byPid.delete(processId);
  }

  /** The upstream backend for a client's cancel keys, or null if they do not match a live session. */
  lookup(processId: number, secretKey: Buffer): UpstreamBackend | null {
    const entry = this.byPid.get(processId);
    if (!entry || entry.key.length !== secretKey.length || !timingSafeEqual(entry.key, secretKey)) return null;
    return entry.upstream;
  }
}
