import { mkdtempSync, readFileSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { openAuditSink } from '../audit/file-sink.ts';
import type { AuditRecord } from '../audit/types.ts';
import { loadPolicyEngine } from '../policy/load.ts';
import type { PolicyEngine } from '../policy/types.ts';
import { loadSqlParser } from '../sql/parser.ts';
import { DecisionCache } from './decision-cache.ts';
import { decideQuery as decideMaybeLater, type DecisionContext, type QueryDecision } from './decision-point.ts';
import { RelationCatalog } from './relation-catalog.ts';
import { RoutineCatalog } from './routine-catalog.ts';
import { DECISION_STOPPED_POLICY_ID } from './stopped-decision.ts';
import { SliceStop } from '../work-slices.ts';

/** With the in-process evaluator every decision is made at once. */
function decideQuery(...args: Parameters<typeof decideMaybeLater>): QueryDecision {
  const d = decideMaybeLater(...args);
  if (d instanceof Promise) throw new Error('expected a decision made at once');
  return d;
}

const ROOT = resolve(import.meta.dirname, '../../..');
const schema = (name: string): object => JSON.parse(readFileSync(join(ROOT, 'schemas', name), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats.default(ajv);
const validDecision = ajv.compile(schema('decision.schema.json'));
const validRecord = ajv.compile(schema('audit-record.schema.json'));

let rego: PolicyEngine;
const buildDir = mkdtempSync(join(tmpdir(), 'gatehouse-decide-'));

beforeAll(async () => {
  await loadSqlParser();
  rego = await loadPolicyEngine({ engine: 'rego', directory: join(ROOT, 'policies/rego'), buildDir });
});

/** The real engine, counting how often it is asked. */
function counted(engine: PolicyEngine): PolicyEngine & { calls: number } {
  const wrapper = {
    kind: engine.kind,
    revision: engine.revision,
    deterministic: engine.deterministic,
    ...(engine.reads === undefined ? {} : { reads: engine.reads }),
    calls: 0,
    evaluate: (input: Parameters<PolicyEngine['evaluate']>[0]) => {
      wrapper.calls++;
      return engine.evaluate(input);
    },
  };
  return wrapper;
}

const ROUTINES = new RoutineCatalog([
  { kind: 'operator', schema: 'pg_catalog', name: '=', harmless: true, retset: false },
  { kind: 'function', schema: 'pg_catalog', name: 'upper', harmless: true, retset: false },
]);

const PATIENTS = new RelationCatalog(
  [
    {
      oid: 1,
      schema: 'clinical',
      name: 'patients',
      qualified: 'clinical.patients',
      kind: 'table',
      persistence: 'permanent',
      columns: ['id', 'mrn', 'first_name', 'last_name', 'ssn', 'phone', 'email', 'address', 'date_of_birth'].map((name, i) => ({
        name,
        attnum: i + 1,
        type: name === 'id' ? 'integer' : name === 'date_of_birth' ? 'date' : 'text',
        category: name === 'id' ? 'N' : name === 'date_of_birth' ? 'D' : 'S',
        typeOid: name === 'id' ? 23 : name === 'date_of_birth' ? 1082 : 25,
      })),
      reads: [],
      ancestors: [],
      keys: [
        { kind: 'unique', name: 'patients_pkey', columns: ['id'] },
        { kind: 'unique', name: 'patients_mrn_key', columns: ['mrn'] },
      ],
    },
    {
      oid: 2,
      schema: 'clinical',
      name: 'visits',
      qualified: 'clinical.visits',
      kind: 'table',
      persistence: 'permanent',
      columns: ['id', 'patient_id', 'notes'].map((name, i) => ({ name, attnum: i + 1, type: name === 'notes' ? 'text' : 'integer', category: name === 'notes' ? 'S' : 'N', typeOid: name === 'notes' ? 25 : 23 })),
      reads: [],
      ancestors: [],
      keys: [{ kind: 'unique', name: 'visits_pkey', columns: ['id'] }],
      foreignKeys: [{ name: 'visits_patient_id_fkey', columns: ['patient_id'], table: 'clinical.patients', referenced: ['id'] }],
    },
  ],
  { hash: true },
);

function context(engine: PolicyEngine, groups: string[]): { ctx: DecisionContext; records: () => AuditRecord[] } {
  const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-decide-audit-')), 'audit.ndjson');
  // Plain appends: these tests read the file in the turn the decision was made, before a preallocated
  // log's end-of-turn write (audit/append-file.ts).
  const audit = openAuditSink(file, { preallocateBytes: 0 });
  const ctx: DecisionContext = {
    identity: { subject: 'agent-1', issuer: 'https://idp.test', groups, roles: [], name: null },
    session: { id: 'session-1', clientAddress: '127.0.0.1', applicationName: 'test', database: 'clinic', user: 'agent', tls: false },
    searchPath: ['public'],
    engines: { current: () => engine },
    audit,
    evalTimeoutMs: 5000,
    cache: new DecisionCache(),
    routines: { current: () => ROUTINES },
    relations: { current: () => PATIENTS, refreshSoon: () => undefined },
  };
  const records = (): AuditRecord[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as AuditRecord)
      .filter((r) => r.type !== 'sink'); // the sink's own "opened" record
  return { ctx, records };
}

describe('decideQuery', () => {
  it('returns decisions and writes audit records that match their JSON Schemas', () => {
    const { ctx, records } = context(rego, ['agents']);
    const d = decideQuery(ctx, 'SELECT ssn FROM clinical.patients WHERE id = 1', 'simple');
    expect(d.kind).toBe('forward');
    for (const s of d.statements) {
      expect(validDecision(s.decision), JSON.stringify(validDecision.errors)).toBe(true);
      expect(s.decision.action).toBe('mask');
      expect(s.decision.revision).toBe(rego.revision);
    }
    const written = records();
    expect(written).toHaveLength(1);
    expect(validRecord(written[0]), JSON.stringify(validRecord.errors)).toBe(true);
    const rec = written[0]!;
    // The record keeps the client's text and adds the text forwarded with the masks applied.
    expect(rec.type === 'statement' ? rec.statement : null).toBe('SELECT ssn FROM clinical.patients WHERE id = 1');
    expect(rec.type === 'statement' ? rec.forwarded : null).toContain('gatehouse_masked');
    expect(d.kind === 'forward' ? d.forwardText : null).toContain('gatehouse_masked');
    // The record carries the complete input, so the decision can be reproduced from it.
    expect(rec.type === 'statement' && rec.input ? rego.evaluate(rec.input).action : null).toBe('mask');
  });

  it('audits what was applied: a statement under a mask that reads no masked column is allow, with no masks', () => {
    const { ctx, records } = context(rego, ['agents']);
    const d = decideQuery(ctx, 'SELECT id FROM clinical.patients WHERE id = 1; SELECT p.id, p.ssn FROM clinical.patients p', 'simple');
    expect(d.kind).toBe('forward');
    // The policy's decision is unchanged (the relay still withholds raw masked columns)...
    expect(d.statements.map((s) => s.decision.action)).toEqual(['mask', 'mask']);
    const [unmasked, masked] = records();
    for (const r of [unmasked, masked]) expect(validRecord(r), JSON.stringify(validRecord.errors)).toBe(true);
    if (unmasked?.type !== 'statement' || masked?.type !== 'statement') throw new Error('expected two statement records');
    // ...but the record says what happened to this statement, keeping the policy's ids and reason.
    expect(unmasked.decision).toBe('allow');
    expect(unmasked.masks).toEqual([]);
    expect(unmasked.policies).toEqual(d.statements[0]!.decision.policies);
    expect(unmasked.policies.length).toBeGreaterThan(0);
    expect(masked.decision).toBe('mask');
    expect(masked.masks).toEqual([{ table: 'clinical.patients', column: 'ssn', strategy: expect.any(String) }]);
  });

  it('refuses a whole multi-statement string when one statement is denied, auditing each', () => {
    const { ctx, records } = context(rego, ['agents']);
    const d = decideQuery(ctx, 'SELECT 1; DROP TABLE clinical.visits', 'simple');
    expect(d.kind).toBe('refuse');
    expect(d.kind === 'refuse' ? d.error.sqlstate : null).toBe('42501');
    expect(records().map((r) => (r.type === 'statement' ? r.decision : null))).toEqual(['allow', 'deny']);
  });

  it('denies a statement that cannot be parsed with 42601 and audits it without an input', () => {
    const { ctx, records } = context(rego, ['agents']);
    const d = decideQuery(ctx, 'SELEC 1', 'simple');
    expect(d.kind === 'refuse' ? d.error.sqlstate : null).toBe('42601');
    const rec = records()[0];
    expect(rec?.type === 'statement' ? [rec.decision, rec.input] : null).toEqual(['deny', null]);
  });

  it('reuses a verdict for the same text, with a new decision id and audit record each time', () => {
    const engine = counted(rego);
    const { ctx, records } = context(engine, ['agents']);
    const a = decideQuery(ctx, 'SELECT id FROM clinical.visits', 'extended');
    const b = decideQuery(ctx, 'SELECT id FROM clinical.visits', 'extended');
    expect(engine.calls).toBe(1);
    expect(b.statements[0]!.decision.action).toBe(a.statements[0]!.decision.action);
    expect(b.statements[0]!.decision.id).not.toBe(a.statements[0]!.decision.id);
    expect(records()).toHaveLength(2);
    decideQuery(ctx, 'SELECT id FROM clinical.visits', 'simple');
    // The example policies do not read statement.protocol: the verdict holds for either protocol.
    expect(engine.calls).toBe(1);
  });

  it('does not reuse verdicts of a Rego policy that reads the clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-clock-'));
    cpSync(join(ROOT, 'policies/rego'), dir, { recursive: true });
    writeFileSync(join(dir, 'clock.rego'), 'package gatehouse\n\nnight if time.now_ns() < 0\n');
    const clock = await loadPolicyEngine({ engine: 'rego', directory: dir, buildDir });
    expect(clock.deterministic).toBe(false);
    expect(rego.deterministic).toBe(true);
    const engine = counted(clock);
    const { ctx } = context(engine, ['agents']);
    decideQuery(ctx, 'SELECT id FROM clinical.visits', 'extended');
    decideQuery(ctx, 'SELECT id FROM clinical.visits', 'extended');
    expect(engine.calls).toBe(2);
  });

  it('decides a long Query in slices: others run between them, it is still refused whole, and audited before it is answered', async () => {
    const { ctx, records } = context(rego, ['agents']);
    const texts = Array.from({ length: 1000 }, (_, i) => (i === 900 ? 'DROP TABLE clinical.visits' : `SELECT id FROM clinical.visits WHERE id = ${i}`));
    let between = 0;
    const tick = (): void => {
      between++;
      if (between < 1_000_000) setImmediate(tick);
    };
    setImmediate(tick);
    const later = decideMaybeLater(ctx, texts.join(';'), 'simple');
    expect(later).toBeInstanceOf(Promise);
    expect(records()).toHaveLength(0); // audited once every statement is decided
    const d = await later;
    const ticks = between;
    between = 1_000_000;
    expect(ticks).toBeGreaterThan(0); // the loop ran other callbacks while it was decided
    expect(d.kind === 'refuse' ? d.error.sqlstate : null).toBe('42501');
    expect(d.statements.map((s) => s.text)).toEqual(texts);
    const written = records();
    expect(written).toHaveLength(1000);
    expect(written.map((r) => (r.type === 'statement' ? r.decision : null)).filter((x) => x === 'deny')).toHaveLength(1);
  });

  it('waits for an evaluator that answers later, and answers a cached decision at once', async () => {
    const { ctx, records } = context(rego, ['agents']);
    let asked = 0;
    ctx.evaluator = {
      evaluate: (engine, input) => {
        asked++;
        return new Promise((resolve) => setTimeout(() => resolve({ verdict: engine.evaluate(input), micros: 1, transient: false }), 5));
      },
    };
    const later = decideMaybeLater(ctx, 'SELECT id FROM clinical.visits; DROP TABLE clinical.visits', 'simple');
    expect(later).toBeInstanceOf(Promise);
    expect(records()).toHaveLength(0); // audited when decided
    const d = await later;
    expect(d.kind === 'refuse' ? d.error.sqlstate : null).toBe('42501');
    expect(asked).toBe(2);
    expect(records()).toHaveLength(2);
    const again = decideMaybeLater(ctx, 'SELECT id FROM clinical.visits; DROP TABLE clinical.visits', 'simple');
    expect(again).not.toBeInstanceOf(Promise);
    expect(asked).toBe(2);
    expect(records()).toHaveLength(4);
  });

  it("refuses SQL-level EXECUTE and PREPARE of Gatehouse's reserved statement names", () => {
    const { ctx } = context(rego, ['breakglass']);
    for (const sql of ['EXECUTE gatehouse_abc_1(1)', 'PREPARE gatehouse_x AS SELECT 1', 'EXPLAIN EXECUTE gatehouse_abc_1']) {
      const d = decideQuery(ctx, sql, 'simple');
      expect(d.kind, sql).toBe('refuse');
    }
  });

  it('refuses unsafe standard_conforming_strings and client_encoding changes with 22023 before asking the policy', () => {
    const engine = counted(rego);
    const { ctx, records } = context(engine, ['breakglass']);
    for (const sql of [
      'SET standard_conforming_strings = off',
      "SET client_encoding = 'GBK'",
      "SELECT 1; SELECT pg_catalog.set_config('client_encoding', 'sjis', false)",
      'ALTER ROLE agent SET standard_conforming_strings = off',
    ]) {
      const d = decideQuery(ctx, sql, 'simple');
      expect(d.kind, sql).toBe('refuse');
      expect(d.kind === 'refuse' ? [d.error.sqlstate, d.error.severity] : null, sql).toEqual(['22023', 'ERROR']);
    }
    expect(engine.calls).toBe(0);
    const written = records();
    expect(written.map((r) => (r.type === 'statement' ? [r.decision, r.input] : null))).toEqual(Array(4).fill(['deny', null]));
    for (const r of written) expect(validRecord(r), JSON.stringify(validRecord.errors)).toBe(true);
    expect(written[2]?.type === 'statement' ? written[2].statement : null).toBe("SELECT pg_catalog.set_config('client_encoding', 'sjis', false)");
  });

  it('lets safe setting changes through to the policy', () => {
    const { ctx } = context(rego, ['agents']);
    for (const sql of ["SET client_encoding = 'LATIN1'", 'SET standard_conforming_strings = on', 'RESET ALL', "SELECT set_config('search_path', 'clinical', false)"]) {
      expect(decideQuery(ctx, sql, 'simple').kind, sql).toBe('forward');
    }
  });

  it('decides set_config() with $n parameters on the values bound at Execute', () => {
    const { ctx } = context(rego, ['agents']);
    const sql = 'SELECT set_config($1, $2, false)';
    expect(decideQuery(ctx, sql, 'extended', { auditForwarded: false, parameters: 'unbound' }).kind).toBe('forward');
    expect(decideQuery(ctx, sql, 'extended', { parameters: [Buffer.from('search_path'), Buffer.from('clinical')] }).kind).toBe('forward');
    const d = decideQuery(ctx, sql, 'extended', { parameters: [Buffer.from('standard_conforming_strings'), Buffer.from('off')] });
    expect(d.kind === 'refuse' ? d.error.sqlstate : null).toBe('22023');
    // Without bound values (a caller that does not pass them), the name is unknown: refused.
    expect(decideQuery(ctx, sql, 'extended').kind).toBe('refuse');
  });

  it("asks how a write's unread target reads: assigning a masked unique column is refused (42501) before approval is asked", () => {
    const { ctx } = context(counted(rego), ['agents']);
    // Agents' writes to patients need approval; its INSERT does not read the table, so the policy is asked once more.
    const oracle = decideQuery(ctx, "INSERT INTO clinical.patients (id, mrn) VALUES (9, 'MRN-1')", 'simple');
    expect(oracle.kind).toBe('refuse');
    expect(oracle.kind === 'refuse' ? oracle.error.code : null).toBe('MASKED_COLUMN_READ');
    expect(oracle.kind === 'refuse' ? oracle.error.message : '').toContain('"mrn"');
    expect(oracle.statements[0]!.probe).toMatchObject({ tables: ['clinical.patients'], outcome: 'read' });
    // Without the masked unique column it goes on to the approval (not set up here), its error details to be withheld.
    const plain = decideQuery(ctx, "INSERT INTO clinical.patients (id, phone) VALUES (9, '555')", 'simple');
    expect(plain.kind === 'refuse' ? plain.error.code : null).toBe('APPROVAL_REQUIRED');
    expect(plain.statements[0]!.writesMaskedTable).toBe(true);
  });

  it('does not probe a denied write', () => {
    const engine = counted(rego);
    const { ctx } = context(engine, ['agents']);
    // Agents may not write visits: one evaluation, no probe.
    const d = decideQuery(ctx, 'INSERT INTO clinical.visits (id, patient_id) VALUES (1, 1)', 'simple');
    expect(d.kind).toBe('refuse');
    expect(d.statements[0]!.probe).toBeUndefined();
    expect(engine.calls).toBe(1);
  });

  it('refuses the statement (53100, disk full) when its audit record cannot be written', () => {
    const { ctx } = context(rego, ['breakglass']);
    const full: DecisionContext = { ...ctx, audit: openAuditSink('/dev/full') };
    let sqlstate: string | null = null;
    try {
      decideQuery(full, 'SELECT 1', 'simple');
    } catch (e) {
      sqlstate = (e as { sqlstate?: string }).sqlstate ?? null;
    }
    expect(sqlstate).toBe('53100');
  });
});

