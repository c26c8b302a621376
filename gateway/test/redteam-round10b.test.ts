// Red-team round 10b, against socket write batching (pg/output-batch.ts, Session.flushSoon, framer
// chunk/at slices, UpstreamRelay.emitFrame): pipelined batches in one write mixing masked, unmasked
// and refused statements; a differential with PostgreSQL itself over COPY OUT/IN, notices,
// notifications and errors in one chunk; a FATAL after rows; a client that stops reading.
//
// Every test asserts the SECURE (or intended) behaviour. No finding: every probe below holds (the
// report of branch redteam10b lists what was tried). Also run for this round: protocol-fuzz.test.ts
// and `npm run fuzz:protocol -- --messages 20000 --seed 7100 --keep-going` (no divergence).
// A client that stops reading is checked by PostgreSQL's own wait event (ClientWrite) and by the
// statement not finishing while it is sampled again, not by time.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { serialize, WireClient, type Message } from './support/wire-client.ts';
import { Writable } from 'node:stream';
import { OutputBatch } from '../src/pg/output-batch.ts';
import { MessageFramer } from '../src/wire/framer.ts';

const ALLOW_ALL = `package gatehouse
verdict := {"deny": set(), "approve": set(), "mask": set(), "allow": {{"id": "rt10b", "reason": "red team 10b", "on": "execute"}}}
`;

function allowAllDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rt10b-policy-'));
  writeFileSync(join(dir, 'allow.rego'), ALLOW_ALL);
  return dir;
}

/** What a message says, without what differs between two sessions (pids, keys). */
function shape(m: Message): unknown {
  const { name, fields, text, code, severity, status, channel, payload } = m as Message & Record<string, unknown>;
  const rest = m as unknown as Record<string, unknown>;
  return { name, fields, text, code, severity, status, channel, payload, message: rest['message'], detail: typeof rest['detail'] === 'string' ? rest['detail'].replace(/decision [0-9a-f-]{36}/, 'decision …') : rest['detail'], chunk: rest['chunk'] ? String(rest['chunk']) : undefined };
}

/** Records what reaches a socket: each write or writev's buffers, copied when written. */
class Sink extends Writable {
  readonly parts: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.parts.push(Buffer.from(chunk));
    done();
  }
}

