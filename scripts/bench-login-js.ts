// The per-login JavaScript of a checkout (A: a baseline, B: a branch) in a loop, without sockets:
// the startup packet decoded and its parameters checked, `verify` of a token already verified (the
// verified-token cache), the policy input's identity part and its JSON (decision-cache key), and
// the JSON of the login's two session records (auth_ok, closed). CPU per login from
// process.cpuUsage, 5 rounds after 5,000 warm-up logins; A and B alternate in child processes.
// Method and figures: docs/benchmarks.md, "Gatehouse CPU per new session, on the CPU".
// Usage: node --import tsx scripts/bench-login-js.ts --a /path/to/main --b . [--logins 10000] [--alternations 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    logins: { type: 'string', default: '10000' },
    alternations: { type: 'string', default: '3' },
    child: { type: 'string' },
    keys: { type: 'string' },
  },
});

if (values.child !== undefined) {
  // One side: import the checkout's own modules and time them.
  const root = path.resolve(values.child);
  const imp = (p: string) => import(pathToFileURL(path.join(root, 'gateway/src', p)).href);
  const { createTokenVerifier } = await imp('auth/token-verifier.ts');
  const { unsafeStartupParameter } = await imp('sql/session-invariants.ts');
  const { identityPart } = await imp('policy/input-parts.ts');
  const { frozenJson } = await imp('policy/frozen-json.ts');
  const { sessionRecord } = await imp('audit/session-record.ts');
  const { recordBody } = await imp('audit/record-json.ts');
  const { decodeStartupPacket, encodeStartupMessage } = await imp('wire/startup.ts');
  const { readStartupPacket } = await imp('wire/framer.ts');
  const { DEV_ALGORITHM, DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys, mintDevToken } = await imp('auth/dev-keys.ts');
  const keyDir = values.keys!;
  const keys = await ensureDevKeys(keyDir);
  const token: string = await mintDevToken({ keyDir, subject: 'bench', groups: ['bench'], ttlSeconds: 3600 });
  const verifier = createTokenVerifier(
    { issuer: DEV_ISSUER, audience: DEV_AUDIENCE, algorithms: [DEV_ALGORITHM], jwks: { kind: 'file', path: keys.jwksPath }, clockToleranceSeconds: 30, groupsClaim: 'groups', rolesClaim: 'roles' },
    '/',
  );
  const startup: Buffer = encodeStartupMessage({ user: 'bench', database: 'bench', application_name: 'pgbench', client_encoding: 'UTF8', DateStyle: 'ISO' });
  const login = async (): Promise<number> => {
    const { params } = decodeStartupPacket(readStartupPacket(startup)!.packet);
    if (unsafeStartupParameter(params) !== null) throw new Error('unsafe startup parameter');
    const identity = await verifier.verify(token);
    let length = (frozenJson(identityPart(identity)) as string).length;
    for (const event of ['auth_ok', 'closed'] as const) {
      length += (recordBody(sessionRecord({ sessionId: 's', event, clientAddress: '127.0.0.1', params, identity, reason: null })) as string).length;
    }
    return length;
  };
  for (let i = 0; i < 5000; i++) await login();
  const n = Number(values.logins);
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const before = process.cpuUsage();
    for (let i = 0; i < n; i++) await login();
    const used = process.cpuUsage(before);
    rounds.push((used.user + used.system) / n);
  }
  rounds.sort((x, y) => x - y);
  process.stdout.write(`${rounds[2]!.toFixed(2)} (${rounds.map((x) => x.toFixed(2)).join(', ')})\n`);
  process.exit(0);
}

if (values.a === undefined || values.b === undefined) {
  process.stderr.write('usage: scripts/bench-login-js.ts --a <baseline checkout> --b <branch checkout> [--logins N] [--alternations N]\n');
  process.exit(2);
}
const self = fileURLToPath(import.meta.url);
const keyDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-login-js-'));
try {
  for (let i = 0; i < Number(values.alternations); i++) {
    for (const [side, root] of [['A', values.a], ['B', values.b]] as const) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', root, '--keys', keyDir, '--logins', values.logins], { encoding: 'utf8' });
      process.stdout.write(`${side} ${path.resolve(root)}: CPU µs per login, median of 5 rounds of ${values.logins} (sorted): ${out}`);
    }
  }
  process.stdout.write(`load average ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
} finally {
  rmSync(keyDir, { recursive: true, force: true });
}
