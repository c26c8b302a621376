// Loads a directory of policy test case files (YAML): parsed, validated against the schema, each case
// with its file and line. Problems name the file, the case and the line; they never throw.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { caseFileProblems } from './case-schema.ts';
import type { CaseExpectation, CaseIdentity, CaseSession, CaseStatement, PolicyTestCase } from './types.ts';
import type { EngineKind } from '../types.ts';

export interface CaseFileProblem {
  /** Relative to the run's root. */
  file: string;
  line?: number;
  /** The case the problem is about, when it is about one. */
  caseName?: string;
  message: string;
}

export interface LoadedCaseFile {
  file: string;
  cases: PolicyTestCase[];
  problems: CaseFileProblem[];
}

const ALL_ENGINES: readonly EngineKind[] = ['rego', 'cedar'];

/** Every `*.yaml` / `*.yml` under dir (hidden entries skipped), in a stable order. */
export async function listCaseFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && /\.ya?ml$/.test(entry.name)) out.push(full);
    }
  }
  await walk(dir);
  return out.sort();
}

/** Loads every case file under dir; file paths in the result are relative to root. */
export async function loadCaseDirectory(dir: string, root: string): Promise<LoadedCaseFile[]> {
  const files = await listCaseFiles(dir);
  return Promise.all(files.map(async (path) => parseCaseFile(await readFile(path, 'utf8'), relativePath(root, path))));
}

/** Parses one case file's text; `file` is the name used in cases and problems. */
export function parseCaseFile(text: string, file: string): LoadedCaseFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    return {
      file,
      cases: [],
      problems: doc.errors.map((e) => ({ file, line: lineCounter.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0] ?? e.message}` })),
    };
  }
  const data: unknown = doc.toJS();
  const lineAt = (path: readonly string[]): number | undefined => nodeLine(doc, path, lineCounter);

  const schemaProblems = caseFileProblems(data);
  if (schemaProblems.length > 0) {
    return {
      file,
      cases: [],
      problems: schemaProblems.map((p) => {
        const name = caseNameAt(data, p.path);
        const line = lineAt(p.path);
        return { file, ...(line === undefined ? {} : { line }), ...(name === undefined ? {} : { caseName: name }), message: p.message };
      }),
    };
  }

  const raw = (data as { cases: RawCase[] }).cases;
  const cases: PolicyTestCase[] = [];
  const problems: CaseFileProblem[] = [];
  const names = new Set<string>();
  raw.forEach((c, i) => {
    const line = lineAt(['cases', String(i)]) ?? 1;
    if (names.has(c.name)) {
      problems.push({ file, line, caseName: c.name, message: `case name "${c.name}" is used twice in ${file}` });
      return;
    }
    names.add(c.name);
    cases.push(toCase(c, file, line));
  });
  return { file, cases, problems };
}

/** The shape the schema guarantees. */
interface RawCase {
  name: string;
  identity: CaseIdentity;
  session?: CaseSession;
  sql?: string;
  protocol?: 'simple' | 'extended';
  search_path?: string[];
  input?: Record<string, unknown>;
  engines?: EngineKind[];
  expect: CaseExpectation;
}

function toCase(c: RawCase, file: string, line: number): PolicyTestCase {
  const statement: CaseStatement =
    c.sql !== undefined
      ? { type: 'sql', sql: c.sql, protocol: c.protocol ?? 'simple', searchPath: c.search_path ?? ['public'] }
      : { type: 'input', statement: c.input ?? {} };
  return {
    name: c.name,
    file,
    line,
    identity: c.identity,
    session: c.session ?? {},
    statement,
    engines: c.engines ?? [...ALL_ENGINES],
    expect: c.expect,
  };
}

function caseNameAt(data: unknown, path: readonly string[]): string | undefined {
  if (path[0] !== 'cases' || path[1] === undefined) return undefined;
  const cases = (data as { cases?: unknown }).cases;
  if (!Array.isArray(cases)) return undefined;
  const c: unknown = cases[Number(path[1])];
  const name = typeof c === 'object' && c !== null ? (c as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : `cases[${path[1]}]`;
}

/** The 1-based line of the deepest node along path that exists (a key that is missing points at its parent). */
function nodeLine(doc: Document, path: readonly string[], lineCounter: LineCounter): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const keys = path.slice(0, n).map((k) => (/^\d+$/.test(k) ? Number(k) : k));
    const node: unknown = n === 0 ? doc.contents : doc.getIn(keys, true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

function relativePath(root: string, path: string): string {
  return relative(root, path).split(sep).join('/');
}
