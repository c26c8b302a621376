// Parsing a libpq-style connection URL (postgresql://user:pass@host:port/db?sslmode=...) into settings.

import { userInfo } from 'node:os';
import { GatehouseError } from '../../errors.ts';

export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

export interface ConnectionSettings {
  /** Host name or IP address; a value starting with "/" is a Unix-socket directory. */
  host: string;
  port: number;
  user: string;
  /** Never log or show this. */
  password: string | null;
  database: string;
  sslmode: SslMode;
  /** Path of the CA bundle, or "system" for the default trust store. */
  sslrootcert: string | null;
  applicationName: string | null;
  /** libpq "options": command-line options sent to the server at startup (e.g. "-c search_path=x"). */
  options: string | null;
  /** libpq connect_timeout, in seconds, if the URL gives one. */
  connectTimeoutSeconds: number | null;
}

/** Query parameters libpq accepts that Gatehouse acts on; any other is refused, as libpq does. */
const KNOWN_PARAMS = new Set([
  'host',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'application_name',
  'options',
  'connect_timeout',
]);

function invalid(message: string): GatehouseError {
  // The URL itself is never quoted: it may hold a password.
  return new GatehouseError('CONFIG_INVALID', `upstream URL: ${message}`);
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw invalid(`malformed percent-encoding in the ${what}`);
  }
}

function defaultUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

/**
 * Parses `postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]` (or
 * `postgres://`). Missing parts default as in libpq, without reading PG* environment variables:
 * host localhost, port 5432, user the OS user, database the user, sslmode prefer.
 * Throws GatehouseError CONFIG_INVALID, whose message never contains the password.
 */
export function parseConnectionUrl(url: string): ConnectionSettings {
  const scheme = /^postgres(?:ql)?:\/\//i.exec(url);
  if (scheme === null) throw invalid('must start with postgresql:// or postgres://');
  let rest = url.slice(scheme[0].length);

  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let path: string | null = null;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    path = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
  }

  let user: string | null = null;
  let password: string | null = null;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon >= 0) {
      user = decode(userinfo.slice(0, colon), 'user name');
      password = decode(userinfo.slice(colon + 1), 'password');
    } else {
      user = decode(userinfo, 'user name');
    }
  }

  let host: string | null = null;
  let port: string | null = null;
  if (rest.includes(',')) throw invalid('multiple hosts are not supported');
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalid('unterminated IPv6 address');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after.startsWith(':')) port = after.slice(1);
    else if (after !== '') throw invalid('unexpected text after the IPv6 address');
  } else {
    const colon = rest.indexOf(':');
    if (colon >= 0) {
      host = rest.slice(0, colon);
      port = rest.slice(colon + 1);
    } else {
      host = rest;
    }
    host = decode(host, 'host');
  }

  let database: string | null = path === null || path === '' ? null : decode(path, 'database name');
  let sslmode: SslMode = 'prefer';
  let sslrootcert: string | null = null;
  let applicationName: string | null = null;
  let options: string | null = null;
  let connectTimeoutSeconds: number | null = null;

  for (const pair of query === '' ? [] : query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    if (eq < 0) throw invalid(`query parameter "${pair.slice(0, 40)}" has no value`);
    const key = decode(pair.slice(0, eq), 'query');
    const value = decode(pair.slice(eq + 1), 'query');
    if (!KNOWN_PARAMS.has(key)) throw invalid(`unsupported query parameter "${key.slice(0, 40)}"`);
    switch (key) {
      case 'host':
        host = value;
        break;
      case 'port':
        port = value;
        break;
      case 'user':
        user = value;
        break;
      case 'password':
        password = value;
        break;
      case 'dbname':
        database = value;
        break;
      case 'sslmode':
        if (!(SSL_MODES as readonly string[]).includes(value)) {
          throw invalid(`sslmode must be one of ${SSL_MODES.join(', ')}`);
        }
        sslmode = value as SslMode;
        break;
      case 'sslrootcert':
        sslrootcert = value;
        break;
      case 'application_name':
        applicationName = value;
        break;
      case 'options':
        options = value;
        break;
      case 'connect_timeout': {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) throw invalid('connect_timeout must be a non-negative integer');
        connectTimeoutSeconds = n;
        break;
      }
    }
  }

  if (host !== null && host.includes(',')) throw invalid('multiple hosts are not supported');
  let portNumber = 5432;
  if (port !== null && port !== '') {
    if (!/^\d+$/.test(port)) throw invalid('port must be a number');
    portNumber = Number(port);
    if (portNumber < 1 || portNumber > 65535) throw invalid('port must be between 1 and 65535');
  }
  const finalUser = user === null || user === '' ? defaultUser() : user;
  return {
    host: host === null || host === '' ? 'localhost' : host,
    port: portNumber,
    user: finalUser,
    password,
    database: database === null || database === '' ? finalUser : database,
    sslmode,
    sslrootcert,
    applicationName,
    options,
    connectTimeoutSeconds,
  };
}

/** "host:port" (or the socket path) for messages; never includes credentials. */
export function describeTarget(s: Pick<ConnectionSettings, 'host' | 'port'>): string {
  if (s.host.startsWith('/')) return `${s.host}/.s.PGSQL.${s.port}`;
  return s.host.includes(':') ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}
