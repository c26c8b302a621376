// What `gatehouse token` needs from a config file: where its JWKS file is (so the development key
// lives beside it), and the issuer and audience it accepts. Reads only the `auth` section, so the
// upstream password variable need not be set to mint a token.

import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { parse } from 'yaml';
import { GatehouseError } from '../errors.ts';
import { expandEnv, type Env } from './env-expand.ts';

/** The file name the development key pair publishes its public key as (auth/dev-keys.ts). */
const DEV_JWKS_FILE = 'jwks.json';

export interface TokenTarget {
  /** The config file, absolute. */
  configFile: string;
  /** The directory of auth.jwks.file, resolved against the config file's directory. */
  keyDir: string;
  issuer: string;
  audience: string;
}

export async function readTokenTarget(configPath: string, env: Env = process.env): Promise<TokenTarget> {
  const configFile = resolve(configPath);
  const fail = (message: string, hint?: string): GatehouseError =>
    new GatehouseError('CONFIG_INVALID', `${configFile}: ${message}`, hint === undefined ? {} : { hint });
  let doc: unknown;
  try {
    doc = parse(await readFile(configFile, 'utf8'));
  } catch (e) {
    throw fail(`cannot read it: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const problems: string[] = [];
  const auth = expandEnv(isRecord(doc) ? doc['auth'] : undefined, env, problems, 'auth');
  if (problems.length > 0) throw fail(problems.join('; '));
  if (!isRecord(auth) || typeof auth['issuer'] !== 'string' || typeof auth['audience'] !== 'string' || !isRecord(auth['jwks'])) {
    throw fail('auth.issuer, auth.audience and auth.jwks are required (docs/configuration.md)');
  }
  const file = auth['jwks']['file'];
  if (typeof file !== 'string') {
    throw fail('auth.jwks is not a file, so development tokens would not be accepted', 'pass --key-dir to mint one anyway');
  }
  const jwksPath = resolve(dirname(configFile), file);
  if (basename(jwksPath) !== DEV_JWKS_FILE) {
    throw fail(`auth.jwks.file must be named ${DEV_JWKS_FILE} for development keys (it is ${file})`, `point it at <dir>/${DEV_JWKS_FILE}`);
  }
  return { configFile, keyDir: dirname(jwksPath), issuer: auth['issuer'], audience: auth['audience'] };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
