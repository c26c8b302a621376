// docs/quickstart.md, "In front of your own PostgreSQL", followed literally: its `sh` blocks run in
// order in one bash (its Settings block replaced by this test's), against the local PostgreSQL, and
// each `text` block after a command block must appear in that block's output (… matches any text).

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_ADMIN_URL, REPO_ROOT, TEST_DB } from './support/harness.ts';
import { runTool } from './support/run-tool.ts';

const PAGE = join(REPO_ROOT, 'docs/quickstart.md');
const SECTION = '## 2. In front of your own PostgreSQL';

export interface PageBlock {
  kind: 'settings' | 'sh' | 'text';
  body: string;
}

/** The fenced blocks of the section, in order: ```sh settings, ```sh and ```text. */
export function sectionBlocks(markdown: string, heading: string): PageBlock[] {
  const start = markdown.indexOf(heading);
  if (start < 0) throw new Error(`${PAGE} has no section "${heading}"`);
  const rest = markdown.slice(start + heading.length);
  const next = rest.search(/^## /m);
  const section = next < 0 ? rest : rest.slice(0, next);
  const blocks: PageBlock[] = [];
  for (const m of section.matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)) {
    const [, lang, info, body = ''] = m;
    if (lang === 'sh') blocks.push({ kind: info?.trim() === 'settings' ? 'settings' : 'sh', body });
    else if (lang === 'text') blocks.push({ kind: 'text', body });
  }
  return blocks;
}

/** Whether every expected line appears in actual, in order; `…` in an expected line matches any text. */
export function linesAppearInOrder(expected: string, actual: string): { ok: true } | { ok: false; missing: string } {
  const lines = actual.split('\n').map((l) => l.trimEnd());
  let at = 0;
  for (const want of expected.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '')) {
    const pattern = new RegExp(`^${want.split('…').map(escapeRegExp).join('.*')}$`);
    while (at < lines.length && !pattern.test(lines[at] ?? '')) at++;
    if (at === lines.length) return { ok: false, missing: want };
    at++;
  }
  return { ok: true };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const database = `${TEST_DB}_quickstart`;
const role = `${TEST_DB}_quickstart_gw`;

async function dropLeftovers(): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.query(`DROP ROLE IF EXISTS ${role}`);
  } finally {
    await admin.end();
  }
}

describe('docs/quickstart.md, in front of your own PostgreSQL', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'gatehouse-quickstart-'));
    await dropLeftovers();
  });
  afterAll(async () => {
    await dropLeftovers();
    await rm(work, { recursive: true, force: true });
  });

  it('compares lines in order, … matching any text', () => {
    expect(linesAppearInOrder('a…c\nx', 'abc\nq\nx')).toEqual({ ok: true });
    expect(linesAppearInOrder('x\nabc', 'abc\nx')).toEqual({ ok: false, missing: 'abc' });
  });

  it('runs every command of the page, in order, and prints what the page shows', { timeout: 300_000 }, async () => {
    const blocks = sectionBlocks(readFileSync(PAGE, 'utf8'), SECTION);
    expect(blocks.filter((b) => b.kind === 'settings')).toHaveLength(1);
    const admin = new URL(PG_ADMIN_URL);
    const port = await freePort();
    const settings = [
      `export PGHOST=${admin.hostname} PGPORT=${admin.port || '5432'} PGUSER=${decodeURIComponent(admin.username) || 'postgres'}`,
      `export APP_DB=${database}`,
      `export GATEHOUSE_ROLE=${role}`,
      `export GATEHOUSE_PORT=${port}`,
      `export QUICKSTART_DIR=${JSON.stringify(join(work, 'my-gatehouse'))}`,
    ].join('\n');
    // This run sets every variable the page's Settings block sets, and no other.
    const names = (text: string): string[] => [...text.matchAll(/\b([A-Z_]+)=/g)].map((m) => m[1] ?? '').sort();
    expect(names(settings)).toEqual(names(blocks.find((b) => b.kind === 'settings')?.body.replace(/#.*$/gm, '') ?? ''));

    // Each command block is announced by a marker, so its output can be told apart.
    const marker = (i: number): string => `@@quickstart-block-${i}@@`;
    // Errors a page command prints (psql's ERROR lines) are part of what the page shows.
    // Job control is on, as in a person's interactive shell: `kill %1` then reaches the whole job.
    // A person's shell has no npm_* variables (vitest may have been started by npm).
    const script: string[] = ['set -euo pipefail -m', 'exec 2>&1', 'for v in $(compgen -e); do if [[ $v == npm_* ]]; then unset "$v"; fi; done'];
    blocks.forEach((b, i) => {
      if (b.kind === 'text') return;
      script.push(`echo '${marker(i)}'`, b.kind === 'settings' ? settings : b.body);
    });
    const run = await runTool('bash', ['-c', script.join('\n')], { cwd: REPO_ROOT, killAfterMs: 280_000 });
    const output = `${run.stdout.toString('utf8')}`;
    expect(run.code, `the page's commands failed:\n${output}\n${run.stderr}`).toBe(0);

    // A text block is compared with the output of the command block before it.
    const outputOf = (i: number): string => {
      const from = output.indexOf(marker(i));
      const nextMarker = output.indexOf('@@quickstart-block-', from + marker(i).length);
      return output.slice(from + marker(i).length, nextMarker < 0 ? undefined : nextMarker);
    };
    let compared = 0;
    blocks.forEach((b, i) => {
      if (b.kind !== 'text') return;
      let owner = i - 1;
      while (owner >= 0 && blocks[owner]?.kind === 'text') owner--;
      const actual = owner >= 0 ? outputOf(owner) : '';
      // The page shows its own settings' names where this run has its own.
      const expected = b.body.replaceAll('database app ', `database ${database} `).replaceAll('as gatehouse ', `as ${role} `);
      const result = linesAppearInOrder(expected, actual);
      expect(result, `text block ${i} of the page is not what block ${owner} printed:\n--- printed ---\n${actual}\n--- stderr ---\n${run.stderr}`).toEqual({ ok: true });
      compared++;
    });
    expect(compared).toBeGreaterThanOrEqual(3);

    // The last step stopped Gatehouse: its port closes.
    let open = true;
    for (let i = 0; i < 100 && open; i++) {
      open = await canConnect(port);
      if (open) await new Promise((r) => setTimeout(r, 100));
    }
    expect(open, 'Gatehouse still listens after the page\'s kill %1').toBe(false);
  });
});
