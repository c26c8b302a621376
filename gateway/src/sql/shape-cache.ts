// Facts shared by single statements that differ only in literal values, keyed by the statement's
// shape: PostgreSQL's normalized text (each literal replaced by $n, comments and layout kept).
// A simple-mode `SELECT ... WHERE aid = 12345` then costs one normalization, not a parse, facts
// extraction and fingerprint, while its own text is still the one the client sent; once its quick
// shape (sql/quick-shape.ts) is known to stand for that shape, not even the normalization.

import { normalizeSync } from 'libpg-query';
import type { ParseOutcome, ParsedStatement, StatementFacts } from './facts.ts';
import type { LiteralDependence } from './literal-facts.ts';
import { quickShape } from './quick-shape.ts';
import { QuickShapeTemplate } from './quick-shape-template.ts';

type ShapeEntry =
  /**
   * Facts of any statement of this shape; `prefix`/`suffix`: what surrounds the statement in its
   * query string (no literal can be there); `statementShape`: the statement's own normalized text,
   * the same for every statement of the shape (the audit log records it, literals out).
   */
  | { kind: 'shared'; facts: StatementFacts; prefix: string; suffix: string; limitConstant: boolean; statementShape: string }
  /** Facts that read literal values (or a query string of several statements): each text is parsed. */
  | { kind: 'unshared' };

export interface ShapeCacheStats {
  size: number;
  capacity: number;
  hits: number;
  /** Of the hits, those found by their quick shape (no normalization). */
  quickHits: number;
  misses: number;
}

/** The words that make a LIMIT constant null (LIMIT NULL, LIMIT ALL), anywhere in a text. */
const NULL_LIMIT_WORD = /\b(?:null|all)\b/i;

/** A key's entry and the cache's clock when the key was filed or last moved to the newest end. */
interface Slot {
  entry: ShapeEntry;
  at: number;
}

export class ShapeCache {
  private readonly map = new Map<string, Slot>();
  /** Counts keys filed and moved: a key's age in them tells whether a hit must move it (see reuse). */
  private clock = 0;
  private hits = 0;
  private quickHits = 0;
  private misses = 0;
  /** The last quick shape of integers, matched before a scan (sql/quick-shape-template.ts). */
  private readonly template = new QuickShapeTemplate();

  private readonly moveAge: number;

  constructor(
    readonly capacity = 5_000,
    readonly maxTextLength = 16_384,
  ) {
    this.moveAge = Math.max(1, capacity >> 1);
  }

  /**
   * The shape of a query string, or null when it has none worth sharing: too long, unparsable, or
   * holding a `$` (a $n parameter normalizes like a literal, and dollar quotes are literals too).
   */
  shapeOf(text: string): string | null {
    if (text.length > this.maxTextLength || text.includes('$')) return null;
    try {
      return normalizeSync(text);
    } catch {
      return null;
    }
  }

  /**
   * The quick shape of a query string (sql/quick-shape.ts), or null: then only shapeOf has one. The
   * last one whose literals were integers is matched first (sql/quick-shape-template.ts).
   */
  quickShapeOf(text: string): string | null {
    const again = this.templateShapeOf(text);
    if (again !== null) return again;
    if (text.length > this.maxTextLength || text.includes('$')) return null;
    const spans: number[] = [];
    const shape = quickShape(text, spans);
    if (shape !== null) this.template.learn(text, shape, spans);
    return shape;
  }

  /**
   * The quick shape of a query string when it is the last one learned with other unsigned integers in
   * it (sql/quick-shape-template.ts), without a scan; else null (quickShapeOf may still find one).
   */
  templateShapeOf(text: string): string | null {
    if (text.length > this.maxTextLength || text.includes('$')) return null;
    return this.template.match(text);
  }

