// JUnit XML for CI test reporters: <testsuites>/<testsuite>/<testcase> with <failure> or <error>.
// Written by hand: the format is small, and escaping is the only subtle part (below).

import { countResults } from './counts.ts';
import type { PolicyTestReport, PolicyTestResult } from './types.ts';

export function formatJunitReport(report: PolicyTestReport, opts: { name?: string; timestamp?: Date } = {}): string {
  const all = countResults(report.suites.flatMap((s) => s.results));
  const totalMs = report.suites.reduce((sum, s) => sum + s.results.reduce((t, r) => t + r.durationMs, 0), 0);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="${attr(opts.name ?? 'gatehouse policy test')}" tests="${all.total}" failures="${all.failed}" errors="${all.error}" time="${seconds(totalMs)}">`,
  );
  const timestamp = (opts.timestamp ?? new Date()).toISOString().replace(/\.\d{3}Z$/, '');
  for (const suite of report.suites) {
    const c = countResults(suite.results);
    const ms = suite.results.reduce((t, r) => t + r.durationMs, 0);
    out.push(
      `  <testsuite name="${attr(suite.name)}" tests="${c.total}" failures="${c.failed}" errors="${c.error}" skipped="0" time="${seconds(ms)}" timestamp="${timestamp}">`,
    );
    for (const r of suite.results) out.push(...testcase(suite.name, r));
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}

function testcase(suiteName: string, r: PolicyTestResult): string[] {
  const where = r.file === undefined ? '' : ` file="${attr(r.file)}"${r.line === undefined ? '' : ` line="${r.line}"`}`;
  const open = `    <testcase name="${attr(r.name)}" classname="${attr(r.file ?? suiteName)}"${where} time="${seconds(r.durationMs)}"`;
  if (r.status === 'passed') return [`${open}/>`];
  const element = r.status === 'failed' ? 'failure' : 'error';
  const message = r.message ?? r.status;
  const first = message.split('\n')[0] ?? '';
  return [`${open}>`, `      <${element} message="${attr(first)}" type="${r.status}">${text(message)}</${element}>`, '    </testcase>'];
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/**
 * XML 1.0 cannot carry most C0 control characters even escaped, nor lone surrogates or U+FFFE/U+FFFF;
 * policy messages can contain anything a statement did, so those are replaced with U+FFFD.
 */
function clean(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

/** Element text: & and < must be escaped, > too (for "]]>"). */
function text(s: string): string {
  return clean(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values (double-quoted): also quotes, and tab/newline as character references so they survive normalisation. */
function attr(s: string): string {
  return text(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}
