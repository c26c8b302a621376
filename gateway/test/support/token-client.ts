// A node-postgres session to a Gatehouse the test started itself (not through the harness), logged in
// with a dev-key JWT minted for it: what startTestGateway's `client` does for its own gateways.

import pg from 'pg';
import { mintDevToken } from '../../src/auth/dev-keys.ts';

export interface TokenClientOptions {
  port: number;
  /** The dev keys the gateway's auth section names. */
  keyDir: string;
  subject: string;
  groups: string[];
  /** The startup user name (default agent: Gatehouse takes the identity from the token). */
  user?: string;
}

/** A client not yet connected (so the test can listen for its events first); its 'error' events are the test's to handle. */
export async function tokenClient(o: TokenClientOptions): Promise<pg.Client> {
  const password = await mintDevToken({ keyDir: o.keyDir, subject: o.subject, groups: o.groups, ttlSeconds: 3600 });
  return new pg.Client({ host: '127.0.0.1', port: o.port, user: o.user ?? 'agent', database: 'postgres', password });
}

/** A connected client whose 'error' events are ignored (a refusal still rejects its query). */
export async function connectedTokenClient(o: TokenClientOptions): Promise<pg.Client> {
  const c = await tokenClient(o);
  c.on('error', () => undefined);
  await c.connect();
  return c;
}
