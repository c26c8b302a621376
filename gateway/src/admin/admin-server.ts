// The operators' HTTP listener (config `admin`): a small route table, JSON in and out. It never
// carries client traffic; bind it to loopback or a management network.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/** A JSON document, or text in a given content type (the Prometheus exposition format). */
export type AdminReply =
  | { status: number; body: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType: string; headers?: Record<string, string> };

/** Handles one request; the body has been read (and capped) already; `params` holds the path's {name} segments. */
export type AdminRoute = (req: IncomingMessage, body: Buffer, params: Record<string, string>) => AdminReply | Promise<AdminReply>;

/** Routes by path (exact, or with {name} segments such as /approvals/api/requests/{id}), then by method. */
export type AdminRoutes = Record<string, Partial<Record<'GET' | 'POST', AdminRoute>>>;

export interface AdminServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Request bodies are not used beyond webhooks' small JSON payloads; anything larger is refused. */
const MAX_BODY_BYTES = 1024 * 1024;

export async function startAdminServer(
  listen: { host: string; port: number },
  routes: AdminRoutes,
  onInfo: (message: string) => void = () => undefined,
): Promise<AdminServer> {
  const server: Server = createServer((req, res) => {
    handle(routes, req, res).catch((e: unknown) => {
      onInfo(`admin: ${req.method ?? '?'} ${req.url ?? '?'} failed: ${e instanceof Error ? e.message : String(e)}`);
      if (!res.headersSent) send(res, { status: 500, body: { error: 'internal error' } });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : listen.port;
  onInfo(`admin: listening on http://${listen.host}:${port}`);
  return {
    host: listen.host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(routes: AdminRoutes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://admin.invalid').pathname;
  const { methods, params } = findRoute(routes, path);
  if (methods === undefined) return send(res, { status: 404, body: { error: `no such endpoint: ${path}` } });
  const route = req.method === 'GET' || req.method === 'POST' ? methods[req.method] : undefined;
  if (route === undefined) {
    res.setHeader('Allow', Object.keys(methods).join(', '));
    return send(res, { status: 405, body: { error: `${req.method ?? '?'} is not allowed on ${path}` } });
  }
  const body = await readBody(req);
  if (body === null) return send(res, { status: 413, body: { error: 'request body too large' } });
  send(res, await route(req, body, params));
}

/** An exact path first, then the first template whose segments match ({name} matches one non-empty segment). */
function findRoute(routes: AdminRoutes, path: string): { methods: AdminRoutes[string] | undefined; params: Record<string, string> } {
  if (Object.prototype.hasOwnProperty.call(routes, path)) return { methods: routes[path], params: {} };
  const parts = path.split('/');
  for (const [template, methods] of Object.entries(routes)) {
    if (!template.includes('{')) continue;
    const want = template.split('/');
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const matches = want.every((w, i) => {
      const got = parts[i]!;
      if (w.startsWith('{') && w.endsWith('}')) {
        if (got === '') return false;
        try {
          params[w.slice(1, -1)] = decodeURIComponent(got);
        } catch {
          return false;
        }
        return true;
      }
      return w === got;
    });
    if (matches) return { methods, params };
  }
  return { methods: undefined, params: {} };
}

function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, reply: AdminReply): void {
  const [text, contentType] = 'text' in reply ? [reply.text, reply.contentType] : [`${JSON.stringify(reply.body, null, 2)}\n`, 'application/json; charset=utf-8'];
  res.writeHead(reply.status, { ...reply.headers, 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(text);
}