/** A small deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('red team 10b: framer slices through OutputBatch, adversarially', () => {
  it('relayed, dropped and rewritten messages from randomly split chunks come out exactly in order, and a rewritten message never as its received bytes', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rand = prng(seed);
      const messages: Buffer[] = [];
      for (let i = 0; i < 60; i++) {
        const body = Buffer.alloc(Math.floor(rand() * (rand() < 0.1 ? 9000 : 60)), 0x61 + (i % 26));
        const m = Buffer.alloc(5 + body.length);
        m[0] = 0x44;
        m.writeInt32BE(4 + body.length, 1);
        body.copy(m, 5);
        messages.push(m);
      }
      const stream = Buffer.concat(messages);
      const framer = new MessageFramer(1 << 20);
      const batch = new OutputBatch();
      const sink = new Sink({ highWaterMark: 1 << 30 });
      const expected: Buffer[] = [];
      let at = 0;
      while (at < stream.length) {
        const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 40 : 20000));
        // A fresh Buffer per read, as a socket gives; sometimes a view into a larger one (TLS, pools).
        const pad = rand() < 0.3 ? 7 : 0;
        const backing = Buffer.alloc(n + pad);
        stream.copy(backing, pad, at, at + n);
        framer.push(backing.subarray(pad, pad + Math.min(n, stream.length - at)));
        at += n;
        for (let f = framer.next(); f; f = framer.next()) {
          const r = rand();
          if (r < 0.15) continue; // withheld (a hidden Describe's answer)
          if (r < 0.3) {
            const rewritten = Buffer.from(f.raw);
            rewritten.fill(0x2a, 5); // a masked row: same length, other bytes
            expected.push(Buffer.from(rewritten));
            batch.push(rewritten);
            continue;
          }
          expected.push(Buffer.from(f.raw));
          if (f.chunk !== undefined && f.at !== undefined && f.size !== undefined) batch.pushSlice(f.chunk, f.at, f.size);
          else batch.push(f.raw);
        }
        if (rand() < 0.5) batch.writeTo(sink);
      }
      batch.writeTo(sink);
      expect(Buffer.concat(sink.parts).equals(Buffer.concat(expected)), `seed ${seed}`).toBe(true);
    }
  });
});

const MASKED_SELECT = 'SELECT id, ssn, first_name, mrn FROM clinical.patients ORDER BY id LIMIT 25';

describe('red team 10b: write batching with masks and refusals in one chunk', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let secrets: string[];

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token('agent-rt10b', ['agents']);
    const r = await direct.query('SELECT ssn, first_name, mrn FROM clinical.patients');
    secrets = r.rows.flatMap((row) => [row.ssn, row.first_name, row.mrn].map(String)).filter((v) => v.length >= 4);
  }, 120_000);
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  const batch = (): Buffer[][] => [
    [serialize.query(MASKED_SELECT)],
    [serialize.query('SELECT 1 AS one, repeat($$x$$, 3000) AS pad')],
    [serialize.query('DROP TABLE clinical.patients')],
    [
      serialize.parse({ text: MASKED_SELECT }),
      serialize.bind({}),
      serialize.describe({ type: 'P', name: '' }),
      serialize.execute({ rows: 5 }),
      serialize.execute({}),
      serialize.sync(),
    ],
    [serialize.parse({ text: 'SELECT 2' }), serialize.bind({}), serialize.execute({}), serialize.parse({ text: 'DROP TABLE clinical.visits' }), serialize.bind({}), serialize.execute({}), serialize.sync()],
    [serialize.query(`${MASKED_SELECT}; SELECT 3; ${MASKED_SELECT}`)],
    [serialize.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 3')],
  ];

  it('a pipelined batch in one write gets exactly the answers of its statements sent one by one, masked', async () => {
    const reference: Message[][] = [];
    const one = await WireClient.connect(t.port, token);
    for (const messages of batch()) {
      one.send(...messages);
      reference.push(...(await one.untilReady(1)));
    }
    one.close();
    expect(reference.length).toBe(7);

    for (let round = 0; round < 3; round++) {
      const w = await WireClient.connect(t.port, token);
      w.send(...batch().flat());
      const got = await w.untilReady(7);
      w.close();
      expect(got.map((g) => g.map(shape))).toEqual(reference.map((g) => g.map(shape)));
      const text = JSON.stringify(got);
      for (const s of secrets) expect(text.includes(s), `a masked value (${s.length} chars) was sent`).toBe(false);
    }
  });
});

describe('red team 10b: TLS client, masked rows across many decrypted chunks', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let secrets: string[];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rt10b-tls-'));
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    t = await startTestGateway({ tls: { mode: 'require', cert, key } });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    token = await t.token('agent-rt10b-tls', ['agents']);
    const r = await direct.query('SELECT ssn, first_name, mrn FROM clinical.patients');
    secrets = r.rows.flatMap((row) => [row.ssn, row.first_name, row.mrn].map(String)).filter((v) => v.length >= 4);
  }, 120_000);
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('a large masked result and a pipelined-by-pg sequence of statements over TLS: every row masked, counts exact', async () => {
    const c = await t.client(token, { ssl: { rejectUnauthorized: false } });
    const sql = 'SELECT p.id, p.ssn, p.first_name, p.mrn, repeat(p.diagnosis_code, 200) AS pad FROM clinical.patients p, generate_series(1, 60) g';
    const expected = (await direct.query(`SELECT count(*)::int AS n FROM (${sql}) s`)).rows[0].n as number;
    const results = await Promise.all([c.query(sql), c.query('SELECT 1 AS one'), c.query(sql), c.query('DROP TABLE clinical.patients').catch((e: { code?: string }) => e.code)]);
    await c.end();
    expect(results[0].rowCount).toBe(expected);
    expect(results[2].rowCount).toBe(expected);
    expect(results[1].rows).toEqual([{ one: 1 }]);
    expect(results[3]).toBe('42501');
    const text = JSON.stringify([results[0].rows, results[2].rows]);
    for (const s of secrets) expect(text.includes(s), 'a masked value was sent').toBe(false);
  }, 120_000);
});

describe('red team 10b: a slow reader of values scanned in turns (content detection)', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let database: string;

  beforeAll(async () => {
    t = await startTestGateway();
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    database = (await direct.query('SELECT current_database() AS d')).rows[0].d as string;
    token = await t.token('support-rt10b', ['support']);
  }, 120_000);
  afterAll(async () => {
    await direct?.end();
    await t?.close();
  });

  it('rows whose notes are scanned over several turns: the server is still held back, the gateway does not buffer the result', async () => {
    const sql = "SELECT v.id, repeat(v.notes || ' mail jo.doe@example.com ', 1000) AS notes FROM clinical.visits v, generate_series(1, 15) g";
    const expected = (await direct.query(`SELECT count(*)::int AS n FROM (${sql}) s`)).rows[0].n as number;
    // The detectors do apply to these values (a note's identifiers come back replaced).
    const c = await t.client(token, { database });
    const one = `SELECT repeat(v.notes || ' mail jo.doe@example.com ', 1000) AS notes FROM clinical.visits v ORDER BY v.id LIMIT 1`;
    const [viaGw, viaPg] = [(await c.query(one)).rows[0].notes as string, (await direct.query(one)).rows[0].notes as string];
    await c.end();
    expect(viaPg.length).toBeGreaterThan(32 * 1024);
    expect(viaGw).not.toEqual(viaPg);
    const out = await slowReader(t.port, database, token, direct, sql, 'SELECT v.id, repeat(v.notes', 100);
    expect(out.rows).toBe(expected);
    expect({ serverHeldBack: out.serverHeldBack, heldUnder40MB: out.held < 40 * 1024 * 1024 }).toEqual({ serverHeldBack: true, heldUnder40MB: true });
  }, 180_000);
});

describe('red team 10b: batching against PostgreSQL itself (allow-all policy)', () => {
  let t: TestGateway;
  let direct: pg.Client;
  let token: string;
  let database: string;

  beforeAll(async () => {
    t = await startTestGateway({ policiesDir: allowAllDir() });
    direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    database = (await direct.query('SELECT current_database() AS d')).rows[0].d as string;
    await direct.query('DROP TABLE IF EXISTS public.rt10b_copy; CREATE TABLE public.rt10b_copy (n int, s text)');
    token = await t.token('agent-rt10b', ['agents']);
  }, 120_000);
  afterAll(async () => {
    await direct?.query('DROP TABLE IF EXISTS public.rt10b_copy');
    await direct?.end();
    await t?.close();
  });

  /**
   * Everything until `ready` ReadyForQuery, as sent straight to PostgreSQL and through Gatehouse, as
   * (type, body) frames copied on arrival (pg-protocol's parser reuses its buffer under copyData
   * chunks), with the pid of NotificationResponses zeroed.
   */
  async function both(messages: Buffer[], ready: number): Promise<[string[], string[]]> {
    const fromPg = await rawSession(5432, { user: 'postgres', database }, null, messages, ready);
    const fromGw = await rawSession(t.port, { user: 'agent', database }, token, messages, ready);
    return [fromPg, fromGw];
  }

  it('COPY OUT, notices, notifications and errors in one pipelined write: the same messages, in the same order', async () => {
    const copyRows: Buffer[] = [];
    for (let i = 0; i < 3000; i++) copyRows.push(serialize.copyData(Buffer.from(`${i}\t${'r'.repeat(i % 97)}\n`)));
    const messages = [
      serialize.query('LISTEN rt10b'),
      serialize.query("SELECT pg_notify('rt10b', 'p1'); DO $$ BEGIN RAISE NOTICE 'n1 %', repeat('y', 5000); END $$; NOTIFY rt10b, 'p2'"),
      serialize.query('COPY (SELECT g, repeat($$z$$, g % 300) FROM generate_series(1, 4000) g) TO STDOUT'),
      serialize.query('SELECT 1/0'),
      serialize.query('TRUNCATE public.rt10b_copy'),
      serialize.query('COPY public.rt10b_copy FROM STDIN'),
      ...copyRows,
      serialize.copyDone(),
      serialize.query('SELECT count(*), sum(n), sum(length(s)) FROM public.rt10b_copy'),
      serialize.parse({ text: 'SELECT g FROM generate_series(1, 500) g' }),
      serialize.bind({}),
      serialize.execute({ rows: 7 }),
      serialize.execute({ rows: 0 }),
      serialize.parse({ text: 'SELECT nope' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.sync(),
      serialize.query('UNLISTEN *'),
    ];
    const [fromPg, fromGw] = await both(messages, 9);
    const first = fromGw.findIndex((m, i) => m !== fromPg[i]);
    expect({ first, pg: fromPg.slice(first - 1, first + 3), gw: fromGw.slice(first - 1, first + 3) }).toEqual({ first: -1, pg: [], gw: [] });
    expect(fromGw.length).toBeGreaterThan(4500);
  }, 120_000);

  it('rows the server sent before its FATAL reach the client before it, and nothing after it', async () => {
    const w = await WireClient.connect(t.port, token, { database });
    w.send(serialize.query("SELECT g, repeat('a', 100) FROM generate_series(1, 2000) g; SELECT pg_terminate_backend(pg_backend_pid())"));
    const got: Message[] = [];
    for await (const m of w.untilClosed()) got.push(m);
    const rows = got.filter((m) => m.name === 'dataRow' && m.fields?.length === 2);
    expect(rows.length).toBe(2000);
    expect(rows.map((m) => Number(m.fields?.[0]))).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
    const fatal = got.findIndex((m) => m.name === 'error');
    expect(fatal).toBeGreaterThan(got.lastIndexOf(rows[rows.length - 1]!));
    expect(got[fatal]?.code).toBe('57P01');
    expect(got.slice(fatal + 1).filter((m) => m.name !== 'error')).toEqual([]);
  }, 60_000);

  it('a protocol violation while rows stream: a FATAL 08P01 is the last message, no row after it', async () => {
    const socket: Socket = netConnect(t.port, '127.0.0.1');
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const types: string[] = [];
    const codes: string[] = [];
    let tail = Buffer.alloc(0);
    let onMessage: (() => void) | null = null;
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (d: Buffer) => {
      let b = tail.length > 0 ? Buffer.concat([tail, d]) : d;
      while (b.length >= 5) {
        const len = b.readInt32BE(1);
        if (b.length < len + 1) break;
        types.push(String.fromCharCode(b[0]!));
        if (b[0] === 0x45) codes.push(/C([0-9A-Z]{5})\0/.exec(b.subarray(5, len + 1).toString('latin1'))?.[1] ?? '');
        b = b.subarray(len + 1);
      }
      tail = Buffer.from(b);
      onMessage?.();
    });
    const until = async (pred: () => boolean): Promise<void> => {
      while (!pred()) await new Promise<void>((resolve) => (onMessage = resolve));
    };
    socket.write(serialize.startup({ user: 'agent', database }));
    await until(() => types.includes('R'));
    socket.write(serialize.password(token));
    await until(() => types.includes('Z'));
    const from = types.length;
    socket.write(serialize.query("SELECT g, repeat('q', 200) FROM generate_series(1, 300000) g"));
    await until(() => types.slice(from).filter((x) => x === 'D').length >= 100);
    socket.write(Buffer.from([0x51, 0, 0, 0, 2])); // a Query whose length is below the minimum
    await closed;
    const after = types.slice(from);
    const fatal = after.indexOf('E');
    expect(fatal).toBeGreaterThan(0);
    expect(codes).toEqual(['08P01']);
    expect(after.slice(fatal + 1)).toEqual([]);
  }, 120_000);

  it('an unsafe ParameterStatus in the middle of a relayed chunk is never relayed, and what came before it is', async () => {
    const frames = await rawSession(
      t.port,
      { user: 'agent', database },
      token,
      [
        serialize.query('SELECT 41 AS before'),
        serialize.query("DO $$ BEGIN PERFORM pg_catalog.set_config('standard' || '_conforming_strings', 'off', false); END $$"),
        serialize.query('SELECT 43 AS after'),
      ],
      1,
      true,
    );
    expect(frames.some((f) => f.startsWith('D:') && f.includes('41'))).toBe(true);
    expect(frames.filter((f) => f.startsWith('S:') && f.includes('standard_conforming_strings'))).toEqual([]);
    expect(frames.some((f) => f.startsWith('E:'))).toBe(true);
    expect(frames.some((f) => f.startsWith('D:') && f.includes('43'))).toBe(false);
  }, 60_000);

  it('a client that stops reading holds the server back (ClientWrite) without the gateway buffering the result', async () => {
    const ROWS = 60_000;
    const out = await slowReader(t.port, database, token, direct, `SELECT g, repeat('b', 2000) FROM generate_series(1, ${ROWS}) g`, "SELECT g, repeat('b'", 60);
    expect(out.serverHeldBack).toBe(true);
    // The result is ~120 MB; what the gateway may hold is a socket buffer or two, not the result.
    expect(out.held).toBeLessThan(40 * 1024 * 1024);
    expect(out.rows).toBe(ROWS);
  }, 180_000);
});

