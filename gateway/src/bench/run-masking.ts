// `gatehouse bench --only masking`: the masking measurement alone (bench/masked-select.ts) through
// an in-process Gatehouse, printed and not written to bench-results (a partial run must not replace
// latest.md). Says which implementation computes the keyed hash (C extension or PL/pgSQL).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEV_ALGORITHM, ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import { configFromObject } from '../config/load.ts';
import type { EngineKind } from '../policy/types.ts';
import { startGateway } from '../server.ts';
import { ensureDatabase } from './bench-database.ts';
import { MASK_VARIANTS, describeImplementation, measureMaskedSelect, prepareMaskedTable } from './masked-select.ts';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

export interface MaskingOnlyOptions {
  /** Superuser URL of the PostgreSQL to measure; its database is created when absent. */
  upstreamUrl: string;
  engine: EngineKind;
  /** Interleaved passes (unmasked, then each set of masks); each pass is 5 SELECTs per target. */
  passes: number;
  print: (line: string) => void;
}

export async function runMaskingOnly(options: MaskingOnlyOptions): Promise<number> {
  const { print } = options;
  const database = decodeURIComponent(new URL(options.upstreamUrl).pathname.replace(/^\//, '')) || 'gatehouse_bench';
  await ensureDatabase(options.upstreamUrl, database);
  const keyedHash = describeImplementation(await prepareMaskedTable(options.upstreamUrl));
  print(`masking: keyed hash computed by ${keyedHash}`);
  const workDir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-bench-masking-'));
  try {
    const keyDir = path.join(workDir, 'keys');
    const keys = await ensureDevKeys(keyDir);
    const config = configFromObject(
      {
        listen: { host: '127.0.0.1', port: 0 },
        tls: { mode: 'disable' },
        auth: { issuer: keys.issuer, audience: keys.audience, algorithms: [DEV_ALGORITHM], jwks: { file: keys.jwksPath }, plaintext_password: 'loopback' },
        upstream: { url: options.upstreamUrl, pass_database: false },
        policies: { engine: options.engine, directory: path.join(REPO_ROOT, 'policies', options.engine) },
        audit: { file: path.join(workDir, 'audit.ndjson') },
      },
      workDir,
    );
    const gateway = await startGateway(config, {});
    try {
      const token = await mintDevToken({ keyDir, subject: 'bench', groups: ['bench'], ttlSeconds: 3600 });
      const maskedTokens = await Promise.all(MASK_VARIANTS.map((v) => mintDevToken({ keyDir, subject: `bench-masked-${v.group}`, groups: ['bench', v.group], ttlSeconds: 3600 })));
      const gatewayUrl = `postgresql://bench@${gateway.host}:${gateway.port}/${encodeURIComponent(database)}?sslmode=disable`;
      const t = await measureMaskedSelect({ gatewayUrl, unmaskedToken: token, maskedTokens, passes: options.passes, transactions: 5 });
      const ms = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join('/');
      print(`masking: unmasked ${ms(t.unmaskedMs)} ms per SELECT (${t.rows} rows)`);
      for (const v of t.variants) print(`masking: ${v.label} (${v.maskedColumns.join(', ')}): ${ms(v.maskedMs)} ms, ${v.ratio?.toFixed(2) ?? 'n/a'}× unmasked`);
      print(`masking: load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.availableParallelism()} cores (ratios on a loaded machine are noisy)`);
      return 0;
    } finally {
      await gateway.close();
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
