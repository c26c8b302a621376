// Differential sends for protocol tests: a raw session straight to PostgreSQL, and the same bytes sent
// through Gatehouse and to PostgreSQL with both answers returned, to compare what a client sees.

import { serialize, WireClient, type Message } from './wire-client.ts';

/** A raw session straight to PostgreSQL, logged in and ready. */
export async function directSession(upstreamUrl: string): Promise<WireClient> {
  const url = new URL(upstreamUrl);
  const d = await WireClient.open(Number(url.port || 5432), url.hostname);
  d.send(serialize.startup({ user: decodeURIComponent(url.username), database: url.pathname.slice(1) }));
  await d.untilReady(1);
  return d;
}

/** What each side answered, one message group per ReadyForQuery: Gatehouse's and PostgreSQL's. */
export interface BothAnswers {
  gh: Message[][];
  pg: Message[][];
}

/** Sends `messages` on `gatehouse` (left open) and on a new direct session (closed after); waits for `count` ReadyForQuery on each. */
export async function sendBothWays(gatehouse: WireClient, upstreamUrl: string, count: number, ...messages: Buffer[]): Promise<BothAnswers> {
  const d = await directSession(upstreamUrl);
  try {
    gatehouse.send(...messages);
    d.send(...messages);
    const [gh, pg] = await Promise.all([gatehouse.untilReady(count), d.untilReady(count)]);
    return { gh, pg };
  } finally {
    d.close();
  }
}

/** The same on a new Gatehouse session logged in with `token`, closed after. */
export async function bothWays(gateway: { port: number; upstreamUrl: string }, token: string, count: number, ...messages: Buffer[]): Promise<BothAnswers> {
  const w = await WireClient.connect(gateway.port, token);
  try {
    return await sendBothWays(w, gateway.upstreamUrl, count, ...messages);
  } finally {
    w.close();
  }
}