  /**
   * The outcome for `text` from a statement of the same shape seen before, or null (parse it).
   * `quick`: the key is a quick shape, whose miss is not counted (the normalized shape is asked next).
   */
  reuse(shapeKey: string, text: string, quick = false): ParseOutcome | null {
    const slot = this.map.get(shapeKey);
    const entry = slot?.entry;
    if (slot === undefined || entry === undefined || entry.kind === 'unshared') {
      if (!quick) this.misses++;
      return null;
    }
    const end = text.length - entry.suffix.length;
    const statement = text.slice(entry.prefix.length, end);
    const fits =
      end >= entry.prefix.length &&
      text.startsWith(entry.prefix) &&
      text.endsWith(entry.suffix) &&
      !startsOrEndsBlank(statement) &&
      // has_limit was true: this LIMIT constant must not be NULL or ALL either.
      !(entry.limitConstant && NULL_LIMIT_WORD.test(text));
    if (!fits) {
      if (!quick) this.misses++;
      return null;
    }
    this.hits++;
    if (quick) this.quickHits++;
    // Least recently used, approximately (as enforce/decision-cache.ts): a key among the newer half
    // of those filed and moved is far from eviction, and moving it on every hit (a Map delete and set)
    // cost more than the lookup itself.
    if (this.clock - slot.at >= this.moveAge) {
      this.map.delete(shapeKey);
      this.map.set(shapeKey, slot);
      slot.at = ++this.clock;
    }
    // Frozen like every cached outcome: callers share the facts.
    const statements: ParsedStatement[] = [Object.freeze({ text: statement, facts: entry.facts, shape: entry.statementShape })];
    Object.freeze(statements);
    return Object.freeze({ ok: true, statements });
  }

  /** Records what a parsed (and frozen) outcome of `text` says about its shape. */
  remember(shapeKey: string, text: string, outcome: ParseOutcome, dependence: readonly LiteralDependence[]): void {
    if (this.map.has(shapeKey)) return;
    this.map.set(shapeKey, { entry: entryFor(text, outcome, dependence), at: ++this.clock });
    this.evictBeyondCapacity();
  }

  /**
   * Files the entry of a normalized shape under a quick shape of a text of that shape too. Sound
   * because every token a quick shape replaces is a constant for PostgreSQL: all texts with one
   * quick shape have one normalized shape.
   */
  alias(quickKey: string, shapeKey: string): void {
    const slot = this.map.get(shapeKey);
    if (slot === undefined || this.map.has(quickKey)) return;
    this.map.set(quickKey, { entry: slot.entry, at: ++this.clock });
    this.evictBeyondCapacity();
  }

  private evictBeyondCapacity(): void {
    if (this.map.size > this.capacity) {
      const oldest = this.map.keys().next();
      if (oldest.done !== true) this.map.delete(oldest.value);
    }
  }

  clear(): void {
    this.map.clear();
    this.template.forget();
    this.hits = this.quickHits = this.misses = 0;
  }

  stats(): ShapeCacheStats {
    return { size: this.map.size, capacity: this.capacity, hits: this.hits, quickHits: this.quickHits, misses: this.misses };
  }
}

/** Whether a text starts or ends with what String.prototype.trim removes (tested without a copy). */
function startsOrEndsBlank(text: string): boolean {
  if (text.length === 0) return false;
  return isTrimmed(text.charCodeAt(0)) || isTrimmed(text.charCodeAt(text.length - 1));
}

/** ECMAScript WhiteSpace and LineTerminator: what trim() removes. */
function isTrimmed(c: number): boolean {
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0xa0) return false;
  return c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

function entryFor(text: string, outcome: ParseOutcome, dependence: readonly LiteralDependence[]): ShapeEntry {
  const only = outcome.ok && outcome.statements.length === 1 ? outcome.statements[0] : undefined;
  const how = dependence.length === 1 ? dependence[0] : undefined;
  if (only === undefined || how === undefined || how.kind === 'unshared' || only.text === '') return { kind: 'unshared' };
  // The parser's statement starts after leading whitespace and comments; literals are inside it.
  const start = text.indexOf(only.text);
  if (start < 0) return { kind: 'unshared' };
  let statementShape: string;
  try {
    statementShape = normalizeSync(only.text);
  } catch {
    return { kind: 'unshared' };
  }
  return {
    kind: 'shared',
    facts: only.facts,
    prefix: text.slice(0, start),
    suffix: text.slice(start + only.text.length),
    limitConstant: how.kind === 'limit',
    statementShape,
  };
}
