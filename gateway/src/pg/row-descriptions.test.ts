import { describe, expect, it } from 'vitest';
import { decodeRowDescription, rowDescription, type RowField } from '../wire/backend.ts';
import { WireError } from '../wire/wire-error.ts';
import { RowDescriptions } from './row-descriptions.ts';

const field = (name: string, typeOid = 23): RowField => ({ name, tableOid: 16400, columnAttr: 3, typeOid, typeSize: 4, typeMod: -1, format: 0 });
/** A body as the relay sees it: a view into a larger received chunk. */
const bodyOf = (fields: RowField[]): Buffer => {
  const message = rowDescription(fields);
  return Buffer.concat([Buffer.from('noise'), message, Buffer.from('more')]).subarray(5 + 5, 5 + message.length);
};

describe('RowDescriptions', () => {
  it('decodes as decodeRowDescription does, and hands the same frozen fields out while the bytes stay the same', () => {
    const memo = new RowDescriptions();
    const first = memo.decode(bodyOf([field('abalance')]));
    expect(first).toEqual(decodeRowDescription(bodyOf([field('abalance')])));
    expect(memo.decode(bodyOf([field('abalance')]))).toBe(first);
    expect(Object.isFrozen(first) && first.every((f) => Object.isFrozen(f))).toBe(true);
  });

  it('decodes again when any byte differs: another name, type or column count', () => {
    const memo = new RowDescriptions();
    const a = memo.decode(bodyOf([field('abalance')]));
    const b = memo.decode(bodyOf([field('abalancf')]));
    expect(b).not.toBe(a);
    expect(b[0]!.name).toBe('abalancf');
    expect(memo.decode(bodyOf([field('abalancf', 25)]))[0]!.typeOid).toBe(25);
    expect(memo.decode(bodyOf([field('abalancf'), field('bid')]))).toHaveLength(2);
  });

  it('keeps its own copy of the bytes, not a view of a chunk that may be reused', () => {
    const memo = new RowDescriptions();
    const chunk = Buffer.from(rowDescription([field('abalance')]));
    const first = memo.decode(chunk.subarray(5));
    chunk.write('x', 5 + 2 + 1); // the chunk changed under the kept bytes: "axalance"
    const again = memo.decode(chunk.subarray(5));
    expect(again).not.toBe(first);
    expect(again[0]!.name).toBe('axalance');
  });

  it('does not keep a long description, and a malformed one throws without replacing the kept one', () => {
    const memo = new RowDescriptions();
    const wide = Array.from({ length: 300 }, (_, i) => field(`column_${i}`));
    expect(memo.decode(bodyOf(wide))).not.toBe(memo.decode(bodyOf(wide)));
    const kept = memo.decode(bodyOf([field('abalance')]));
    expect(() => memo.decode(bodyOf([field('abalance')]).subarray(0, 10))).toThrow(WireError);
    expect(memo.decode(bodyOf([field('abalance')]))).toBe(kept);
  });
});
