// The floor of a PostgreSQL proxy written on Node's sockets, for `pgbench -C` against a pooled
// Gatehouse: the same socket work per session and nothing else. Accepts, sets TCP_NODELAY, answers
// the startup with AuthenticationCleartextPassword, takes any password, sends a login hello copied from
// the upstream's, relays the session's messages to a pooled upstream connection (trust authentication
// as postgres, at most 12) and the answers back, and on disconnect sends DISCARD ALL before the
// connection serves another client. No policy, no audit, no token, no checks: a measuring stick, never
// a proxy to run. Method and figures: docs/benchmarks.md, "Where a pooled login's CPU goes".
// Usage: node --import tsx scripts/node-proxy-floor.ts [--port 6650] [--database gh_syscalls]
//          [--upstream-port 5432] [--pool 12]
//        PGPASSWORD=x pgbench -S -n -C -T 10 -c 8 -j 2 "postgresql://bench@127.0.0.1:6650/<database>?sslmode=disable"
//        and its CPU from /proc/<pid>/stat (the pid is printed).
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '6650' },
    database: { type: 'string', default: 'gh_syscalls' },
    'upstream-port': { type: 'string', default: '5432' },
    pool: { type: 'string', default: '12' },
  },
});
const maxConnections = Number(values.pool);

function message(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(5 + body.length);
  out[0] = type.charCodeAt(0);
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** Calls onFrame for each whole message (type byte, length, body) in the chunks it is given. */
function framer(onFrame: (type: number, frame: Buffer) => void): (chunk: Buffer) => void {
  let buf: Buffer = Buffer.alloc(0);
  return (chunk) => {
    buf = buf.length > 0 ? Buffer.concat([buf, chunk]) : chunk;
    while (buf.length >= 5) {
      const len = buf.readInt32BE(1);
      if (buf.length < len + 1) break;
      onFrame(buf[0]!, buf.subarray(0, len + 1));
      buf = buf.subarray(len + 1);
    }
  };
}

/** AuthenticationOk, the upstream's ParameterStatus messages, a zero BackendKeyData, ReadyForQuery. */
let hello: Buffer | null = null;
const idle: net.Socket[] = [];
const waiting: ((s: net.Socket) => void)[] = [];
let opened = 0;

function openUpstream(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(values['upstream-port']), '127.0.0.1');
    socket.setNoDelay(true);
    socket.once('error', reject);
    const params = Buffer.from(`user\0postgres\0database\0${values.database}\0\0`);
    const startup = Buffer.alloc(8 + params.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    params.copy(startup, 8);
    socket.write(startup);
    const statuses: Buffer[] = [];
    const onData = framer((type, frame) => {
      if (type === 0x53) statuses.push(Buffer.from(frame)); // ParameterStatus
      if (type === 0x45) reject(new Error(`upstream refused: ${frame.toString('utf8', 5).replace(/\0/g, ' ')}`));
      if (type === 0x5a) {
        hello ??= Buffer.concat([message('R', Buffer.alloc(4)), ...statuses, message('K', Buffer.alloc(8)), message('Z', Buffer.from('I'))]);
        socket.off('data', onData);
        resolve(socket);
      }
    });
    socket.on('data', onData);
  });
}

async function acquire(): Promise<net.Socket> {
  const s = idle.pop();
  if (s !== undefined) return s;
  if (opened < maxConnections) {
    opened++;
    return openUpstream();
  }
  return new Promise((resolve) => waiting.push(resolve));
}

function release(s: net.Socket): void {
  const next = waiting.shift();
  if (next !== undefined) next(s);
  else idle.push(s);
}

/** DISCARD ALL, then back to the pool once its ReadyForQuery came. */
function reset(s: net.Socket): void {
  const onData = framer((type) => {
    if (type !== 0x5a) return;
    s.off('data', onData);
    release(s);
  });
  s.on('data', onData);
  s.write(message('Q', Buffer.from('DISCARD ALL\0')));
}

net
  .createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => undefined);
    let state: 'startup' | 'password' | 'waiting' | 'session' = 'startup';
    let upstream: net.Socket | null = null;
    const relay = (chunk: Buffer): void => void client.write(chunk);
    let startup: Buffer = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      switch (state) {
        case 'startup': {
          startup = Buffer.concat([startup, chunk]);
          if (startup.length < 4 || startup.length < startup.readInt32BE(0)) return;
          state = 'password';
          client.write(message('R', Buffer.from([0, 0, 0, 3])));
          return;
        }
        case 'password':
          state = 'waiting';
          void acquire().then((s) => {
            if (client.destroyed) return reset(s);
            upstream = s;
            s.on('data', relay);
            state = 'session';
            client.write(hello!);
          });
          return;
        case 'waiting':
          return;
        case 'session':
          if (chunk[0] === 0x58) client.end(); // Terminate
          else upstream!.write(chunk);
          return;
      }
    });
    client.on('close', () => {
      if (upstream === null) return;
      upstream.off('data', relay);
      reset(upstream);
      upstream = null;
    });
  })
  .listen(Number(values.port), '127.0.0.1', () => process.stdout.write(`listening on 127.0.0.1:${values.port}, pid ${process.pid}\n`));
