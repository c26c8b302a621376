import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { commandComplete, dataRow, errorResponse, noticeResponse, portalSuspended, readyForQuery, rowDescription } from '../wire/backend.ts';
import { asciicast, capPauses, parseRecording, renderRecording } from './replay.ts';
import { openSessionRecorder, recordedValue, type RecordingEvent } from './session-recording.ts';

const field = (name: string) => ({ name, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 });

async function recorded(dir: string, id: string): Promise<RecordingEvent[]> {
  await new Promise((r) => setTimeout(r, 50)); // the write stream flushes after end()
  return parseRecording(readFileSync(join(dir, `${id}.ndjson`), 'utf8'));
}

describe('session recording', () => {
  it('records statements and what the client received, rows up to the cap, from the wire messages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rec-'));
    const r = openSessionRecorder('s-1', { subject: 'agent-7', name: null, application_name: 'psql', client_address: '127.0.0.1', database: 'clinic' }, { dir, maxRows: 2 });
    r.statement({ decision_id: 'd1', statement: 'SELECT id, ssn FROM clinical.patients LIMIT $1', decision: 'mask', reason: 'identifiers masked' });
    r.clientMessage(rowDescription([field('id'), field('ssn')]));
    for (const id of ['1', '2', '3']) r.clientMessage(dataRow([Buffer.from(id), Buffer.from('***')]));
    r.clientMessage(commandComplete('SELECT 3'));
    r.clientMessage(readyForQuery('I'));
    r.statement({ decision_id: 'd2', statement: 'DROP TABLE clinical.visits', decision: 'deny', reason: 'no policy permits ddl' });
    r.clientMessage(errorResponse({ severity: 'ERROR', sqlstate: '42501', message: 'Gatehouse policy denied this statement' }));
    r.clientMessage(noticeResponse({ severity: 'NOTICE', sqlstate: '00000', message: 'held for approval' }));
    r.clientMessage(dataRow([null, Buffer.from([0, 1, 255])]));
    r.close();
    const events = await recorded(dir, 's-1');
    expect(events.map((e) => e.type)).toEqual(['session', 'statement', 'columns', 'row', 'row', 'complete', 'statement', 'error', 'notice', 'row', 'end']);
    expect(events[5]).toMatchObject({ type: 'complete', tag: 'SELECT 3', rows: 3, recorded: 2 });
    expect(events[9]).toMatchObject({ values: [null, { base64: 'AAH/' }] });
  });

  it('ends the rows of an Execute with a row limit at its PortalSuspended: the next Execute counts its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rec-'));
    const r = openSessionRecorder('s-2', { subject: 'agent-7', name: null, application_name: 'jdbc', client_address: '127.0.0.1', database: 'clinic' }, { dir });
    r.statement({ decision_id: 'd1', statement: 'FETCH FORWARD $1 FROM "c"', decision: 'allow', reason: 'cursor' });
    for (const id of ['1', '2']) r.clientMessage(dataRow([Buffer.from(id)]));
    r.clientMessage(portalSuspended());
    r.statement({ decision_id: 'd2', statement: 'FETCH FORWARD $1 FROM "c"', decision: 'allow', reason: 'cursor' });
    r.clientMessage(dataRow([Buffer.from('3')]));
    r.clientMessage(commandComplete('SELECT 1'));
    r.close();
    const events = await recorded(dir, 's-2');
    expect(events.map((e) => e.type)).toEqual(['session', 'statement', 'row', 'row', 'complete', 'statement', 'row', 'complete', 'end']);
    expect(events[4]).toMatchObject({ type: 'complete', tag: 'SUSPENDED', rows: 2, recorded: 2 });
    expect(events[7]).toMatchObject({ type: 'complete', tag: 'SELECT 1', rows: 1, recorded: 1 });
  });

  it('keeps printable text as text and anything else as base64', () => {
    expect(recordedValue(Buffer.from('Zoë, 12'))).toBe('Zoë, 12');
    expect(recordedValue(Buffer.from([0xff, 0xfe]))).toEqual({ base64: '//4=' });
    expect(recordedValue(Buffer.from('a\u0000b'))).toEqual({ base64: 'YQBi' });
    expect(recordedValue(null)).toBeNull();
  });
});

describe('replay', () => {
  const events: RecordingEvent[] = [
    { t: 0, type: 'session', session_id: 's-1', started: '2026-12-05T10:00:00.000Z', subject: 'agent-7', name: null, application_name: 'psql', client_address: '127.0.0.1', database: 'clinic', max_rows: 2 },
    { t: 1000, type: 'statement', decision_id: 'd1', statement: 'SELECT id, ssn FROM clinical.patients LIMIT $1', decision: 'mask', reason: 'identifiers masked' },
    { t: 1010, type: 'columns', names: ['id', 'ssn'] },
    { t: 1011, type: 'row', values: ['1', '***'] },
    { t: 1012, type: 'row', values: ['22', null] },
    { t: 1020, type: 'complete', tag: 'SELECT 3', rows: 3, recorded: 2 },
    { t: 601_000, type: 'statement', decision_id: 'd2', statement: 'DROP TABLE clinical.visits', decision: 'deny', reason: 'no policy permits ddl' },
    { t: 601_005, type: 'error', severity: 'ERROR', sqlstate: '42501', message: 'Gatehouse policy denied this statement' },
    { t: 602_000, type: 'end' },
  ];

  it('shows what psql showed: statement, decision, an aligned table, errors', () => {
    const text = renderRecording(events).map((f) => f.text).join('');
    expect(text).toBe(
      [
        '-- Gatehouse session s-1: agent-7 (psql) from 127.0.0.1 to clinic, 2026-12-05T10:00:00.000Z',
        'agent-7=> SELECT id, ssn FROM clinical.patients LIMIT $1',
        '-- mask: identifiers masked',
        ' id | ssn',
        '----+-----',
        ' 1  | ***',
        ' 22 |',
        '(3 rows, the first 2 recorded)',
        '',
        'agent-7=> DROP TABLE clinical.visits',
        '-- deny: no policy permits ddl',
        'ERROR:  Gatehouse policy denied this statement (SQLSTATE 42501)',
        '',
        '-- session ended after 602.0 s',
        '',
      ].join('\n'),
    );
  });

  it('shortens long pauses and writes asciicast v2', () => {
    const frames = capPauses(renderRecording(events), 2);
    expect(frames.map((f) => f.t)).toEqual([0, 1, 1.02, 3.02, 3.025, 4.02]);
    const cast = asciicast(frames, 'Gatehouse session s-1', new Date('2026-12-05T10:00:00.000Z')).trimEnd().split('\n');
    expect(JSON.parse(cast[0]!)).toMatchObject({ version: 2, width: 120, height: 40, timestamp: 1796464800 });
    const [t, kind, text] = JSON.parse(cast[2]!) as [number, string, string];
    expect([t, kind]).toEqual([1, 'o']);
    expect(text).toBe('agent-7=> SELECT id, ssn FROM clinical.patients LIMIT $1\r\n-- mask: identifiers masked\r\n');
  });

  it('skips lines that do not parse (a recording cut short)', () => {
    expect(parseRecording('{"t":0,"type":"end"}\n{"t":1,"ty').map((e) => e.type)).toEqual(['end']);
  });
});
