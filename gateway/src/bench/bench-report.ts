// The benchmark's result document: one JSON file for tools, one Markdown table for people.
import { MASKED_TABLE, type MaskedSelectTiming } from './masked-select.ts';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ActivationTiming } from './activation-timing.ts';
import { renderIsolation } from './isolation-report.ts';
import { renderAuditDurability } from './audit-durability.ts';
import { fixed, renderComparisonRows, renderConnectPerTransaction, renderMemory, renderVerdict } from './anchor-report.ts';
import type { BenchResults, ModeResult, TargetResult } from './bench-results.ts';
import { renderDecisions } from './decision-report.ts';

function failed(target: TargetResult): string {
  if (target.summary === null) return `run failed (exit ${target.exitCode})`;
  return String(target.summary.failedTransactions) + (target.exitCode === 0 ? '' : ` (exit ${target.exitCode})`);
}

export function renderMarkdown(r: BenchResults): string {
  const s = r.settings;
  const clientList = Array.isArray(s.clients) ? s.clients.join(', ') : String(s.clients);
  const targets = (m: ModeResult): Array<[string, TargetResult | undefined]> => [
    ['direct', m.direct],
    ['PgBouncer', m.pgbouncer],
    ['Gatehouse', m.gatehouse],
    ['Gatehouse without approve rules', m.gatehouseWithoutApprove],
  ];
  const errors = [
    ...r.results.flatMap((m) => targets(m).flatMap(([name, t]) => (t === undefined || t.error === null ? [] : [`- c=${m.clients ?? '?'} ${m.mode}, ${name}: \`${t.error}\``]))),
    ...(r.connectPerTransaction ?? []).flatMap((c) =>
      ([['direct', c.direct], ['PgBouncer', c.pgbouncer], ['Gatehouse', c.gatehouse], ['Gatehouse pooled', c.gatehousePooled]] as const).flatMap(([name, t]) =>
        t.error === null ? [] : [`- -C c=${c.clients}, ${name}: \`${t.error}\``],
      ),
    ),
  ];
  const pgbenchSection =
    r.results.length === 0
      ? ['The pgbench comparison, decision and activation timings were not run this time (`--only isolation`).', '']
      : [
          `\`pgbench ${s.script} -n -T ${s.seconds} -c <clients> -j min(2, clients) -M <mode>\` (select-only script, scale ${s.scale}, clients ${clientList}) ` +
            `directly against PostgreSQL, through PgBouncer (session mode) and through Gatehouse (${s.engine} policies, audit to ${s.audit}), ` +
            `one right after the other in the same run after a ${s.warmupSeconds}s warm-up of each. CPU per transaction is the proxy ` +
            'process\'s utime + stime (/proc/<pid>/stat) over the run divided by the transactions; Gatehouse runs in the harness\'s process.',
          '',
          ...renderComparisonRows(r.results),
          '',
          ...(errors.length > 0 ? ['Errors:', '', ...errors, ''] : []),
          ...renderConnectPerTransaction(r.connectPerTransaction ?? [], s.connectSeconds ?? s.seconds),
          ...renderMemory(r.memory),
          ...renderDecisions(r.decisions, r.pgbenchDecisions ?? []),
        ];
  return [
    '# Gatehouse benchmark: latest results',
    '',
    `Generated ${r.generatedAt} by \`npm run bench\` (method: [docs/benchmarks.md](../docs/benchmarks.md)).`,
    '',
    ...renderVerdict(r),
    ...pgbenchSection,
    ...renderApproveRules(r.results),
    ...renderActivation(r.activation),
    ...renderMasking(r.masking ?? null),
    ...renderAuditDurability(r.auditDurability ?? null),
    ...(r.isolation ? renderIsolation(r.isolation) : []),
    '## Machine',
    '',
    `- nproc: ${r.machine.nproc} (${r.machine.cpuModel})`,
    `- load average at start: ${r.machine.loadAverageAtStart.map((l) => l.toFixed(2)).join(', ')}`,
    ...(r.machine.loadAverageAtEnd ? [`- load average at the end: ${r.machine.loadAverageAtEnd.map((l) => l.toFixed(2)).join(', ')}`] : []),
    `- Node ${r.machine.node} on ${r.machine.platform}`,
    `- PostgreSQL ${r.machine.postgres}; ${r.machine.pgbench}${r.machine.pgbouncer ? `; ${r.machine.pgbouncer}` : ''}`,
    '',
    'pgbench, PostgreSQL, PgBouncer and Gatehouse share the same cores, so absolute numbers depend on the',
    'machine and whatever else runs on it; compare the ratio between runs of the same table.',
    '',
  ].join('\n');
}

