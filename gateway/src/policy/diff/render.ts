// Renders a policy diff report: a terminal table, a Markdown table for a pull-request comment, or JSON.

import type { EngineKind } from '../types.ts';
import type { InputChange, InputOrigin, MaskChange, PolicyDiffReport, VerdictSummary } from './types.ts';

export type DiffFormat = 'text' | 'markdown' | 'json';
export const DIFF_FORMATS: readonly DiffFormat[] = ['text', 'markdown', 'json'];

export function renderDiff(report: PolicyDiffReport, format: DiffFormat): string {
  switch (format) {
    case 'text':
      return renderText(report);
    case 'markdown':
      return renderMarkdown(report);
    case 'json':
      return `${JSON.stringify(jsonDocument(report), null, 2)}\n`;
    default: {
      const never: never = format;
      throw new Error(`unknown format ${String(never)}`);
    }
  }
}

/** "46 inputs evaluated, 3 changed (rego 3, cedar 2)". */
export function summaryLine(report: PolicyDiffReport): string {
  const { inputs, changed, changedByEngine } = report.counts;
  const perEngine = report.engines.map((e) => `${e} ${changedByEngine[e] ?? 0}`).join(', ');
  return `${inputs} input${inputs === 1 ? '' : 's'} evaluated, ${changed} changed (${perEngine})`;
}

/** What the input is: its case name(s), or the audited statement text with how often it was seen. */
export function describeWhat(origins: readonly InputOrigin[], statementText: string): { title: string; source: string } {
  const cases = origins.filter((o): o is Extract<InputOrigin, { type: 'case' }> => o.type === 'case');
  const audited = origins.reduce((n, o) => n + (o.type === 'audit' ? o.records : 0), 0);
  if (cases.length > 0) {
    const first = cases[0]!;
    const names = [...new Set(cases.map((c) => c.name))];
    const source = [`case ${first.file}:${first.line}${sideNote(first.side)}`, ...(audited > 0 ? [`audited ${audited}×`] : [])].join(', ');
    return { title: names.join(' / '), source };
  }
  return { title: statementText, source: `audited ${audited}×` };
}

function sideNote(side: Extract<InputOrigin, { type: 'case' }>['side']): string {
  return side === 'base' ? ' (base only)' : side === 'head' ? ' (head only)' : '';
}

/** "agent-7 [agents]", with roles after the groups. */
export function describeWho(input: InputChange['input']): string {
  const groups = [...input.identity.groups, ...input.identity.roles.map((r) => `role:${r}`)];
  return `${input.identity.subject}${groups.length === 0 ? '' : ` [${groups.join(', ')}]`}`;
}

/** "mask: clinical-read-masked". */
export function describeVerdict(v: VerdictSummary): string {
  return `${v.action}: ${v.policies.length === 0 ? '(no policy)' : v.policies.join(', ')}`;
}

/** "clinical.patients.phone last4 → unmasked". */
export function describeMask(m: MaskChange): string {
  return `${m.table}.${m.column} ${m.base ?? 'unmasked'} → ${m.head ?? 'unmasked'}`;
}

function describeEngines(engines: readonly EngineKind[]): string {
  return engines.join(', ');
}

function short(commit: string): string {
  return commit.slice(0, 12);
}