describe('decideQuery after a schema change (catalogChange)', () => {
  it('a statement naming a user table waits for the read; one that needs no catalog does not', async () => {
    const { ctx } = context(rego, ['agents']);
    let asked = 0;
    let release: (r: 'fresh') => void = () => undefined;
    const waiting = new Promise<'fresh'>((r) => (release = r));
    const withChange: DecisionContext = {
      ...ctx,
      catalogChange: () => {
        asked++;
        return waiting;
      },
    };
    // Needs nothing from the catalog: decided at once, the change not even asked about.
    expect(decideMaybeLater(withChange, 'BEGIN', 'simple')).not.toBeInstanceOf(Promise);
    expect(decideMaybeLater(withChange, 'SHOW search_path', 'extended')).not.toBeInstanceOf(Promise);
    expect(asked).toBe(0);
    // An expression may name an operator or a domain the change created (`1 === 1`): it waits (R12-3).
    const expr = decideMaybeLater(withChange, 'SELECT 1 === 1', 'simple');
    expect(expr).toBeInstanceOf(Promise);
    expect(asked).toBe(1);
    // A call waits even when the old snapshot says the name is built in: the change may have added an
    // overload that wins for the call's argument types (public.upper(integer) for upper(5); R12-3).
    const call = decideMaybeLater(withChange, 'SELECT upper(5)', 'simple');
    expect(call).toBeInstanceOf(Promise);
    expect(asked).toBe(2);
    const later = decideMaybeLater(withChange, 'SELECT id FROM clinical.visits', 'simple');
    expect(later).toBeInstanceOf(Promise);
    release('fresh');
    const d = await later;
    expect(d.kind).toBe('forward');
    expect((await call).kind).toBe('forward');
    expect((await expr).kind).not.toBe('pending');
    expect(asked).toBe(3);
  });

  it.each(['failed', 'timeout'] as const)('a read that %s refuses the statement with 55000, not decided with the old catalog', async (result) => {
    const { ctx, records } = context(rego, ['agents']);
    const d = await decideMaybeLater({ ...ctx, catalogChange: () => Promise.resolve(result) }, 'SELECT id FROM clinical.visits', 'simple');
    expect(d.kind).toBe('refuse');
    if (d.kind !== 'refuse') return;
    expect(d.error.sqlstate).toBe('55000');
    expect(d.statements[0]?.decision.policies).toEqual(['gatehouse.catalog_after_change']);
    await new Promise((r) => setTimeout(r, 50));
    for (const r of records()) expect(validRecord(r), JSON.stringify(validRecord.errors)).toBe(true);
  });
});

