import { describe, expect, it } from 'vitest';
import { renderMasking } from './bench-report.ts';
import { describeImplementation } from './masked-select.ts';

const timing = { rows: 100_000, unmaskedMs: [100, 110, 120], variants: [{ label: 'with a keyed hash', maskedColumns: ['email (hash)'], maskedMs: [130, 140, 150], ratio: 140 / 110 }] };

describe('the masking section of the bench report', () => {
  it('says which implementation computed the keyed hash, when the results know it', () => {
    const c = renderMasking({ ...timing, keyedHash: describeImplementation({ kind: 'c', version: '1.0' }) }).join('\n');
    expect(c).toContain('Keyed hash computed by: C extension gatehouse_mask 1.0.');
    expect(c).toContain('| masked, with a keyed hash | email (hash) | 130.0, 140.0, 150.0 | 140.0 | 1.27× |');
    const pl = renderMasking({ ...timing, keyedHash: describeImplementation({ kind: 'plpgsql', why: 'asked for' }) }).join('\n');
    expect(pl).toContain('Keyed hash computed by: PL/pgSQL (asked for).');
    expect(renderMasking(timing).join('\n')).not.toContain('Keyed hash computed by');
  });
});
