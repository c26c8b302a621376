import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HELD_BACKLOG_BYTES, SessionOutput, type OutputHost } from './session-output.ts';
import { socketPair } from './socket-pair.test-fixture.ts';

/** An audit sink whose flushes complete when the test says. */
function heldAudit(): { audit: OutputHost['deps']['decision']['audit']; complete: (error: Error | null) => void; accepted: number } {
  const waiting: Array<(error: Error | null) => void> = [];
  const a = {
    accepted: 0,
    audit: {
      writeAccepted: () => void a.accepted++,
      whenDurable: (done: (error: Error | null) => void) => void waiting.push(done),
    },
    complete: (error: Error | null) => {
      for (const done of waiting.splice(0)) done(error);
    },
  };
  return a;
}

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

async function setup() {
  const c = await socketPair();
  const u = await socketPair();
  cleanup.push(c.close, u.close);
  const a = heldAudit();
  const host = {
    client: c.near,
    upstream: u.near,
    isClosed: false,
    deps: { decision: { audit: a.audit } },
    flushFailures: [] as Error[],
    closes: [] as string[],
    auditFlushFailed(cause: Error) {
      this.flushFailures.push(cause);
    },
    close(why: string) {
      this.closes.push(why);
    },
  };
  return { host, a, out: new SessionOutput(host), clientFar: c.far, upstreamFar: u.far };
}

async function read(s: Socket, bytes: number): Promise<Buffer> {
  const got: Buffer[] = [];
  let n = 0;
  while (n < bytes) {
    const [chunk] = (await once(s, 'data')) as [Buffer];
    got.push(chunk);
    n += chunk.length;
  }
  return Buffer.concat(got);
}

describe('SessionOutput', () => {
  it('writes upstream only once the audit records are durable (write-ahead)', async () => {
    const { out, a, upstreamFar } = await setup();
    let sent = false;
    out.toUpstream.push(Buffer.from('Q-one'));
    out.flushUpstream(() => (sent = true));
    expect(sent).toBe(false);
    expect(out.upstreamIdle).toBe(false);
    a.complete(null);
    expect(sent).toBe(true);
    expect(out.upstreamIdle).toBe(true);
    expect((await read(upstreamFar, 5)).toString()).toBe('Q-one');
  });

  it('holds what is queued upstream for an approval (holdUpstream) until it is released or a Sync, Flush or Query asks for answers', async () => {
    const { out, a, upstreamFar } = await setup();
    out.holdUpstream();
    out.pushUpstream(Buffer.from('P-one'));
    out.pushUpstream(Buffer.from('B-one'));
    out.flushUpstream();
    expect(out.upstreamIdle).toBe(false); // nothing handed to the audit flush: still queued
    out.pushUpstream(Buffer.from('E-one')); // an Execute alone does not release it (the session does)
    out.flushUpstream();
    expect(out.toUpstream.isEmpty).toBe(false);
    out.releaseUpstream();
    out.flushUpstream();
    a.complete(null);
    expect((await read(upstreamFar, 15)).toString()).toBe('P-oneB-oneE-one');
    out.holdUpstream();
    out.pushUpstream(Buffer.from('P-two'));
    out.pushUpstream(Buffer.from('S')); // a Sync asks for answers: sent
    out.flushUpstream();
    a.complete(null);
    expect((await read(upstreamFar, 6)).toString()).toBe('P-twoS');
  });

  it('a Flush queued before a hold sends what is ahead of it now, not what is held after it; every Sync, Flush and Query is told', async () => {
    const c = await socketPair();
    const u = await socketPair();
    cleanup.push(c.close, u.close);
    const a = heldAudit();
    const asked: string[] = [];
    const host = { client: c.near, upstream: u.near, isClosed: false, deps: { decision: { audit: a.audit } }, auditFlushFailed: () => undefined, close: () => undefined };
    const out = new SessionOutput(host, (kind) => void asked.push(kind));
    out.pushUpstream(Buffer.from('E-one'));
    out.pushUpstream(Buffer.from('H')); // the client's Flush, for the Execute's answer
    out.holdUpstream(); // then, in the same turn, the Parse of a statement awaiting approval
    out.pushUpstream(Buffer.from('P-two'));
    out.flushUpstream();
    a.complete(null);
    expect((await read(u.far, 6)).toString()).toBe('E-oneH');
    expect(out.toUpstream.isEmpty).toBe(false); // P-two still held
    out.pushUpstream(Buffer.from('S'));
    out.pushUpstream(Buffer.from('Q-x'));
    expect(asked).toEqual(['flush', 'end', 'end']);
  });

  it('never sends output whose audit flush failed, and says so to the session', async () => {
    const { out, a, host } = await setup();
    out.toUpstream.push(Buffer.from('Q-two'));
    let sent = false;
    out.flushUpstream(() => (sent = true));
    a.complete(new Error('EIO'));
    expect(sent).toBe(false);
    expect(host.flushFailures.map((e) => e.message)).toEqual(['EIO']);
  });

  it('writes accepted audit records before the client hears anything, and stops reading the client past the backlog', async () => {
    const { out, a, host, clientFar } = await setup();
    out.emit(Buffer.from('E-err'));
    out.flushClient();
    expect(a.accepted).toBe(1);
    expect((await read(clientFar, 5)).toString()).toBe('E-err');
    host.client.resume();
    out.toUpstream.push(Buffer.alloc(HELD_BACKLOG_BYTES + 1));
    out.flushUpstream();
    expect(out.clientStopped()).toBe(true);
    expect(host.client.isPaused()).toBe(true);
    a.complete(null);
    expect(out.clientStopped()).toBe(false);
    expect(host.client.isPaused()).toBe(false);
  });
});
