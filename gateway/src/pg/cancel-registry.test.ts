// The cancel key registry: fresh random keys per login (drawn in batches), found only with their secret.

import { describe, expect, it } from 'vitest';
import { CancelRegistry } from './cancel-registry.ts';

describe('CancelRegistry', () => {
  it('issues distinct keys across several random draws, each found only with its own secret', () => {
    const registry = new CancelRegistry();
    const backends = Array.from({ length: 1500 }, (_, i) => ({ processId: i + 1, secretKey: Buffer.from([i & 0xff, 0, 0, 1]) }));
    const keys = backends.map((b) => registry.register(b));
    expect(new Set(keys.map((k) => k.processId)).size).toBe(keys.length);
    expect(new Set(keys.map((k) => k.secretKey.toString('hex'))).size).toBeGreaterThan(keys.length - 5);
    keys.forEach((k, i) => {
      expect(k.processId).toBeGreaterThan(0);
      expect(k.secretKey.length).toBe(4);
      expect(registry.lookup(k.processId, k.secretKey)).toBe(backends[i]);
      const wrong = Buffer.from(k.secretKey);
      wrong[0] = wrong[0]! ^ 0xff;
      expect(registry.lookup(k.processId, wrong)).toBeNull();
    });
    registry.unregister(keys[0]!.processId);
    expect(registry.lookup(keys[0]!.processId, keys[0]!.secretKey)).toBeNull();
  });
});
