// The admin listener's read endpoints (GET /policy/status, /metrics) with credentials configured:
// a bearer read token, or a real JWT of the read group; without either they answer 401, while
// /healthz stays open for probes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';

const READ_TOKEN = 'read-token-0123456789abcdef';

async function get(port: number | null, path: string, bearer?: string): Promise<number> {
  if (port === null) throw new Error('no admin listener');
  const res = await fetch(`http://127.0.0.1:${port}${path}`, bearer ? { headers: { authorization: `Bearer ${bearer}` } } : {});
  await res.arrayBuffer();
  return res.status;
}

describe('admin read endpoints with credentials', () => {
  let t: TestGateway;
  beforeAll(async () => {
    t = await startTestGateway({ adminSettings: { read_token: READ_TOKEN, read_group: 'ops' } });
  });
  afterAll(async () => t?.close());

  it('refuses /policy/status and /metrics without a credential or with a wrong one', async () => {
    for (const path of ['/policy/status', '/metrics']) {
      expect(await get(t.gw.adminPort, path)).toBe(401);
      expect(await get(t.gw.adminPort, path, 'wrong-token-0123456789abcdef')).toBe(401);
    }
  });

  it('serves them to the read token and to a JWT of the read group, not to another group', async () => {
    const ops = await t.token('oncall@example.com', ['ops']);
    const agent = await t.token('agent@example.com', ['agents']);
    for (const path of ['/policy/status', '/metrics']) {
      expect(await get(t.gw.adminPort, path, READ_TOKEN)).toBe(200);
      expect(await get(t.gw.adminPort, path, ops)).toBe(200);
      expect(await get(t.gw.adminPort, path, agent)).toBe(401);
    }
  });

  it('keeps /healthz open for probes', async () => {
    expect(await get(t.gw.adminPort, '/healthz')).toBe(200);
  });
});