/** A session on a raw socket: logs in, sends `messages` in one write, returns the frames up to `ready` ReadyForQuery. */
async function rawSession(port: number, startup: Record<string, string>, password: string | null, messages: Buffer[], ready: number, untilClose = false): Promise<string[]> {
  const socket: Socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  const frames: Array<{ type: string; body: Buffer }> = [];
  let tail = Buffer.alloc(0);
  let waiter: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    let b = tail.length > 0 ? Buffer.concat([tail, d]) : d;
    while (b.length >= 5) {
      const len = b.readInt32BE(1);
      if (b.length < len + 1) break;
      frames.push({ type: String.fromCharCode(b[0]!), body: Buffer.from(b.subarray(5, len + 1)) });
      b = b.subarray(len + 1);
    }
    tail = Buffer.from(b);
    waiter?.();
  });
  const until = async (pred: () => boolean): Promise<void> => {
    while (!pred()) await new Promise<void>((resolve) => (waiter = resolve));
  };
  const readies = (): number => frames.filter((f) => f.type === 'Z').length;
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  socket.write(serialize.startup(startup));
  if (password !== null) {
    await until(() => frames.some((f) => f.type === 'R'));
    socket.write(serialize.password(password));
  }
  await until(() => readies() >= 1);
  const from = frames.length;
  socket.write(Buffer.concat(messages));
  if (untilClose) await new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
  else await until(() => readies() >= ready + 1);
  socket.end(serialize.end());
  return frames.slice(from).map((f) => {
    const body = f.type === 'A' ? Buffer.concat([Buffer.alloc(4), f.body.subarray(4)]) : f.body;
    return `${f.type}:${body.toString('latin1')}`;
  });
}

