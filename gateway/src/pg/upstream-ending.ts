// Letting go of a session's upstream connection: detaching the session's listeners (a pooled
// connection handed back), or ending it from this side and waiting, bounded, for the server to
// close it (a client that left while the server still owed the answer to a schema change).

import type { Socket } from 'node:net';
import type { UpstreamHandback } from './upstream-lease.ts';

/** The session's listeners on the upstream socket. */
export interface UpstreamListeners {
  data: (chunk: Buffer) => void;
  error: (e: Error) => void;
  close: () => void;
  drain: () => void;
}

/**
 * How long a session whose client left during a schema change waits for the server to end the
 * upstream connection (endAfterServer) before it is destroyed and the snapshots read anyway.
 */
export const UPSTREAM_END_WAIT_MS = 60_000;

export function attachUpstream(upstream: Socket, listeners: UpstreamListeners): void {
  upstream.on('data', listeners.data);
  upstream.on('error', listeners.error);
  upstream.on('close', listeners.close);
  upstream.on('drain', listeners.drain);
}

export function detachUpstream(upstream: Socket, listeners: UpstreamListeners): void {
  upstream.off('data', listeners.data);
  upstream.off('error', listeners.error);
  upstream.off('close', listeners.close);
  upstream.off('drain', listeners.drain);
}

/**
 * Ends the connection from this side, discarding the server's answers, and calls `closed` once the
 * server has closed it (at most UPSTREAM_END_WAIT_MS later, then destroyed), or at once when it is
 * gone already. The server runs what it was sent (and commits it, when it commits) before it reads
 * the end of the stream.
 */
export function endAfterServer(upstream: Socket, listeners: UpstreamListeners, closed: () => void): void {
  if (upstream.destroyed) {
    // The server side is gone already (the session closes because of it).
    upstream.destroy();
    closed();
    return;
  }
  detachUpstream(upstream, listeners);
  upstream.on('error', () => undefined);
  upstream.on('data', () => undefined);
  const bound = setTimeout(() => upstream.destroy(), UPSTREAM_END_WAIT_MS);
  bound.unref?.();
  upstream.once('close', () => {
    clearTimeout(bound);
    closed();
  });
  upstream.end();
  upstream.resume();
}

/**
 * Lets go of the upstream connection at the session's end: handed back idle (the session's listeners
 * detached) or destroyed, then `released`. When a schema change the server still owed may commit after
 * the client left (`catalogMayChange`), the snapshots are read again (`catalogChanged`) first; and a
 * spent connection is then ended from this side, its answers discarded: the server runs the change (and
 * commits it, when it commits) before it reads what follows, Terminate or the end of the stream, so the
 * snapshots are read and the connection released once the server has closed it (endAfterServer, at
 * most UPSTREAM_END_WAIT_MS; red-team round 12, R12-4).
 */
export function releaseUpstream(
  upstream: Socket,
  listeners: UpstreamListeners,
  handback: UpstreamHandback,
  catalogMayChange: boolean,
  catalogChanged: () => void,
  released: () => void,
): void {
  if (catalogMayChange && handback.kind === 'spent') {
    endAfterServer(upstream, listeners, () => {
      catalogChanged();
      released();
    });
    return;
  }
  if (catalogMayChange) catalogChanged();
  if (handback.kind === 'idle') {
    upstream.pause();
    detachUpstream(upstream, listeners);
  } else {
    upstream.destroy();
  }
  released();
}
