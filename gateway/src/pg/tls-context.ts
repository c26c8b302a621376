// The TLS context client connections are offered (config tls), built once at start.
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { GatehouseConfig } from '../config/types.ts';
import { GatehouseError } from '../errors.ts';

/** Null with tls.mode disable; a certificate, key or cipher list that cannot be used stops the start. */
export function tlsContextFor(config: GatehouseConfig): SecureContext | null {
  if (config.tls.mode === 'disable') return null;
  if (!config.tls.certFile || !config.tls.keyFile) {
    throw new GatehouseError('CONFIG_INVALID', `tls.mode ${config.tls.mode} needs tls.cert and tls.key`);
  }
  try {
    return createSecureContext({
      cert: readFileSync(config.tls.certFile),
      key: readFileSync(config.tls.keyFile),
      ciphers: config.tls.ciphers,
      minVersion: 'TLSv1.2',
      honorCipherOrder: true,
    });
  } catch (e) {
    if (e instanceof Error && /cipher/i.test(e.message)) {
      throw new GatehouseError('CONFIG_INVALID', `tls.ciphers: OpenSSL accepts none of "${config.tls.ciphers}" (${e.message})`);
    }
    throw e;
  }
}
