import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { directoryRevision, loadPolicyEngine } from './load.ts';

const CEDAR_DIR = fileURLToPath(new URL('../../../policies/cedar', import.meta.url));

describe('loadPolicyEngine', () => {
  it('defaults the revision to dir:<sha256 of the policy files>', async () => {
    const engine = await loadPolicyEngine({ engine: 'cedar', directory: CEDAR_DIR, buildDir: '/nonexistent' });
    expect(engine.revision).toBe(await directoryRevision('cedar', CEDAR_DIR));
    expect(engine.revision).toMatch(/^dir:[0-9a-f]{64}$/);
  });

  it('uses a revision it is given', async () => {
    const engine = await loadPolicyEngine({ engine: 'cedar', directory: CEDAR_DIR, buildDir: '/nonexistent', revision: 'abc123' });
    expect(engine.revision).toBe('abc123');
  });
});
