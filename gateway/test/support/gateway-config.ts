// The config document of a Gatehouse a test starts from a file or an object (git policies, a `gatehouse
// serve` child): a free loopback port and JWT auth with the dev keys, beside the sections the test names.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { DEV_ALGORITHM, ensureDevKeys } from '../../src/auth/dev-keys.ts';

/** The document: listen on 127.0.0.1 port 0, auth by the dev keys in `keyDir` (made unless there), then `sections` (upstream, policies, audit, ...). */
export async function testConfigDocument(keyDir: string, sections: Record<string, unknown>): Promise<Record<string, unknown>> {
  const keys = await ensureDevKeys(keyDir);
  return {
    listen: { host: '127.0.0.1', port: 0 },
    auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath } },
    ...sections,
  };
}

/** Writes that document to `<workDir>/gatehouse.yaml` (dev keys default to `<workDir>/keys`); returns the file's path. */
export async function writeTestConfig(workDir: string, sections: Record<string, unknown>, keyDir = join(workDir, 'keys')): Promise<string> {
  const configFile = join(workDir, 'gatehouse.yaml');
  writeFileSync(configFile, stringify(await testConfigDocument(keyDir, sections)));
  return configFile;
}
