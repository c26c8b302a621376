import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dataEnd } from './unused-tail.ts';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-tail-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dataEnd', () => {
  it('is the first NUL byte near the end, also when the zeros span more than one window', () => {
    const path = join(dir, 'end.bin');
    writeFileSync(path, Buffer.concat([Buffer.from('abc\n'), Buffer.alloc(9 << 20)]));
    expect(dataEnd(path, statSync(path).size)).toBe(4);
    writeFileSync(path, 'abc\n');
    expect(dataEnd(path, 4)).toBe(4);
  });
});
