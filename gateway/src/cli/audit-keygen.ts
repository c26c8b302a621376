// `gatehouse audit keygen`: writes an Ed25519 key pair for signing audit checkpoints.

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateCheckpointKeys } from '../audit/checkpoint.ts';
import { UsageError, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit keygen --out <dir> [--force]

Writes a new Ed25519 key pair for signing the audit log's checkpoints:
  <dir>/audit-signing.key        private key (PKCS#8 PEM, mode 0600): name it in the
                                 configuration as audit.signing_key
  <dir>/audit-signing.pub.pem    public key (SPKI PEM): give it to auditors, for
                                 gatehouse audit verify --key
  <dir>/audit-signing.jwk.json   the same public key as a JWK (also served at the admin
                                 listener's GET /audit/key)

Options:
  --out <dir>   where to write the files (created if missing)
  --force       overwrite existing files
  -h, --help    show this help

Keep the private key where only the gateway can read it; the public key is not secret.
`;

export const auditKeygenCommand: CliCommand = {
  name: 'keygen',
  summary: 'Write an Ed25519 key pair that signs audit checkpoints',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, { out: { type: 'string' }, force: { type: 'boolean', default: false } });
    if (values.out === undefined) throw new UsageError('--out <dir> is required');
    const dir = resolve(values.out);
    const files = { key: join(dir, 'audit-signing.key'), pem: join(dir, 'audit-signing.pub.pem'), jwk: join(dir, 'audit-signing.jwk.json') };
    if (!values.force) {
      const existing = Object.values(files).filter((f) => existsSync(f));
      if (existing.length > 0) throw new UsageError(`${existing[0]} exists (use --force to replace the key: checkpoints signed before stay verifiable only with the old public key)`);
    }
    const keys = await generateCheckpointKeys();
    mkdirSync(dir, { recursive: true });
    writeFileSync(files.key, keys.privatePem, { mode: 0o600 });
    writeFileSync(files.pem, keys.publicPem);
    writeFileSync(files.jwk, `${JSON.stringify(keys.publicJwk, null, 2)}\n`);
    process.stdout.write(`wrote ${files.key} (private), ${files.pem} and ${files.jwk} (public); key id ${keys.publicJwk.kid}\n`);
    return 0;
  },
};
