// Node TLS options for each libpq sslmode: which certificate checks apply to the upstream server.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { GatehouseError } from '../../errors.ts';
import type { ConnectionSettings } from './connection-url.ts';

/** How the server certificate is checked: not at all, against the CA, or against the CA and the host name. */
export type TlsVerification = 'none' | 'ca' | 'full';

/**
 * libpq semantics: prefer/require encrypt without checking (but require with an sslrootcert
 * checks the CA), verify-ca checks the chain, verify-full the chain and the host name.
 */
export function tlsVerification(s: Pick<ConnectionSettings, 'sslmode' | 'sslrootcert'>): TlsVerification {
  switch (s.sslmode) {
    case 'verify-full':
      return 'full';
    case 'verify-ca':
      return 'ca';
    case 'require':
      return s.sslrootcert !== null ? 'ca' : 'none';
    case 'disable':
    case 'allow':
    case 'prefer':
      return 'none';
  }
}

function readCa(s: Pick<ConnectionSettings, 'sslrootcert'>): Buffer | undefined {
  if (s.sslrootcert === 'system') return undefined; // Node's bundled trust store
  const path = s.sslrootcert ?? join(homedir(), '.postgresql', 'root.crt');
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new GatehouseError(
      'UPSTREAM_UNAVAILABLE',
      `cannot read the upstream root certificate ${path} (${code}); it is required to verify the server`,
      { hint: 'set sslrootcert=PATH in the upstream URL, or sslrootcert=system for the default CAs' },
    );
  }
}

export function tlsConnectionOptions(s: ConnectionSettings): ConnectionOptions {
  const verification = tlsVerification(s);
  const base: ConnectionOptions = { host: s.host };
  if (isIP(s.host) === 0) base.servername = s.host; // SNI takes names only
  if (verification === 'none') return { ...base, rejectUnauthorized: false };
  const ca = readCa(s);
  return {
    ...base,
    ...(ca === undefined ? {} : { ca }),
    rejectUnauthorized: true,
    // verify-ca: the chain must lead to the CA; the name in the certificate is not checked.
    ...(verification === 'ca' ? { checkServerIdentity: () => undefined } : {}),
  };
}
