// `gatehouse token`: mints a development JWT for local testing. NOT FOR PRODUCTION.

import { DEFAULT_DEV_KEY_DIR, DEV_AUDIENCE, DEV_ISSUER, ensureDevKeys, mintDevToken } from '../auth/dev-keys.ts';
import { UsageError, durationOption, listOption, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const MAX_TTL_SECONDS = 30 * 86400;

const HELP = `Usage: gatehouse token --sub <name> [options]

Prints a DEVELOPMENT token (a JWT to use as the PostgreSQL password) on standard output.
It is signed with a local ES256 key that is created on first use in --key-dir. To make
Gatehouse accept it, point auth.jwks.file at <key-dir>/jwks.json and use
auth.issuer ${DEV_ISSUER} and auth.audience ${DEV_AUDIENCE}.
NOT FOR PRODUCTION: the signing key sits unencrypted on disk.

Options:
  --sub <name>        subject (who the token is for); required
  --groups <a,b>      comma-separated groups (the groups claim); default none
  --roles <a,b>       comma-separated roles (the roles claim); default none
  --ttl <duration>    lifetime: seconds, or 90s, 15m, 12h, 7d (default 3600, at most 30d)
  --key-dir <dir>     where the dev key pair lives (default ${DEFAULT_DEV_KEY_DIR})
  --email <address>   optional email claim, shown in audit records
  --issuer <url>      iss claim (default ${DEV_ISSUER})
  --audience <name>   aud claim (default ${DEV_AUDIENCE})
  -h, --help          show this help

Examples:
  gatehouse token --sub alice --groups analysts
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
      'key-dir': { type: 'string', default: DEFAULT_DEV_KEY_DIR },
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
    const keyDir = values['key-dir'] ?? DEFAULT_DEV_KEY_DIR;

    const keys = await ensureDevKeys(keyDir);
    const token = await mintDevToken({
      keyDir,
      subject,
      groups: listOption(values.groups),
      roles: listOption(values.roles),
      ttlSeconds,
      ...(values.issuer === undefined ? {} : { issuer: values.issuer }),
      ...(values.audience === undefined ? {} : { audience: values.audience }),
      ...(values.email === undefined ? {} : { email: values.email }),
    });
    process.stderr.write(
      `gatehouse token: development token — not for production (key ${keys.kid}; JWKS ${keys.jwksPath}; expires in ${ttlSeconds}s)\n`,
    );
    process.stdout.write(`${token}\n`);
    return 0;
  },
};

export default tokenCommand;
