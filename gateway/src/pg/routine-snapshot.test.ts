import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { routineSnapshot } from './routine-snapshot.ts';

/** A stand-in client answering the snapshot query with one harmless function, counting queries. */
function fakeClient(): { client: pg.Client; queries: () => number } {
  let n = 0;
  const client = {
    query: async () => {
      n++;
      return { rows: [{ kind: 'function', schema: 'pg_catalog', name: 'lower', harmless: true, retset: false }] };
    },
  } as unknown as pg.Client;
  return { client, queries: () => n };
}

describe('routineSnapshot (a CatalogSnapshot of routines)', () => {
  it('has nothing until loaded, then serves the loaded snapshot without querying again', async () => {
    const { client, queries } = fakeClient();
    const snap = routineSnapshot(async () => client);
    expect(snap.current()).toBeNull(); // starts a background load
    await snap.ready();
    expect(snap.current()?.verdict('function', { schema: null, name: 'lower' })).toBe('harmless');
    expect(queries()).toBe(1);
  });

  it('reloads a stale snapshot in the background, serving the old one meanwhile', async () => {
    const { client, queries } = fakeClient();
    const snap = routineSnapshot(async () => client, 0);
    await snap.ready();
    const first = snap.current();
    expect(first).not.toBeNull();
    await new Promise((r) => setTimeout(r, 5));
    expect(snap.current()).not.toBeNull();
    await new Promise((r) => setTimeout(r, 5));
    expect(queries()).toBeGreaterThan(1);
  });

  it('stays empty (decisions fail closed) when the database cannot be read, and ready() does not hang', async () => {
    const snap = routineSnapshot(() => new Promise<pg.Client>(() => undefined)); // never connects
    await snap.ready(20);
    expect(snap.current()).toBeNull();
    const failing = routineSnapshot(async () => Promise.reject(new Error('down')));
    await failing.ready();
    expect(failing.current()).toBeNull();
  });
});
