// The admin listener's operator endpoints against a real gateway and PostgreSQL: /metrics parsed by
// a Prometheus text-format parser, /healthz, and /readyz following the audit sink and the upstream.

import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqlstateOf, startTestGateway, type TestGateway } from './support/harness.ts';

interface Http {
  status: number;
  contentType: string;
  text: string;
}

async function get(port: number | null, path: string): Promise<Http> {
  if (port === null) throw new Error('no admin listener');
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text: await res.text() };
}

async function scrape(port: number | null): Promise<ParsedFamily[]> {
  const res = await get(port, '/metrics');
  expect(res.status).toBe(200);
  expect(res.contentType).toContain('text/plain');
  return parsePrometheusTextFormat(res.text);
}

function family(families: ParsedFamily[], name: string): ParsedFamily {
  const f = families.find((x) => x.name === name);
  if (f === undefined) throw new Error(`no metric family ${name}`);
  return f;
}

/** The value of the sample whose labels include `labels`, or 0 when there is none (a counter not yet incremented). */
function value(families: ParsedFamily[], name: string, labels: Record<string, string> = {}): number {
  const sample = family(families, name).metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample?.value === undefined ? 0 : Number(sample.value);
}

describe('operator endpoints on the admin listener', () => {
  let t: TestGateway;
  let dir: string;
  const link = (): string => join(dir, 'audit.ndjson');
  const pointAuditAt = (target: string): void => {
    rmSync(link(), { force: true });
    symlinkSync(target, link());
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-metrics-'));
    pointAuditAt(join(dir, 'audit-1.ndjson'));
    t = await startTestGateway({ admin: true, auditFile: link() });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves /metrics in the Prometheus text format, counting what happened', async () => {
    const agent = await t.client(await t.token('metrics-agent', ['agents']));
    await agent.query('SELECT id, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 2');
    await agent.query('SELECT first_name, ssn FROM clinical.patients ORDER BY id LIMIT 2');
    expect(await sqlstateOf(agent, 'DROP TABLE clinical.visits')).toBe('42501');

    const families = await scrape(t.gw.adminPort);
    // The counts agree with the audit log, decision by decision.
    const audited = new Map<string, number>();
    for (const r of t.audit()) if (r.type === 'statement') audited.set(r.decision, (audited.get(r.decision) ?? 0) + 1);
    expect(audited.get('deny')).toBeGreaterThanOrEqual(1);
    expect(audited.get('mask')).toBeGreaterThanOrEqual(1);
    for (const decision of ['allow', 'mask', 'approve', 'deny']) {
      expect(value(families, 'gatehouse_statements_total', { decision, engine: 'rego' }), decision).toBe(audited.get(decision) ?? 0);
    }
    expect(value(families, 'gatehouse_sessions')).toBe(1);
    expect(value(families, 'gatehouse_upstream_connections')).toBe(1);
    expect(value(families, 'gatehouse_session_events_total', { event: 'auth_ok' })).toBeGreaterThanOrEqual(1);
    expect(value(families, 'gatehouse_policy_info', { engine: 'rego', revision: t.gw.engine().revision })).toBe(1);
    expect(family(families, 'gatehouse_audit_write_failures_total').type).toBe('COUNTER');
    expect(value(families, 'gatehouse_audit_write_failures_total')).toBe(0);

    // Histograms: the +Inf bucket holds every observation.
    const evaluation = family(families, 'gatehouse_policy_evaluation_seconds');
    expect(evaluation.type).toBe('HISTOGRAM');
    expect(Number(evaluation.metrics[0]?.buckets?.['+Inf'])).toBeGreaterThanOrEqual(3);
    const auditWrites = family(families, 'gatehouse_audit_write_seconds');
    expect(auditWrites.type).toBe('HISTOGRAM');
    expect(Number(auditWrites.metrics[0]?.count)).toBeGreaterThanOrEqual(3);
    expect(family(families, 'gatehouse_policy_activations_total').type).toBe('COUNTER');
    // Process metrics come along (prom-client's defaults).
    expect(value(families, 'process_resident_memory_bytes')).toBeGreaterThan(0);

    await agent.end();
  });

  it('answers /healthz, and /readyz with every check passing', async () => {
    const health = await get(t.gw.adminPort, '/healthz');
    expect(health.status).toBe(200);
    const ready = await get(t.gw.adminPort, '/readyz');
    expect(ready.status, ready.text).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: true, checks: { policy: { ok: true }, upstream: { ok: true }, audit: { ok: true } } });
  });

  it('turns unready when the audit sink fails, and ready again when it recovers', async () => {
    const agent = await t.client(await t.token('metrics-audit', ['agents']));
    const failuresBefore = value(await scrape(t.gw.adminPort), 'gatehouse_audit_write_failures_total');

    // The audit file now leads to a device that is always full: the next write fails (ENOSPC).
    pointAuditAt('/dev/full');
    await t.gw.reopenAudit();
    expect(await sqlstateOf(agent, 'SELECT id FROM clinical.patients LIMIT 1')).toBe('53100');
    const unready = await get(t.gw.adminPort, '/readyz');
    expect(unready.status).toBe(503);
    const body = JSON.parse(unready.text) as { ready: boolean; checks: { audit: { ok: boolean; detail: string }; policy: { ok: boolean } } };
    expect(body.ready).toBe(false);
    expect(body.checks.audit.ok).toBe(false);
    expect(body.checks.audit.detail).toMatch(/ENOSPC|no space/i);
    expect(body.checks.policy.ok).toBe(true);
    expect(value(await scrape(t.gw.adminPort), 'gatehouse_audit_write_failures_total')).toBeGreaterThan(failuresBefore);

    // Rotated to a writable file (what SIGHUP does after logrotate): ready, and statements run again.
    const recovered = join(dir, 'audit-2.ndjson');
    pointAuditAt(recovered);
    await t.gw.reopenAudit();
    const ready = await get(t.gw.adminPort, '/readyz');
    expect(ready.status, ready.text).toBe(200);
    expect(await sqlstateOf(agent, 'SELECT id FROM clinical.patients LIMIT 1')).toBeNull();
    expect(readFileSync(recovered, 'utf8')).toContain('"type":"statement"');
    await agent.end();
  });
});

describe('/readyz without an upstream', () => {
  it('is 503 naming the upstream while the database cannot be reached', async () => {
    const t = await startTestGateway({ admin: true, upstreamUrl: 'postgresql://postgres@127.0.0.1:1/postgres?connect_timeout=2' });
    try {
      const ready = await get(t.gw.adminPort, '/readyz');
      expect(ready.status).toBe(503);
      const body = JSON.parse(ready.text) as { checks: { upstream: { ok: boolean; detail: string }; audit: { ok: boolean } } };
      expect(body.checks.upstream.ok).toBe(false);
      expect(body.checks.upstream.detail).toContain('127.0.0.1:1');
      expect(body.checks.audit.ok).toBe(true);
      expect((await get(t.gw.adminPort, '/healthz')).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
