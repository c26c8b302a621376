// GitHub Actions workflow commands: one `::error file=…,line=…,title=…::message` line per failure, so
// failures show on the pull request next to the case or policy line they are about.

import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { PolicyTestReport } from './types.ts';

export interface GithubReportOptions {
  /** Annotation paths are relative to it: $GITHUB_WORKSPACE in Actions, else the current directory. */
  workspace?: string;
}

export function formatGithubAnnotations(report: PolicyTestReport, opts: GithubReportOptions = {}): string {
  const workspace = opts.workspace ?? process.env['GITHUB_WORKSPACE'] ?? process.cwd();
  const lines: string[] = [];
  for (const suite of report.suites) {
    for (const r of suite.results) {
      if (r.status === 'passed') continue;
      const props: string[] = [];
      if (r.file !== undefined) {
        const absolute = isAbsolute(r.file) ? r.file : resolve(report.root, r.file);
        props.push(`file=${property(relative(workspace, absolute).split(sep).join('/'))}`);
        if (r.line !== undefined) props.push(`line=${r.line}`);
      }
      props.push(`title=${property(`${suite.name}: ${r.name}`)}`);
      lines.push(`::error ${props.join(',')}::${data(r.message ?? r.status)}`);
    }
  }
  for (const w of report.warnings ?? []) {
    const absolute = resolve(report.root, w.file);
    lines.push(`::warning file=${property(relative(workspace, absolute).split(sep).join('/'))},line=${w.line},title=${property('policy review')}::${data(w.message)}`);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** The message part: %, CR and LF are escaped (a newline would end the command). */
function data(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A property value: as data, plus the separators ':' and ','. */
function property(s: string): string {
  return data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
