import { describe, expect, it } from 'vitest';
import { callsByRelation } from './relation-write-calls.ts';

describe('callsByRelation', () => {
  it('names each function qualified, once per table, sorted, and drops rows of unknown relations (R12-1)', () => {
    const rels = new Map([[10, {}]]);
    const out = callsByRelation(
      [
        { rel: 10, schema: 'public', name: 'stamp' },
        { rel: 10, schema: 'audit', name: 'check_it' },
        { rel: 10, schema: 'public', name: 'stamp' },
        { rel: 99, schema: 'public', name: 'gone' },
      ],
      rels,
    );
    expect([...out.entries()]).toEqual([[10, ['audit.check_it', 'public.stamp']]]);
  });
});
