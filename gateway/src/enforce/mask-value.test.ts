import { describe, expect, it } from 'vitest';
import { maskValue } from './mask-value.ts';

const str = (strategy: 'redact' | 'null' | 'hash' | 'last4') => ({ strategy, asString: true });

describe('maskValue', () => {
  it('redacts strings to a fixed marker', () => {
    expect(maskValue(Buffer.from('900-12-3456'), str('redact'))?.toString()).toBe('***');
  });
  it('keeps only the last four characters for last4', () => {
    expect(maskValue(Buffer.from('555-0100'), str('last4'))?.toString()).toBe('****0100');
    expect(maskValue(Buffer.from('abc'), str('last4'))?.toString()).toBe('***');
  });
  it('hashes deterministically without revealing the value', () => {
    const a = maskValue(Buffer.from('pat@example.com'), str('hash'))?.toString();
    const b = maskValue(Buffer.from('pat@example.com'), str('hash'))?.toString();
    const c = maskValue(Buffer.from('other@example.com'), str('hash'))?.toString();
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(a).not.toContain('pat');
    expect(a).toMatch(/^h:[0-9a-f]{16}$/);
  });
  it('turns values of non-string types into NULL, whatever the strategy', () => {
    expect(maskValue(Buffer.from('1980-01-01'), { strategy: 'redact', asString: false })).toBeNull();
  });
  it('maps strategy null to NULL and leaves NULL inputs alone', () => {
    expect(maskValue(Buffer.from('x'), str('null'))).toBeNull();
    expect(maskValue(null, str('redact'))).toBeNull();
  });
});
