// Entry point of sql/: loads PostgreSQL's parser (libpg-query, WASM) and analyzes query strings.
import { hasSqlDetails, loadModule, parseSync } from 'libpg-query';
import { GatehouseError } from '../errors.ts';
import type { ParseOutcome, ParsedStatement } from './facts.ts';
import { asNode } from './ast.ts';
import { ParseCache, type CacheStats } from './cache.ts';
import { emptyFacts, extractFacts } from './facts-extract.ts';
import { statementTexts, type RawStatement } from './split.ts';

export interface AnalyzeOptions {
  /** The session's search_path, used to qualify unqualified table names. Default ['public']. */
  searchPath?: readonly string[];
}

const DEFAULT_SEARCH_PATH: readonly string[] = Object.freeze(['public']);

let loading: Promise<void> | null = null;
let loaded = false;
const cache = new ParseCache();

/** Loads the parser's WASM module; idempotent. Await it once at startup, before analyzeQuery. */
export function loadSqlParser(): Promise<void> {
  loading ??= loadModule().then(() => {
    loaded = true;
  });
  return loading;
}

/**
 * Parses a query string (one or many statements) and extracts each statement's facts.
 * Synchronous, and cached by (text, search_path): a repeated statement costs a Map lookup.
 * A syntax error is returned as `{ ok: false }`, never thrown; `position` is PostgreSQL's
 * convention for ErrorResponse: a 1-based character index into `text`. The outcome is frozen.
 * Throws GatehouseError INTERNAL only when called before loadSqlParser() has resolved, or
 * if a parse tree has a shape the extractor cannot read (a bug: fail closed).
 */
export function analyzeQuery(text: string, options?: AnalyzeOptions): ParseOutcome {
  const searchPath = options?.searchPath ?? DEFAULT_SEARCH_PATH;
  const key = ParseCache.key(text, searchPath);
  return cache.get(key) ?? cache.set(key, text, analyzeQueryUncached(text, options));
}

/** analyzeQuery without the cache (for measurements and tests); the outcome is not frozen. */
export function analyzeQueryUncached(text: string, options?: AnalyzeOptions): ParseOutcome {
  if (!loaded) throw new GatehouseError('INTERNAL', 'SQL parser used before loadSqlParser() resolved');
  const searchPath = options?.searchPath ?? DEFAULT_SEARCH_PATH;
  if (text.trim() === '') return { ok: true, statements: [{ text: '', facts: emptyFacts() }] };
  let stmts: RawStatement[];
  try {
    stmts = (parseSync(text) as { stmts?: RawStatement[] }).stmts ?? [];
  } catch (e) {
    return parseError(e);
  }
  // Only comments and semicolons: PostgreSQL answers EmptyQueryResponse.
  if (stmts.length === 0) return { ok: true, statements: [{ text: text.trim(), facts: emptyFacts() }] };
  try {
    const texts = statementTexts(text, stmts);
    const statements: ParsedStatement[] = stmts.map((s, i) => {
      const node = asNode(s.stmt);
      if (node === null) throw new Error(`statement ${i} has no parse node`);
      const stmtText = texts[i] ?? '';
      return { text: stmtText, facts: extractFacts(node, stmtText, searchPath) };
    });
    return { ok: true, statements };
  } catch (e) {
    // A parse tree we could not read: fail closed rather than guess the facts.
    throw new GatehouseError('INTERNAL', 'could not extract facts from a parsed statement', { cause: e });
  }
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

/** Empties the analyze cache and resets its counters. */
export function clearAnalyzeCache(): void {
  cache.clear();
}
