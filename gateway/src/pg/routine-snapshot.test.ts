import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { CatalogReader } from './catalog-snapshot.ts';
import { routineSnapshot } from './routine-snapshot.ts';

/** A stand-in reader answering the snapshot query with one harmless function, counting queries. */
function fakeReader(): { reader: CatalogReader; queries: () => number } {
  let n = 0;
  const client = {
    query: async () => {
      n++;
      return { rows: [{ kind: 'function', schema: 'pg_catalog', name: 'lower', harmless: true, retset: false }] };
    },
  } as unknown as pg.Client;
  return { reader: (read) => read(client), queries: () => n };
}

describe('routineSnapshot (a CatalogSnapshot of routines)', () => {
  it('has nothing until loaded, then serves the loaded snapshot without querying again', async () => {
    const { reader, queries } = fakeReader();
    const snap = routineSnapshot(reader);
    expect(snap.current()).toBeNull(); // starts a background load
    await snap.ready();
    expect(snap.current()?.verdict('function', { schema: null, name: 'lower' })).toBe('harmless');
    expect(queries()).toBe(1);
  });

  it('stays empty (decisions fail closed) when the database cannot be read, and ready() does not hang', async () => {
    const snap = routineSnapshot(() => new Promise<never>(() => undefined)); // never answers
    await snap.ready(20);
    expect(snap.current()).toBeNull();
    const failing = routineSnapshot(async () => Promise.reject(new Error('down')));
    await failing.ready();
    expect(failing.current()).toBeNull();
  });
});