function renderText(r: PolicyDiffReport): string {
  const lines = [
    `policy diff of ${r.repository}`,
    `  base  ${r.base.ref}  ${short(r.base.commit)}  "${r.base.subject}"`,
    `  head  ${r.head.ref}  ${short(r.head.commit)}  "${r.head.subject}"`,
    `  engines ${r.engines.join(', ')}; inputs from ${r.counts.cases} cases and ${r.counts.auditRecords} audited statements`,
    '',
  ];
  if (r.changes.length === 0) {
    lines.push('No decision changed.', '');
  } else {
    const header = ['#', 'what', 'who', 'engine', 'base', 'head'];
    const rows = r.changes.map((c, i) => {
      const what = describeWhat(c.origins, c.input.statement.text);
      return [String(i + 1), clip(what.title, 60), clip(describeWho(c.input), 32), describeEngines(c.engines), describeVerdict(c.base), describeVerdict(c.head)];
    });
    const widths = header.map((h, col) => Math.max(h.length, ...rows.map((row) => row[col]!.length)));
    const format = (row: string[]): string => row.map((cell, col) => (col === row.length - 1 ? cell : cell.padEnd(widths[col]!))).join('  ').trimEnd();
    lines.push(format(header));
    r.changes.forEach((c, i) => {
      lines.push(format(rows[i]!));
      const indent = ' '.repeat(widths[0]! + 2);
      const what = describeWhat(c.origins, c.input.statement.text);
      lines.push(`${indent}${what.source}${what.title === c.input.statement.text ? '' : `: ${clip(c.input.statement.text, 100)}`}`);
      for (const m of c.masks) lines.push(`${indent}mask ${describeMask(m)}`);
    });
    lines.push('');
  }
  if (r.warnings.length > 0) lines.push('warnings:', ...r.warnings.map((w) => `  ${w}`), '');
  lines.push(summaryLine(r), '');
  return lines.join('\n');
}

function renderMarkdown(r: PolicyDiffReport): string {
  const lines = [
    `### Policy diff: \`${md(r.base.ref)}\` (${short(r.base.commit)}) → \`${md(r.head.ref)}\` (${short(r.head.commit)})`,
    '',
    `**${r.counts.changed === 0 ? 'No decision changes' : `${r.counts.changed} of ${r.counts.inputs} inputs change`}**: ${summaryLine(r)}. ` +
      `Inputs: ${r.counts.cases} policy-test cases and ${r.counts.auditRecords} audited statements.`,
    '',
  ];
  if (r.changes.length > 0) {
    lines.push('| input | base | head |', '|---|---|---|');
    for (const c of r.changes) {
      const what = describeWhat(c.origins, c.input.statement.text);
      const isStatement = what.title === c.input.statement.text;
      const title = isStatement ? code(what.title) : `**${md(what.title)}**`;
      const input = [
        title,
        `${md(describeWho(c.input))} · ${describeEngines(c.engines)} · ${md(what.source)}`,
        ...(isStatement ? [] : [code(c.input.statement.text)]),
      ].join('<br>');
      const head = [md(describeVerdict(c.head)), ...c.masks.map((m) => `mask ${md(describeMask(m))}`)].join('<br>');
      lines.push(`| ${input} | ${md(describeVerdict(c.base))} | ${head} |`);
    }
    lines.push('');
  }
  if (r.warnings.length > 0) {
    lines.push('<details><summary>Warnings</summary>', '', ...r.warnings.map((w) => `- ${md(w)}`), '', '</details>', '');
  }
  return lines.join('\n');
}

function jsonDocument(r: PolicyDiffReport): unknown {
  return {
    repository: r.repository,
    base: r.base,
    head: r.head,
    engines: r.engines,
    summary: summaryLine(r),
    counts: r.counts,
    changes: r.changes.map((c) => ({
      what: describeWhat(c.origins, c.input.statement.text).title,
      who: describeWho(c.input),
      origins: c.origins,
      engines: c.engines,
      changed: c.changed,
      base: c.base,
      head: c.head,
      masks: c.masks,
      input: c.input,
    })),
    warnings: r.warnings,
  };
}

function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** Text safe inside a Markdown table cell. */
function md(text: string): string {
  return text.replace(/\s+/g, ' ').replaceAll('|', '\\|').replaceAll('<', '&lt;');
}

/** An inline code span in a table cell (a statement holding a backtick is shown as plain text). */
function code(text: string): string {
  const flat = clip(text, 300);
  return flat.includes('`') ? md(flat) : `\`${flat.replaceAll('|', '\\|')}\``;
}
