// Finds the `opa` CLI that compiles Rego to WebAssembly: option, $GATEHOUSE_OPA, $PATH, then Go's bin directory.

import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { GatehouseError } from '../errors.ts';

const run = promisify(execFile);

/** The OPA release Gatehouse is tested with. */
export const OPA_VERSION = 'v1.22.2';
export const OPA_INSTALL_HINT = `install it with: go install github.com/open-policy-agent/opa@${OPA_VERSION} (or point GATEHOUSE_OPA at an opa binary)`;

export async function findOpaBinary(explicit?: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  // An explicit choice is never second-guessed: if it is wrong, say so rather than use another binary.
  const chosen = explicit ?? env['GATEHOUSE_OPA'];
  if (chosen !== undefined && chosen !== '') {
    if (await isExecutable(chosen)) return chosen;
    throw missing(`the opa binary ${chosen} (from ${explicit === undefined ? 'GATEHOUSE_OPA' : 'the opaPath option'}) is not an executable file`);
  }
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'opa');
    if (await isExecutable(candidate)) return candidate;
  }
  const goBin = join(await goPath(env), 'bin', 'opa');
  if (await isExecutable(goBin)) return goBin;
  throw missing(`no opa binary found in the opaPath option, GATEHOUSE_OPA, PATH or ${goBin}`);
}

async function goPath(env: NodeJS.ProcessEnv): Promise<string> {
  try {
    const { stdout } = await run('go', ['env', 'GOPATH'], { env, timeout: 10_000 });
    const first = stdout.trim().split(delimiter)[0];
    if (first !== undefined && first !== '') return first;
  } catch {
    // No Go toolchain: fall back to Go's default GOPATH.
  }
  return env['GOPATH']?.split(delimiter)[0] || join(homedir(), 'go');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    if (!(await stat(path)).isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function missing(message: string): GatehouseError {
  return new GatehouseError('CONFIG_INVALID', `cannot compile Rego policies: ${message}`, { hint: OPA_INSTALL_HINT });
}

const ENSURE_OPA_SCRIPT = new URL('../../../scripts/ensure-opa.sh', import.meta.url).pathname;

/**
 * The pinned OPA CLI, built with `go install` by scripts/ensure-opa.sh when it is missing (a few
 * minutes, once). For the embedded demo and the tests on a fresh machine; a production gateway
 * is given its opa by the operator. Progress lines go to onProgress.
 */
export async function installOpa(onProgress: (line: string) => void): Promise<string> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [ENSURE_OPA_SCRIPT], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let pending = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (pending + chunk).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) if (line.trim() !== '') onProgress(line);
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const path = stdout.trim().split('\n').pop() ?? '';
      if (code === 0 && path !== '') resolve(path);
      else reject(missing(`scripts/ensure-opa.sh could not provide opa ${OPA_VERSION} (exit ${code}); install Go so it can build it`));
    });
  });
}
