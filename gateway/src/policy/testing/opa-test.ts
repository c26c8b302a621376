// Runs `opa test <dir> --format json` on a Rego policy directory and turns each test into a result;
// a directory that does not load (syntax or compile errors) is a failed result, never a throw.

import { execFile } from 'node:child_process';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { findOpaBinary } from '../opa-binary.ts';
import { findRecordedOpaTest } from '../prebuilt-rego.ts';
import { isGatehouseError } from '../../errors.ts';
import type { PolicyTestResult } from './types.ts';

const OPA_TEST_TIMEOUT_MS = 300_000;

export interface OpaTestOptions {
  opaPath?: string;
  /** Result files are made relative to it. */
  root: string;
}

/** One entry of `opa test --format json`. */
interface OpaTestEntry {
  location?: { file?: string; row?: number };
  package?: string;
  name?: string;
  fail?: boolean;
  skip?: boolean;
  error?: { code?: string; message?: string; location?: { file?: string; row?: number } };
  output?: string;
  /** Nanoseconds. */
  duration?: number;
}

export async function runOpaTest(dir: string, opts: OpaTestOptions): Promise<PolicyTestResult[]> {
  const started = Date.now();
  let opa: string;
  try {
    opa = await findOpaBinary(opts.opaPath);
  } catch (e) {
    // Without opa, sources identical to a shipped example's keep the results recorded when it was built.
    const recorded = await findRecordedOpaTest(dir, opts.root);
    if (recorded !== null) return recorded;
    const text = isGatehouseError(e) ? `${e.message}${e.hint === undefined ? '' : `\nhint: ${e.hint}`}` : String(e);
    return [{ name: 'find opa', status: 'error', message: text, durationMs: Date.now() - started }];
  }
  const { code, stdout, stderr } = await exec(opa, ['test', dir, '--format', 'json']);
  const entries = parseEntries(stdout);
  if (entries === null || (code !== 0 && code !== 2)) {
    // 0: all passed, 2: some failed; anything else (1: load or compile errors) has no per-test report.
    return [loadFailure(dir, opts.root, stderr.trim() || stdout.trim() || `opa test exited with code ${String(code)}`, Date.now() - started)];
  }
  return entries.map((e) => toResult(e, opts.root));
}

function toResult(e: OpaTestEntry, root: string): PolicyTestResult {
  const name = `${(e.package ?? '').replace(/^data\./, '')}${e.package ? '.' : ''}${e.name ?? '(unnamed)'}`;
  const where = {
    ...(e.location?.file ? { file: rel(root, e.location.file) } : {}),
    ...(typeof e.location?.row === 'number' ? { line: e.location.row } : {}),
  };
  const durationMs = Math.round((e.duration ?? 0) / 1e6);
  const output = e.output ? `\noutput:\n${Buffer.from(e.output, 'base64').toString('utf8').trimEnd()}` : '';
  if (e.error !== undefined) {
    const at = e.error.location?.file ? ` (at ${rel(root, e.error.location.file)}:${e.error.location.row ?? '?'})` : '';
    return { name, ...where, status: 'error', message: `${e.error.code ?? 'error'}: ${e.error.message ?? ''}${at}${output}`, durationMs };
  }
  if (e.fail === true) {
    return { name, ...where, status: 'failed', message: `test failed (run \`opa test -v\` on the directory for a trace)${output}`, durationMs };
  }
  // A todo_ test is reported by opa as skipped; it is not a failure.
  return { name, ...where, status: 'passed', ...(e.skip === true ? { message: 'skipped (todo_)' } : {}), durationMs };
}

/** opa's load errors look like "1 error occurred during loading: dir/x.rego:3: rego_parse_error: ...". */
function loadFailure(dir: string, root: string, text: string, durationMs: number): PolicyTestResult {
  const match = /([^\s:]+\.rego):(\d+):/.exec(text);
  const where = match?.[1] !== undefined ? { file: rel(root, match[1]), line: Number(match[2]) } : {};
  return { name: `load ${rel(root, dir)}`, ...where, status: 'failed', message: text, durationMs };
}

function parseEntries(stdout: string): OpaTestEntry[] | null {
  try {
    const parsed: unknown = JSON.parse(stdout);
    return Array.isArray(parsed) ? (parsed as OpaTestEntry[]) : null;
  } catch {
    return null;
  }
}

function exec(file: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise) => {
    execFile(file, args, { timeout: OPA_TEST_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : null;
      const extra = error !== null && code === null ? `\n${error.message}` : '';
      resolvePromise({ code, stdout, stderr: `${stderr}${extra}` });
    });
  });
}

function rel(root: string, path: string): string {
  return relative(root, isAbsolute(path) ? path : resolve(path)).split(sep).join('/');
}
