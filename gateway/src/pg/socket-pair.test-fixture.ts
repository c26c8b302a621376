// For unit tests: both ends of a real TCP connection on the loopback.

import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';

/**
 * `near` connects to `far`; `close` destroys both and the listener. `allowHalfOpen`: the far side
 * stays writable after the near side ends (as PostgreSQL answers after a client's end).
 */
export async function socketPair(allowHalfOpen = false): Promise<{ near: Socket; far: Socket; close: () => void }> {
  const server = createServer({ allowHalfOpen });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection');
  const near = connect(port, '127.0.0.1');
  const [far] = (await accepted) as [Socket];
  return { near, far, close: () => (near.destroy(), far.destroy(), server.close()) };
}