describe('decideQuery stopped (work-slices.ts SliceStop)', () => {
  it('a long string abandoned while analysed resolves as a refusal (57014), each statement recorded once as not decided', async () => {
    const { ctx, records } = context(rego, ['agents']);
    const text = Array.from({ length: 2000 }, (_, i) => `SELECT ${i} AS stopped_${i} FROM clinical.patients WHERE id = ${i}`).join('; ');
    const stop = new SliceStop();
    const pending = decideMaybeLater(ctx, text, 'simple', { stop });
    expect(pending).toBeInstanceOf(Promise); // the first slice ran; the rest waits for setImmediate
    stop.stop('cancelled');
    const d = await pending;
    expect(d.kind).toBe('refuse');
    if (d.kind !== 'refuse') return;
    expect(d.error.sqlstate).toBe('57014');
    expect(d.statements).toHaveLength(2000);
    const written = records().filter((r) => r.type === 'statement');
    expect(written).toHaveLength(2000);
    expect(new Set(written.map((r) => (r.type === 'statement' ? r.decision_id : ''))).size).toBe(2000);
    for (const r of written) {
      expect(validRecord(r), JSON.stringify(validRecord.errors)).toBe(true);
      expect(r.type === 'statement' ? [r.decision, r.policies] : null).toEqual(['deny', [DECISION_STOPPED_POLICY_ID]]);
    }
    expect(d.statements.map((s) => s.decision.id)).toEqual(written.map((r) => (r.type === 'statement' ? r.decision_id : '')));
  });
});
