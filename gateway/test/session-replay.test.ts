// Session recording and replay through a real gateway: a psql session (masked read, allowed read,
// denied DDL) is recorded with audit.recordings_dir; `gatehouse replay` (a real process) plays it
// back as psql showed it, with masked values only, and writes an asciicast v2 file.

import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/harness.ts';
import { psqlVia, runGatehouse } from './support/run-tool.ts';

describe('session recording and replay', () => {
  let t: TestGateway;
  let recordings: string;
  let sessionId: string;
  let psqlOut: string;
  let ssns: string[];

  beforeAll(async () => {
    recordings = mkdtempSync(join(tmpdir(), 'gatehouse-it-recordings-'));
    t = await startTestGateway({ audit: { recordings_dir: recordings, recording_max_rows: 3 } });
    const direct = new pg.Client({ connectionString: t.upstreamUrl });
    await direct.connect();
    ssns = (await direct.query<{ ssn: string }>('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 5')).rows.map((r) => r.ssn);
    await direct.end();
    const token = await t.token('replayed-agent', ['agents']);
    const run = await psqlVia(t.port, token, [
      '-c', 'SELECT id, ssn, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 5',
      '-c', 'SELECT id FROM clinical.visits ORDER BY id LIMIT 2',
    ]);
    expect(run.code, run.stderr).toBe(0);
    psqlOut = run.stdout.toString('utf8');
    const denied = await psqlVia(t.port, token, ['-c', 'DROP TABLE clinical.visits']);
    expect(denied.code).not.toBe(0);
    await t.auditUntil((rs) => rs.filter((r) => r.type === 'session' && r.event === 'closed').length >= 2);
    const statement = t.audit().find((r) => r.type === 'statement' && r.statement.includes('diagnosis_code'));
    sessionId = (statement as { session_id: string }).session_id;
  }, 120_000);

  afterAll(async () => {
    await t?.close();
  });

  it('plays a session back as psql showed it: masked values, counts, decisions', async () => {
    expect(readdirSync(recordings)).toContain(`${sessionId}.ndjson`);
    const replay = await runGatehouse(['replay', sessionId, '--dir', recordings]);
    expect(replay.code, replay.stderr).toBe(0);
    const out = replay.stdout;
    expect(out).toContain(`-- Gatehouse session ${sessionId}: replayed-agent (psql)`);
    expect(out).toMatch(/replayed-agent=> SELECT id, ssn, diagnosis_code FROM clinical\.patients ORDER BY id LIMIT \$1\n-- mask: /);
    expect(out).toContain('(5 rows, the first 3 recorded)');
    expect(out).toContain('(2 rows)');
    // The rows are the ones psql printed (masked), never the stored values.
    const psqlRows = psqlOut.split('\n').filter((l) => /^\s+\d+ \|/.test(l)).slice(0, 3).map((l) => l.split('|').map((c) => c.trim()));
    expect(psqlRows).toHaveLength(3);
    for (const [id, ssn, code] of psqlRows) expect(out).toMatch(new RegExp(`^ ${id} +\\| ${ssn!.replace(/[*]/g, '\\*')} +\\| ${code}`, 'm'));
    for (const ssn of ssns) expect(out).not.toContain(ssn);
    for (const ssn of ssns) expect(readFileSync(join(recordings, `${sessionId}.ndjson`), 'utf8')).not.toContain(ssn);
  });

  it('records a refused statement with its error, in its own session', async () => {
    const files = readdirSync(recordings).map((f) => readFileSync(join(recordings, f), 'utf8'));
    const deniedSession = files.find((f) => f.includes('DROP TABLE clinical.visits'));
    expect(deniedSession).toMatch(/"type":"statement".*"decision":"deny"/);
    expect(deniedSession).toMatch(/"type":"error","severity":"ERROR","sqlstate":"42501"/);
  });

  it('writes an asciicast v2 file', async () => {
    const cast = join(recordings, 'session.cast');
    const written = await runGatehouse(['replay', join(recordings, `${sessionId}.ndjson`), '--asciicast', cast]);
    expect(written.code, written.stderr).toBe(0);
    const [header, ...events] = readFileSync(cast, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as unknown);
    expect(header).toMatchObject({ version: 2, width: 120, height: 40 });
    expect(events.length).toBeGreaterThan(3);
    for (const e of events) expect(e).toEqual([expect.any(Number), 'o', expect.any(String)]);
    const times = events.map((e) => (e as [number])[0]);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
  });

  it('says what is wrong: an unknown session, a bad speed (exit 2)', async () => {
    const missing = await runGatehouse(['replay', 'no-such-session', '--dir', recordings]);
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringContaining('cannot read the recording')]);
    const speed = await runGatehouse(['replay', sessionId, '--dir', recordings, '--speed', 'fast']);
    expect([speed.code, speed.stderr]).toEqual([2, expect.stringContaining("--speed must be a number of at least 0, not 'fast'")]);
  });
});
