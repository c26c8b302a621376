import { once } from 'node:events';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { socketPair } from './socket-pair.test-fixture.ts';
import { attachUpstream, detachUpstream, endAfterServer, type UpstreamListeners } from './upstream-ending.ts';

const cleanup: Array<() => void> = [];
afterEach(() => cleanup.splice(0).forEach((f) => f()));

async function pair(): Promise<{ near: Socket; far: Socket }> {
  const p = await socketPair(true); // the server side answers after the client's end, as PostgreSQL does
  cleanup.push(p.close);
  return p;
}

function recording(): UpstreamListeners & { events: string[] } {
  const events: string[] = [];
  return { events, data: () => void events.push('data'), error: () => void events.push('error'), close: () => void events.push('close'), drain: () => void events.push('drain') };
}

describe('upstream ending', () => {
  it('detaching removes exactly the listeners attached', async () => {
    const { near } = await pair();
    const l = recording();
    attachUpstream(near, l);
    expect(['data', 'error', 'close', 'drain'].map((e) => near.listeners(e).length)).toEqual([1, 1, 1, 1]);
    detachUpstream(near, l);
    expect(['data', 'error', 'close', 'drain'].map((e) => near.listeners(e).length)).toEqual([0, 0, 0, 0]);
  });

  it('ends the connection and reports only once the server has closed it, its answers discarded', async () => {
    const { near, far } = await pair();
    const l = recording();
    attachUpstream(near, l);
    let closed = 0;
    endAfterServer(near, l, () => closed++);
    await once(far, 'end'); // the server read the end of the stream: it answers, then closes
    expect(closed).toBe(0);
    far.end('an answer nobody reads');
    await once(near, 'close');
    expect(closed).toBe(1);
    expect(l.events).toEqual([]);
  });

  it('reports at once when the server side is gone already', async () => {
    const { near } = await pair();
    near.destroy();
    let closed = 0;
    endAfterServer(near, recording(), () => closed++);
    expect(closed).toBe(1);
  });
});
