// The C extension's own SHA-256 (extension/gatehouse_mask/sha256.c), compiled with the system C
// compiler as the extension is (with OpenSSL's block function as the fallback) and driven by
// extension/gatehouse_mask/sha256-check.c: each block function (the x86 SHA extensions where the CPU
// has them, OpenSSL's SHA256_Transform, portable C) gives node:crypto's SHA-256 and HMAC-SHA-256 for
// every message length across the block and padding boundaries, and for long and multibyte input.
// No PostgreSQL needed; a missing C compiler skips it (a failure under CI=true, where the extension
// is built too).

import { execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool } from './support/run-tool.ts';
import { REPO_ROOT } from './support/harness.ts';

const SRC = path.join(REPO_ROOT, 'extension/gatehouse_mask');

const compiler = ((): string | null => {
  for (const cc of ['cc', 'gcc', 'clang']) {
    try {
      execFileSync(cc, ['--version'], { stdio: 'ignore' });
      return cc;
    } catch {
      // next
    }
  }
  return null;
})();
if (compiler === null && process.env['CI'] === 'true') throw new Error('no C compiler (cc, gcc, clang): the mask extension cannot be built either');

/** Whether this CPU has the SHA extensions (then `auto` must pick them, so both paths run here). */
const cpuHasSha = ((): boolean => {
  try {
    return /^flags\s*:.*\bsha_ni\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
})();

const KEY = Buffer.from('9f3b'.repeat(16), 'hex');

/** Every length from 0 to 300 bytes (all offsets around 55/56/64 and the next blocks), then long ones. */
function messages(): Buffer[] {
  const out: Buffer[] = [];
  let seed = 12345;
  const byte = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  for (let len = 0; len <= 300; len++) out.push(Buffer.from(Array.from({ length: len }, byte)));
  for (const len of [511, 512, 513, 1000, 4096, 65_537]) out.push(Buffer.from(Array.from({ length: len }, byte)));
  out.push(Buffer.from('Zoë Ørsted-Łukasz 日本語のテキスト 🙂🙃', 'utf8'));
  out.push(Buffer.from('public.pgbench_masked_people.email\0hash\0p1@example.com'));
  return out;
}

describe.skipIf(compiler === null)('the mask extension SHA-256 (sha256.c)', () => {
  let dir: string;
  let exe: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'gatehouse-sha256-'));
    exe = path.join(dir, 'sha256-check');
    execFileSync(compiler!, ['-O2', '-Wall', '-Werror', '-DGH_WITH_OPENSSL', '-o', exe, path.join(SRC, 'sha256-check.c'), path.join(SRC, 'sha256.c'), path.join(SRC, 'sha256-shani.c'), '-lcrypto'], {
      stdio: 'inherit',
    });
  });

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  for (const mode of ['auto', 'openssl', 'portable'] as const) {
    it(`${mode}: SHA-256 and HMAC-SHA-256 equal to node:crypto for ${messages().length} messages`, async () => {
      const msgs = messages();
      const r = await runTool(exe, [mode, KEY.toString('hex')], { stdin: msgs.map((m) => m.toString('hex') + '\n').join(''), killAfterMs: 60_000 });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [impl, ...lines] = r.stdout.toString('utf8').trimEnd().split('\n');
      // auto: the SHA extensions where the CPU has them, else OpenSSL's block function.
      expect(impl).toBe(mode !== 'auto' ? mode : cpuHasSha ? 'sha-ni' : 'openssl');
      expect(lines).toHaveLength(msgs.length);
      const expected = msgs.map((m) => `${createHash('sha256').update(m).digest('hex')} ${createHmac('sha256', KEY).update(m).digest('hex')}`);
      for (const [i, line] of lines.entries()) if (line !== expected[i]) expect({ length: msgs[i]!.length, line }).toEqual({ length: msgs[i]!.length, line: expected[i] });
    });
  }
});
