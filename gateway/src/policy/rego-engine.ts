// Rego engine: compiles a policy directory to WebAssembly with the opa CLI (cached by content hash)
// and evaluates the `gatehouse/verdict` entrypoint with @open-policy-agent/opa-wasm.

import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as opaWasm from '@open-policy-agent/opa-wasm';
import type { LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { GatehouseError } from '../errors.ts';
import { readApprovalRequirements } from './approval-requirements.ts';
import { combineVerdicts, engineErrorVerdict, withReviewed } from './combine.ts';
import { findOpaBinary, OPA_VERSION } from './opa-binary.ts';
import { hashPolicyFiles, readPolicyFiles, type PolicyFile } from './policy-files.ts';
import { findPrebuiltModule } from './prebuilt-rego.ts';
import { READS_ALL, type InputReads } from './input-reads.ts';
import { opaJsonEvaluator } from './opa-eval.ts';
import { regoInputJson } from './rego-input-json.ts';
import { DETECTOR_NAMES, MASK_STRATEGIES, type DetectorName, type EngineVerdict, type MaskStrategy, type PolicyEngine, type PolicyInput } from './types.ts';

const run = promisify(execFile);
/**
 * opa-wasm's synchronous loader, for a module compiled already. Its asynchronous `loadPolicy` asks
 * `policyWasm instanceof Response`, and the first read of the global `Response` makes Node load its
 * fetch implementation (undici): about 4 MB more resident in every thread that loads a policy (each
 * evaluation worker, the warm spare, the main thread), for code the gateway never runs. The package's
 * ESM entry names only `loadPolicy`; `loadPolicySync` is on its default export (the CommonJS module).
 */
const { loadPolicySync } = (opaWasm as unknown as { default: Pick<typeof opaWasm, 'loadPolicySync'> }).default;

/** The one entrypoint every Rego policy set exposes (see docs/policies.md). */
export const REGO_ENTRYPOINT = 'gatehouse/verdict';
const BUILD_TIMEOUT_MS = 120_000;
/** Scratch directories `opa build` works in, beside the cached modules; removed when it finishes. */
export const REGO_BUILD_TEMP_PREFIX = '.build-';

export interface RegoCompileOptions {
  /** Path of the opa binary; otherwise $GATEHOUSE_OPA, $PATH, then $(go env GOPATH)/bin/opa. */
  opaPath?: string;
  /** Where compiled modules are cached, as `rego-<sha256>.wasm`. */
  outDir: string;
  /**
   * Run opa in this directory, `dir` being relative to it: the module embeds the path it was given
   * (in source locations), so a relative one makes a build reproducible from any checkout.
   */
  cwd?: string;
  /** Use the committed module for these exact sources when there is one (gateway/prebuilt/); default true. */
  prebuilt?: boolean;
}

/**
 * Compile every `*.rego` under `dir` (tests excluded) into one WebAssembly module.
 * The same sources (by content hash) are compiled once: a cached module is returned as is. Sources
 * that match a committed module (the shipped example policies) need no opa CLI at all.
 */
export async function compileRegoDirectory(dir: string, opts: RegoCompileOptions): Promise<{ wasmPath: string }> {
  const files = await readPolicyFiles(resolve(opts.cwd ?? '.', dir), 'rego');
  if (files.length === 0) {
    throw new GatehouseError('CONFIG_INVALID', `no .rego policy files in ${dir}`);
  }
  const wasmPath = join(opts.outDir, regoModuleName(files));
  if (await isFile(wasmPath)) return { wasmPath };
  const prebuilt = opts.prebuilt === false ? null : await findPrebuiltModule(regoModuleName(files));
  if (prebuilt !== null) {
    await mkdir(opts.outDir, { recursive: true });
    const work = await mkdtemp(join(opts.outDir, REGO_BUILD_TEMP_PREFIX));
    try {
      await writeFile(join(work, 'policy.wasm'), prebuilt);
      await rename(join(work, 'policy.wasm'), wasmPath);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return { wasmPath };
  }

  const opa = await findOpaBinary(opts.opaPath);
  await mkdir(opts.outDir, { recursive: true });
  const work = await mkdtemp(join(opts.outDir, REGO_BUILD_TEMP_PREFIX));
  try {
    const bundle = resolve(work, 'bundle.tar.gz');
    try {
      // The same files as readPolicyFiles: without tests, and without hidden entries, which opa would
      // compile but the revision, the input reads and the determinism check would not see (R7-7).
      await run(opa, ['build', '-t', 'wasm', '-e', REGO_ENTRYPOINT, '--ignore', '*_test.rego', '--ignore', '.*', '-o', bundle, dir], {
        timeout: BUILD_TIMEOUT_MS,
        ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
        maxBuffer: 16 * 1024 * 1024,
      });
    } catch (e) {
      // opa prints compile errors (file:line: message) on standard output, other failures on stderr.
      const { stdout, stderr } = e as { stdout?: unknown; stderr?: unknown };
      const output = [stdout, stderr].filter((o): o is string => typeof o === 'string' && o.trim() !== '').join('\n');
      throw new GatehouseError('CONFIG_INVALID', `opa build failed for ${dir}`, {
        detail: output.trim() !== '' ? output.trim() : String(e),
        hint: 'run `opa check` on the policy directory',
        cause: e,
      });
    }
    // Imported here: only compiling needs it, and the evaluation threads that import this module never compile.
    const { x: extractTar } = await import('tar');
    await extractTar({ file: bundle, cwd: work, filter: (path) => path.replace(/^\/+/, '') === 'policy.wasm' });
    const extracted = join(work, 'policy.wasm');
    if (!(await isFile(extracted))) {
      throw new GatehouseError('CONFIG_INVALID', `opa build produced no policy.wasm for ${dir}`);
    }
    // Rename is atomic: a concurrent reader sees either no module or a whole one.
    await rename(extracted, wasmPath);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return { wasmPath };
}

/** The file a policy directory's compiled module is cached as: keyed by its sources, the entrypoint and the opa version. */
export function regoModuleName(files: readonly PolicyFile[]): string {
  return `rego-${hashPolicyFiles(files, `${REGO_ENTRYPOINT}\u0000${OPA_VERSION}`)}.wasm`;
}

export interface RegoMemoryLimits {
  /** The most WebAssembly pages (64 KiB) one instance may grow to; default unbounded. */
  maxPages?: number;
}

/** Bytes of WebAssembly memory a loaded policy holds now (it never shrinks until the instance is dropped). */
export function regoMemoryBytes(policy: LoadedPolicy): number {
  return (policy as unknown as { mem?: WebAssembly.Memory }).mem?.buffer.byteLength ?? 0;
}

/** Builtins whose result is not a function of the policy input. */
const NON_DETERMINISTIC_BUILTINS = /\b(time\.now_ns|http\.send|rand\.intn|uuid\.rfc4122|opa\.runtime|net\.lookup_ip_addr|io\.jwt\.decode_verify|crypto\.x509\.parse_and_verify_certificates)\b/;

/** Whether Rego sources call only builtins whose results depend on their arguments alone. */
export function regoSourcesDeterministic(sources: readonly string[]): boolean {
  return !sources.some((s) => NON_DETERMINISTIC_BUILTINS.test(s));
}

/**
 * Instantiate a compiled module once; evaluate it many times. `wasm` is the module's bytes (compiled
 * here, once) or a module compiled already: the engine's spec carries the compiled module, so an
 * evaluation worker (policy/eval-pool.ts), started again after every evaluation cut off, instantiates
 * it without compiling it again. `deterministic` says whether its
 * sources avoid clock, randomness and network builtins (see regoSourcesDeterministic); `reads`, which
 * parts of the input they read (policy/input-reads.ts).
 */
export async function loadRegoEngine(
  wasm: Uint8Array | WebAssembly.Module,
  revision: string,
  deterministic = false,
  limits: RegoMemoryLimits = {},
  reads: InputReads = READS_ALL,
): Promise<PolicyEngine> {
  let policy: LoadedPolicy;
  let module: WebAssembly.Module;
  try {
    module = wasm instanceof WebAssembly.Module ? wasm : await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
    // A bounded memory: an evaluation that needs more fails (deny) instead of growing the process.
    policy = loadPolicySync(module, { initial: 5, ...(limits.maxPages === undefined ? {} : { maximum: limits.maxPages }) });
  } catch (e) {
    throw new GatehouseError('CONFIG_INVALID', 'cannot load the compiled Rego module', { detail: errorText(e), cause: e });
  }
  if (!Object.prototype.hasOwnProperty.call(policy.entrypoints, REGO_ENTRYPOINT)) {
    throw new GatehouseError('CONFIG_INVALID', `the compiled Rego module has no ${REGO_ENTRYPOINT} entrypoint`);
  }
  const evaluateJson = opaJsonEvaluator(policy, REGO_ENTRYPOINT);
  const inputJson = regoInputJson(reads);
  return {
    kind: 'rego',
    revision,
    deterministic,
    reads,
    spec: { kind: 'rego', revision, deterministic, module, reads },
    memoryBytes: () => regoMemoryBytes(policy),
    evaluate(input: PolicyInput): EngineVerdict {
      let resultSet: unknown;
      try {
        resultSet = evaluateJson(inputJson(input));
      } catch (e) {
        return engineErrorVerdict(errorText(e));
      }
      return verdictFromResultSet(resultSet, input);
    },
  };
}

const LEVELS = ['deny', 'approve', 'mask', 'allow'] as const;
const STRATEGIES: ReadonlySet<string> = new Set<string>(MASK_STRATEGIES);
const DETECTORS: ReadonlySet<string> = new Set<string>(DETECTOR_NAMES);

/**
 * A mask entry with this strategy asks for content detection instead of a column mask:
 * {"strategy": "detect", "detectors": ["ssn", "email"], "column": "notes" | "*", ...}.
 */
export const DETECT_STRATEGY = 'detect';

function detectorList(value: unknown): value is DetectorName[] {
  return Array.isArray(value) && value.length > 0 && value.every((d) => typeof d === 'string' && DETECTORS.has(d));
}

/** Turn `[{result: {deny, approve, mask, allow, reviewed?}}]` into one verdict; anything malformed is an engine error. */
export function verdictFromResultSet(resultSet: unknown, input?: PolicyInput): EngineVerdict {
  if (!Array.isArray(resultSet) || resultSet.length === 0) {
    return engineErrorVerdict(`${REGO_ENTRYPOINT} is undefined`);
  }
  const result = (resultSet[0] as { result?: unknown }).result;
  if (!isRecord(result)) return engineErrorVerdict(`${REGO_ENTRYPOINT} is not an object`);

  const parts: EngineVerdict[] = [];
  for (const level of LEVELS) {
    const entries = result[level] ?? [];
    if (!Array.isArray(entries)) return engineErrorVerdict(`${REGO_ENTRYPOINT}.${level} is not a set`);
    for (const [i, entry] of entries.entries()) {
      const where = `${REGO_ENTRYPOINT}.${level}[${i}]`;
      if (!isRecord(entry) || typeof entry['id'] !== 'string' || entry['id'] === '') {
        return engineErrorVerdict(`${where} has no string id`);
      }
      const id = entry['id'];
      const reason = typeof entry['reason'] === 'string' ? entry['reason'] : '';
      if (level === 'approve') {
        const read = readApprovalRequirements(entry);
        if (!read.ok) return engineErrorVerdict(`${where} (${id}) ${read.problem}`, [id]);
        parts.push({ action: level, reason: reason || defaultReason(level, id), policies: [id], masks: [], approval: read.requirements });
        continue;
      }
      if (level !== 'mask') {
        parts.push({ action: level, reason: reason || defaultReason(level, id), policies: [id], masks: [] });
        continue;
      }
      const { table, column, strategy } = entry;
      if (strategy === DETECT_STRATEGY) {
        const detectors = entry['detectors'];
        if (typeof table !== 'string' || typeof column !== 'string' || column === '' || !detectorList(detectors)) {
          return engineErrorVerdict(`${where} (${id}) with strategy "detect" needs string table and column and a non-empty detectors list of ${DETECTOR_NAMES.join('|')}`);
        }
        parts.push({
          action: 'mask',
          reason: reason || defaultReason('mask', id),
          policies: [id],
          masks: [],
          detections: [{ table, column, detectors, policies: [id] }],
        });
        continue;
      }
      if (typeof table !== 'string' || typeof column !== 'string' || typeof strategy !== 'string' || !STRATEGIES.has(strategy)) {
        return engineErrorVerdict(`${where} (${id}) needs string table and column and a strategy of ${MASK_STRATEGIES.join('|')} or "detect"`);
      }
      parts.push({
        action: 'mask',
        reason: reason || defaultReason('mask', id),
        policies: [id],
        masks: [{ table, column, strategy: strategy as MaskStrategy, policy: id }],
      });
    }
  }
  const verdict = combineVerdicts(parts);
  // Optional: trigger functions the policy vouches read nothing masked (EngineVerdict.reviewed).
  const reviewed = result['reviewed'] ?? [];
  if (!Array.isArray(reviewed) || reviewed.some((f) => typeof f !== 'string')) return engineErrorVerdict(`${REGO_ENTRYPOINT}.reviewed is not a set of "schema.function" strings`);
  return input === undefined || reviewed.length === 0 ? verdict : withReviewed(verdict, reviewed as string[], input);
}

function defaultReason(level: (typeof LEVELS)[number], id: string): string {
  switch (level) {
    case 'deny':
      return `denied by ${id}`;
    case 'approve':
      return `approval required by ${id}`;
    case 'mask':
      return `columns masked by ${id}`;
    case 'allow':
      return `allowed by ${id}`;
    default: {
      const never: never = level;
      return String(never);
    }
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** opa-wasm throws strings as well as Errors. */
function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