/**
 * Logs in on a raw socket, sends `sql`, stops reading until PostgreSQL waits to write to Gatehouse
 * (ClientWrite: the gateway stopped reading it) or the statement ends (the gateway read it all);
 * then reads everything. `held`: growth of this process's Buffer memory meanwhile.
 */
async function slowReader(port: number, database: string, token: string, direct: pg.Client, sql: string, like: string, settlePolls = 0): Promise<{ serverHeldBack: boolean; held: number; rows: number }> {
  const socket: Socket = netConnect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  let received = Buffer.alloc(0);
  const waitFor = (pred: (b: Buffer) => boolean): Promise<void> =>
    new Promise((resolve) => {
      const on = (d: Buffer): void => {
        received = Buffer.concat([received, d]);
        if (pred(received)) {
          socket.off('data', on);
          resolve();
        }
      };
      socket.on('data', on);
    });
  socket.write(serialize.startup({ user: 'agent', database, application_name: 'rt10b-slow-reader' }));
  await waitFor((b) => b.length >= 9 && b[0] === 0x52);
  received = Buffer.alloc(0);
  socket.write(serialize.password(token));
  await waitFor((b) => b.includes(Buffer.from([0x5a, 0, 0, 0, 5])));
  socket.pause();
  const before = process.memoryUsage().arrayBuffers;
  socket.write(serialize.query(sql));
  let state = '';
  // Anywhere in the text: Gatehouse may send a lock prefix ahead of it (enforce/lock-prefix.ts).
  const pattern = `%${like.replace(/'/g, "''")}%`;
  for (let i = 0; i < 3000; i++) {
    const r = await direct.query(`SELECT coalesce(max(wait_event), '') AS w, count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '${pattern}' AND state = 'active' AND pid <> pg_backend_pid()`);
    if (i > 10 && r.rows[0].n === 0) {
      state = 'finished';
      break;
    }
    if (r.rows[0].w === 'ClientWrite') {
      state = 'ClientWrite';
      break;
    }
    await new Promise((r2) => setTimeout(r2, 20));
  }
  // Sampled again later: a gateway that keeps reading (and buffering) would let the statement finish.
  let peak = process.memoryUsage().arrayBuffers - before;
  if (state === 'ClientWrite') {
    for (let i = 0; i < settlePolls; i++) {
      await new Promise((r2) => setTimeout(r2, 50));
      peak = Math.max(peak, process.memoryUsage().arrayBuffers - before);
      const r = await direct.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '${pattern}' AND state = 'active' AND pid <> pg_backend_pid()`);
      if (r.rows[0].n === 0) {
        state = 'finished';
        break;
      }
    }
  }
  const held = peak;
  let rows = 0;
  let tail = Buffer.alloc(0);
  await new Promise<void>((resolve) => {
    socket.on('data', (d: Buffer) => {
      let b = tail.length > 0 ? Buffer.concat([tail, d]) : d;
      while (b.length >= 5) {
        const len = b.readInt32BE(1);
        if (b.length < len + 1) break;
        if (b[0] === 0x44) rows++;
        if (b[0] === 0x5a) resolve();
        b = b.subarray(len + 1);
      }
      tail = Buffer.from(b);
    });
    socket.resume();
  });
  socket.end(serialize.end());
  return { serverHeldBack: state === 'ClientWrite', held, rows };
}
