// Forwarding a cancel: a fresh connection to upstream that carries one CancelRequest and closes.

import { connect } from 'node:net';
import { GatehouseError } from '../../errors.ts';
import { encodeCancelRequest } from '../../wire/startup.ts';
import { describeTarget } from './connection-url.ts';

/**
 * Sends CancelRequest(processId, secretKey) to host:port (host starting with "/" is a socket
 * directory) and resolves once the server has closed the connection, as libpq does. The server
 * never answers; whether a query was cancelled is seen on the session itself.
 */
export function sendCancel(
  host: string,
  port: number,
  processId: number,
  secretKey: Buffer,
  timeoutMs = 5000,
): Promise<void> {
  const target = describeTarget({ host, port });
  const packet = encodeCancelRequest(processId, secretKey);
  return new Promise<void>((resolve, reject) => {
    const socket = host.startsWith('/') ? connect({ path: `${host}/.s.PGSQL.${port}` }) : connect({ host, port });
    socket.setNoDelay(true);
    let settled = false;
    const finish = (err: Error | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err === null) resolve();
      else reject(new GatehouseError('UPSTREAM_UNAVAILABLE', `cancel request to upstream PostgreSQL at ${target} failed: ${err.message}`, { cause: err }));
    };
    const timer = setTimeout(() => finish(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once('connect', () => socket.end(packet));
    socket.on('data', () => undefined); // the server sends nothing; keep the stream flowing to see its end
    socket.once('error', (e) => finish(e));
    socket.once('close', () => finish(null));
  });
}
