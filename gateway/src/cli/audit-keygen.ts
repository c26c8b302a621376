// `gatehouse audit keygen`: writes an Ed25519 key pair for signing audit checkpoints, or with
// --breakglass an X25519 key pair whose public half seals statements as sent (audit/seal.ts).

import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generateCheckpointKeys } from '../audit/checkpoint.ts';
import { UsageError, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit keygen --out <dir> [--breakglass] [--force]

Writes a new Ed25519 key pair for signing the audit log's checkpoints:
  <dir>/audit-signing.key        private key (PKCS#8 PEM, mode 0600): name it in the
                                 configuration as audit.signing_key
  <dir>/audit-signing.pub.pem    public key (SPKI PEM): give it to auditors, for
                                 gatehouse audit verify --key
  <dir>/audit-signing.jwk.json   the same public key as a JWK (also served at the admin
                                 listener's GET /audit/key)

With --breakglass, writes instead an X25519 key pair for the break-glass copies of statements
(their original text and parameters, encrypted in each record):
  <dir>/breakglass.pub.pem       public key (SPKI PEM): name it in the configuration as
                                 audit.breakglass_key
  <dir>/breakglass.key           private key (PKCS#8 PEM, mode 0600): keep it OFF the gateway
                                 host (offline, or split among custodians); it opens the
                                 copies with gatehouse audit unseal

Options:
  --out <dir>    where to write the files (created if missing)
  --breakglass   write the break-glass key pair instead of the signing key pair
  --force        overwrite existing files
  -h, --help     show this help

Keep the signing private key where only the gateway can read it; public keys are not secret.
`;

export const auditKeygenCommand: CliCommand = {
  name: 'keygen',
  summary: 'Write an Ed25519 key pair that signs audit checkpoints',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, { out: { type: 'string' }, force: { type: 'boolean', default: false }, breakglass: { type: 'boolean', default: false } });
    if (values.out === undefined) throw new UsageError('--out <dir> is required');
    const dir = resolve(values.out);
    if (values.breakglass) return writeBreakGlassKeys(dir, values.force);
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

function writeBreakGlassKeys(dir: string, force: boolean): number {
  const files = { key: join(dir, 'breakglass.key'), pem: join(dir, 'breakglass.pub.pem') };
  if (!force) {
    const existing = Object.values(files).filter((f) => existsSync(f));
    if (existing.length > 0) throw new UsageError(`${existing[0]} exists (use --force to replace the key: copies sealed before open only with the old private key)`);
  }
  const pair = generateKeyPairSync('x25519');
  mkdirSync(dir, { recursive: true });
  writeFileSync(files.key, pair.privateKey.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  writeFileSync(files.pem, pair.publicKey.export({ format: 'pem', type: 'spki' }));
  process.stdout.write(`wrote ${files.pem} (public: audit.breakglass_key) and ${files.key} (private: move it off this host)\n`);
  return 0;
}
