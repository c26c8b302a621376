// Whether the upstream database accepts Gatehouse's own credentials right now: connect, authenticate,
// wait for ReadyForQuery, say goodbye. For `serve --check` and the admin /readyz endpoint.

import { encodeTerminate } from '../../wire/frontend.ts';
import { connectUpstream } from './connect.ts';
import { parseConnectionUrl } from './connection-url.ts';

export type UpstreamProbe =
  | { ok: true; serverVersion: string; user: string; database: string }
  | { ok: false; reason: string };

export async function probeUpstream(url: string, connectTimeoutMs: number): Promise<UpstreamProbe> {
  try {
    const settings = parseConnectionUrl(url);
    const conn = await connectUpstream({ url, applicationName: 'gatehouse-probe', connectTimeoutMs });
    conn.socket.end(encodeTerminate());
    return { ok: true, serverVersion: conn.parameters.get('server_version') ?? 'unknown', user: settings.user, database: settings.database };
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