/** With and without approve rules in the policy: pgbench -S through Gatehouse, mode by mode. */
export function renderApproveRules(results: readonly ModeResult[]): string[] {
  const measured = results.filter((m) => m.gatehouseWithoutApprove !== undefined);
  if (measured.length === 0) return [];
  const rows = measured.map((m) => {
    const without = m.gatehouseWithoutApprove!;
    const withTps = m.gatehouse.summary?.tps;
    const withoutTps = without.summary?.tps;
    const ratio = withTps !== undefined && withoutTps !== undefined && withoutTps > 0 ? `${(withTps / withoutTps).toFixed(2)}×` : 'n/a';
    return `| ${m.clients ?? 'n/a'} | ${m.mode} | ${fixed(withTps, 0)} | ${fixed(withoutTps, 0)} | ${ratio} | ${fixed(m.gatehouse.proxyCpuMicrosPerTransaction, 1)} | ${fixed(without.proxyCpuMicrosPerTransaction, 1)} | ${failed(m.gatehouse)} / ${failed(without)} |`;
  });
  return [
    '## Approve rules',
    '',
    'The same pgbench runs through Gatehouse with the example policies as they are (with their approve rule',
    'for writes to `clinical.patients`) and through a second Gatehouse whose policies are the same without',
    'any approve rule, one right after the other: `pgbench -S` needs no approval, so this is what approve',
    'rules cost statements that do not need one.',
    '',
    '| clients | mode | TPS with approve rules | TPS without | with / without | CPU per transaction with (µs) | without (µs) | failed transactions (with / without) |',
    '|---:|---|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ];
}

/** The activation section: median and max milliseconds from commit to active policy, per engine. */
export function renderActivation(timings: readonly ActivationTiming[]): string[] {
  if (timings.length === 0) return [];
  const failures = timings.flatMap((t) => t.failures.map((f) => `- ${t.engine}: ${f}`));
  return [
    '## Policy activation',
    '',
    'Time from a commit in the followed policy repository to that commit deciding statements: the harness',
    'commits a harmless rule change, POSTs `/policy/refresh` (as a push webhook would) and waits until the',
    'commit is the active revision. Each activation fetches, checks out, compiles (Rego: `opa build`, cold,',
    'since the sources changed) and runs the repository\'s policy tests before the swap.',
    '',
    '| engine | commits | activated | median (ms) | max (ms) |',
    '|---|---:|---:|---:|---:|',
    ...timings.map((t) => `| ${t.engine} | ${t.commits} | ${t.samplesMs.length} | ${fixed(t.medianMs, 0)} | ${fixed(t.maxMs, 0)} |`),
    '',
    ...(failures.length > 0 ? ['Not activated:', '', ...failures, ''] : []),
  ];
}

/** Writes <name>.md and <name>.json ("latest", or "soak" for a soak run) into `dir`. */
export async function writeResults(dir: string, results: BenchResults, name = 'latest'): Promise<{ markdown: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const markdown = path.join(dir, `${name}.md`);
  const json = path.join(dir, `${name}.json`);
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(results));
  return { markdown, json };
}

/** The masking section: a 100,000-row SELECT with three masked columns against the same SELECT unmasked. */
export function renderMasking(m: MaskedSelectTiming | null): string[] {
  if (m === null) return [];
  const list = (xs: number[]): string => xs.map((x) => x.toFixed(1)).join(', ');
  const ratio = (r: number | null): string => (r === null ? 'n/a' : `${r.toFixed(2)}×`);
  return [
    '## Masking at the source',
    '',
    `\`SELECT * FROM ${MASKED_TABLE}\` (${m.rows.toLocaleString('en-US')} rows) through Gatehouse by pgbench (one client, extended protocol),`,
    'unmasked and with three columns masked, interleaved in the same run. Each set of masks is computed by PostgreSQL',
    'in the derived table that replaces the masked table; the keyed hash is one call of a `SECURITY DEFINER` function',
    'per value (docs/data-path.md, "Where the hash key lives"). Issue 6 asks for at most 1.5×.',
    ...(m.keyedHash === undefined ? [] : [`Keyed hash computed by: ${m.keyedHash}.`]),
    '',
    '| | masked columns | average latency per SELECT, each pass (ms) | median (ms) | masked / unmasked |',
    '|---|---|---|---:|---:|',
    `| unmasked | | ${list(m.unmaskedMs)} | ${fixed(medianOf(m.unmaskedMs), 1)} | |`,
    ...m.variants.map((v) => `| masked, ${v.label} | ${v.maskedColumns.join(', ')} | ${list(v.maskedMs)} | ${fixed(medianOf(v.maskedMs), 1)} | ${ratio(v.ratio)} |`),
    '',
  ];
}

function medianOf(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
