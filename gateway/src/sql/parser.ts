// Entry point of sql/: loads PostgreSQL's parser (libpg-query, WASM) and analyzes query strings.
import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import { GatehouseError } from '../errors.ts';
import type { ParseOutcome, ParsedStatement } from './facts.ts';
import { asNode } from './ast.ts';
import { ParseCache, type CacheStats } from './cache.ts';
import { emptyFacts, extractFacts } from './facts-extract.ts';
import { literalDependence, type LiteralDependence } from './literal-facts.ts';
import { ShapeCache, type ShapeCacheStats } from './shape-cache.ts';
import { statementTexts, type RawStatement } from './split.ts';
import { mapInSlices, SlicesStopped, type SliceStop, type StopReason } from '../work-slices.ts';

export interface AnalyzeOptions {
  /** The session's search_path, used to qualify unqualified table names. Default ['public']. */
  searchPath?: readonly string[];
}

/** The facts of a long string were not all extracted: its decision was abandoned (work-slices.ts SliceStop). */
export class AnalysisStopped extends Error {
  constructor(
    /** The text of each statement PostgreSQL's parser found, in order. */
    readonly texts: readonly string[],
    readonly reason: StopReason,
    readonly stop: SliceStop,
  ) {
    super(`analysis stopped (${reason})`);
    this.name = 'AnalysisStopped';
  }
}

const DEFAULT_SEARCH_PATH: readonly string[] = Object.freeze(['public']);

let loading: Promise<void> | null = null;
let loaded = false;
const cache = new ParseCache();
const shapes = new ShapeCache();

/** Loads the parser's WASM module; idempotent. Await it once at startup, before analyzeQuery. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

/**
 * Parses a query string (one or many statements) and extracts each statement's facts.
 * Synchronous, and cached by (text, search_path): a repeated statement costs a Map lookup. A single
 * statement that differs from one seen before only in its literal values shares that statement's
 * facts (sql/shape-cache.ts) unless its facts read a literal's value (sql/literal-facts.ts).
 * A syntax error is returned as `{ ok: false }`, never thrown; `position` is PostgreSQL's
 * convention for ErrorResponse: a 1-based character index into `text`. The outcome is frozen.
 * Throws GatehouseError INTERNAL only when called before loadSqlParser() has resolved, or
 * if a parse tree has a shape the extractor cannot read (a bug: fail closed).
 */
export function analyzeQuery(text: string, options?: AnalyzeOptions): ParseOutcome {
  const searchPath = options?.searchPath ?? DEFAULT_SEARCH_PATH;
  const found = lookUp(text, searchPath);
  return 'ok' in found ? found : file(text, found, analyze(text, searchPath));
}

/**
 * analyzeQuery, with the facts of a long string's statements extracted a few milliseconds at a time
 * (work-slices.ts): at once when cached or when the work fits in one slice, else a Promise. The parse
 * itself (PostgreSQL's parser over the whole string) stays one piece. With `stop` set between slices the
 * Promise rejects with AnalysisStopped, and nothing is cached.
 */
export function analyzeQueryInSlices(text: string, options?: AnalyzeOptions & { stop?: SliceStop }): ParseOutcome | Promise<ParseOutcome> {
  const searchPath = options?.searchPath ?? DEFAULT_SEARCH_PATH;
  const found = lookUp(text, searchPath);
  if ('ok' in found) return found;
  const analyzed = analyze(text, searchPath, true, options?.stop);
  return analyzed instanceof Promise ? analyzed.then((a) => file(text, found, a)) : file(text, found, analyzed);
}

/** The cache keys of a text that no cache answered. */
interface Unanswered {
  key: string;
  quickKey: string | null;
  shapeKey: string | null;
}

/** The cached outcome of `text`, or the keys to file the fresh one under. */
function lookUp(text: string, searchPath: readonly string[]): ParseOutcome | Unanswered {
  // A text of the last integer template (sql/quick-shape-template.ts) asks the shape cache first: a
  // text answered by its shape is never filed by its own text, so with a new literal each time (the
  // simple protocol) the exact lookup would miss every time, hashing the new key to do so.
  const templated = shapes.templateShapeOf(text);
  const templatedKey = templated === null ? null : ParseCache.key(templated, searchPath);
  const byTemplate = templatedKey === null ? null : shapes.reuse(templatedKey, text, true);
  if (byTemplate !== null) return byTemplate;
  const key = ParseCache.key(text, searchPath);
  const exact = cache.get(key);
  if (exact !== undefined) return exact;
  // The quick shape first (a scan), then the normalized one (PostgreSQL's parser), which the quick
  // one is then filed under (sql/shape-cache.ts alias).
  const quick = templated ?? shapes.quickShapeOf(text);
  const quickKey = quick === null ? null : ParseCache.key(quick, searchPath);
  const quickly = quickKey === null || templated !== null ? null : shapes.reuse(quickKey, text, true);
  if (quickly !== null) return quickly;
  const shape = shapes.shapeOf(text);
  const shapeKey = shape === null ? null : ParseCache.key(shape, searchPath);
  const shared = shapeKey === null ? null : shapes.reuse(shapeKey, text);
  if (shared === null) return { key, quickKey, shapeKey };
  if (quickKey !== null && shapeKey !== null) shapes.alias(quickKey, shapeKey);
  return shared;
}

