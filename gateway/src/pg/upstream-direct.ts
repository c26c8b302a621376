// One upstream connection per client session (upstream.pool absent): the client's pass-through
// startup parameters go into the upstream StartupMessage, and the connection closes with the session.

import type { UpstreamLease, UpstreamRequest, UpstreamSource } from './upstream-lease.ts';
import { connectUpstream } from './upstream/connect.ts';

export class DirectUpstreams implements UpstreamSource {
  readonly reuses = false;
  private sockets = 0;

  constructor(private readonly opts: { url: string; connectTimeoutMs: number }) {}

  connections(): number {
    return this.sockets;
  }

  async acquire(request: UpstreamRequest): Promise<UpstreamLease> {
    const conn = await connectUpstream({
      url: this.opts.url,
      ...(request.database !== null ? { database: request.database } : {}),
      applicationName: request.applicationName,
      extraParams: request.params,
      connectTimeoutMs: this.opts.connectTimeoutMs,
    });
    this.sockets++;
    conn.socket.once('close', () => this.sockets--);
    const parameters = new Map(conn.parameters);
    return {
      socket: conn.socket,
      parameters,
      processId: conn.processId,
      secretKey: conn.secretKey,
      initialBuffer: conn.initialBuffer,
      searchPathProbe: null,
      reported: (name, value) => void parameters.set(name, value),
      cancelling: () => undefined,
      release: () => conn.socket.destroy(),
    };
  }

  async close(): Promise<void> {}
}
