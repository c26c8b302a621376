// `gatehouse token`: mints a development JWT for local testing. NOT FOR PRODUCTION.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { readTokenTarget } from '../config/token-target.ts';
import { DEFAULT_DEV_KEY_DIR, DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import { UsageError, durationOption, listOption, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const MAX_TTL_SECONDS = 30 * 86400;

const HELP = `Usage: gatehouse token --sub <name> [options]

Prints a DEVELOPMENT token (a JWT to use as the PostgreSQL password) on standard output, and
nothing else there (notes go to standard error), so PGPASSWORD=$(gatehouse token ...) works.
It is signed with a local ES256 key pair, created on first use, whose public half is
<key dir>/jwks.json: the file a configuration's auth.jwks.file names.
NOT FOR PRODUCTION: the signing key sits unencrypted on disk.

Which key directory (the first that applies):
  --key-dir <dir>       that directory (relative to the working directory, as every path
                        on the command line)
  --config <file>       the directory of that file's auth.jwks.file (relative to the config
                        file's directory, as every path in a config file); the issuer and
                        audience then default to the file's auth.issuer and auth.audience
  $GATEHOUSE_CONFIG, or ./gatehouse.yaml when it exists: as --config (the files serve uses)
  otherwise             ${DEFAULT_DEV_KEY_DIR} in the working directory

Options:
  --sub <name>        subject (who the token is for); required
  --groups <a,b>      comma-separated groups (the groups claim); default none
  --roles <a,b>       comma-separated roles (the roles claim); default none
  --ttl <duration>    lifetime: seconds, or 90s, 15m, 12h, 7d (default 3600, at most 30d)
  -c, --config <file> take the key directory, issuer and audience from this config file
  --key-dir <dir>     where the dev key pair lives (see above)
  --email <address>   optional email claim, shown in audit records
  --issuer <url>      iss claim (default: the config's, else ${DEV_ISSUER})
  --audience <name>   aud claim (default: the config's, else ${DEV_AUDIENCE})
  -h, --help          show this help

Examples:
  gatehouse token --sub alice --groups analysts --config gatehouse.yaml
  PGPASSWORD=$(gatehouse token --sub bob --groups oncall --ttl 15m) psql "host=127.0.0.1 port=6432 user=bob dbname=app"
`;

export const tokenCommand: CliCommand = {
  name: 'token',
  summary: 'Print a development JWT for local testing (not for production)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      sub: { type: 'string' },
      groups: { type: 'string' },
      roles: { type: 'string' },
      ttl: { type: 'string', default: '3600' },
      'key-dir': { type: 'string' },
      config: { type: 'string', short: 'c' },
      email: { type: 'string' },
      issuer: { type: 'string' },
      audience: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    const subject = values.sub;
    if (subject === undefined || subject.trim() === '') throw new UsageError('--sub is required');
    const ttlSeconds = durationOption('ttl', values.ttl ?? '3600');
    if (ttlSeconds < 1 || ttlSeconds > MAX_TTL_SECONDS) throw new UsageError('--ttl must be between 1s and 30d');
    const target = await keyTarget(values['key-dir'], values.config);
    const keyDir = target.keyDir;
    const issuer = values.issuer ?? target.issuer;
    const audience = values.audience ?? target.audience;

    const keys = await ensureDevKeys(keyDir);
    const token = await mintDevToken({
      keyDir,
      subject,
      groups: listOption(values.groups),
      roles: listOption(values.roles),
      ttlSeconds,
      ...(issuer === undefined ? {} : { issuer }),
      ...(audience === undefined ? {} : { audience }),
      ...(values.email === undefined ? {} : { email: values.email }),
    });
    process.stderr.write(
      `gatehouse token: development token — not for production (key ${keys.kid}; JWKS ${keys.jwksPath}${target.from}; expires in ${ttlSeconds}s)\n`,
    );
    process.stdout.write(`${token}\n`);
    return 0;
  },
};

export default tokenCommand;

interface KeyTarget {
  keyDir: string;
  issuer?: string;
  audience?: string;
  /** Where the key directory came from, for the note on stderr. */
  from: string;
}

/** The key directory (and default issuer and audience) by the rules in HELP. */
async function keyTarget(keyDir: string | undefined, config: string | undefined): Promise<KeyTarget> {
  if (keyDir !== undefined) return { keyDir: resolve(keyDir), from: '' };
  const configFile = config ?? nonEmpty(process.env['GATEHOUSE_CONFIG']) ?? (existsSync('gatehouse.yaml') ? 'gatehouse.yaml' : undefined);
  if (configFile === undefined) return { keyDir: resolve(DEFAULT_DEV_KEY_DIR), from: '' };
  const t = await readTokenTarget(configFile);
  return { keyDir: t.keyDir, issuer: t.issuer, audience: t.audience, from: `, as auth.jwks.file in ${t.configFile}` };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