/** Files a fresh outcome in the caches; the frozen outcome. */
function file(text: string, { key, quickKey, shapeKey }: Unanswered, analyzed: Analyzed): ParseOutcome {
  const outcome = cache.set(key, text, analyzed.outcome);
  if (shapeKey !== null) shapes.remember(shapeKey, text, outcome, analyzed.dependence);
  if (quickKey !== null && shapeKey !== null) shapes.alias(quickKey, shapeKey);
  return outcome;
}

/**
 * How many statements PostgreSQL's parser finds in `text` (0: only blanks, comments and semicolons), or
 * null when it does not parse. The parse only: no facts, no cache (for checks that need no more).
 */
export function parsedStatementCount(text: string): number | null {
  if (!loaded) throw new GatehouseError('INTERNAL', 'SQL parser used before loadSqlParser() resolved');
  if (text.trim() === '') return 0;
  try {
    return ((parseSync(text) as { stmts?: RawStatement[] }).stmts ?? []).length;
  } catch {
    return null;
  }
}

/** analyzeQuery without the caches (for measurements and tests); the outcome is not frozen. */
export function analyzeQueryUncached(text: string, options?: AnalyzeOptions): ParseOutcome {
  return analyze(text, options?.searchPath ?? DEFAULT_SEARCH_PATH).outcome;
}

/** The outcome, and for each statement how its facts depend on literal values. */
interface Analyzed {
  outcome: ParseOutcome;
  dependence: LiteralDependence[];
}

function analyze(text: string, searchPath: readonly string[]): Analyzed;
function analyze(text: string, searchPath: readonly string[], inSlices: true, stop?: SliceStop): Analyzed | Promise<Analyzed>;
function analyze(text: string, searchPath: readonly string[], inSlices = false, stop?: SliceStop): Analyzed | Promise<Analyzed> {
  if (!loaded) throw new GatehouseError('INTERNAL', 'SQL parser used before loadSqlParser() resolved');
  const none: LiteralDependence[] = [];
  if (text.trim() === '') return { outcome: { ok: true, statements: [{ text: '', facts: emptyFacts() }] }, dependence: none };
  let stmts: RawStatement[];
  try {
    stmts = (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? [];
  } catch (e) {
    return { outcome: parseError(e), dependence: none };
  }
  // Only comments and semicolons: PostgreSQL answers EmptyQueryResponse.
  if (stmts.length === 0) return { outcome: { ok: true, statements: [{ text: text.trim(), facts: emptyFacts() }] }, dependence: none };
  try {
    const texts = statementTexts(text, stmts);
    const dependence: LiteralDependence[] = new Array<LiteralDependence>(stmts.length);
    const one = (i: number): ParsedStatement => {
      const node = asNode(stmts[i]!.stmt);
      if (node === null) throw new Error(`statement ${i} has no parse node`);
      const stmtText = texts[i] ?? '';
      const facts = extractFacts(node, stmtText, searchPath);
      dependence[i] = literalDependence(node, facts);
      return { text: stmtText, facts };
    };
    const done = (statements: ParsedStatement[]): Analyzed => ({ outcome: { ok: true, statements }, dependence });
    if (!inSlices) return done(stmts.map((_, i) => one(i)));
    const statements = mapInSlices(stmts.length, one, undefined, stop);
    const failed = (e: unknown): never => {
      // Abandoned: the parse tree is let go; the texts are what the records of its statements need.
      if (e instanceof SlicesStopped) throw new AnalysisStopped(texts, e.reason, e.stop);
      return unreadable(e);
    };
    return statements instanceof Promise ? statements.then(done, failed) : done(statements);
  } catch (e) {
    return unreadable(e);
  }
}

/** A parse tree we could not read: fail closed rather than guess the facts. */
function unreadable(e: unknown): never {
  throw new GatehouseError('INTERNAL', 'could not extract facts from a parsed statement', { cause: e });
}

function parseError(e: unknown): ParseOutcome {
  if (hasSqlDetails(e)) {
    const cursor = e.sqlDetails?.cursorPosition;
    // libpg-query's cursorPosition is a 0-based character offset.
    return { ok: false, error: e.sqlDetails?.message ?? e.message, position: typeof cursor === 'number' && cursor >= 0 ? cursor + 1 : null };
  }
  return { ok: false, error: e instanceof Error ? e.message : String(e), position: null };
}

/** Hits, misses, size and evictions of the analyze cache. */
export function analyzeCacheStats(): CacheStats {
  return cache.stats();
}

/** Hits and misses of the shape cache (statements that differ only in literal values). */
export function shapeCacheStats(): ShapeCacheStats {
  return shapes.stats();
}

/** Empties the analyze and shape caches and resets their counters. */
export function clearAnalyzeCache(): void {
  cache.clear();
  shapes.clear();
}
