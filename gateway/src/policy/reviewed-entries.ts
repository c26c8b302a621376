// What a `reviewed` entry of a policy says: a trigger function by name ("schema.name": whatever its
// definition is now), or by name and definition ("schema.name@sha256:<64 hex>": only the definition
// the review saw, statement.triggers[].function_digest; red-team round 17a follow-up, issue 6). Either form
// may end with " writes schema.table[ schema.table...]": the tables the function's body writes, whose own
// triggers a write through it fires too (enforce/trigger-chain.ts; red-team round 20b, R20b-3).

/** One parsed entry; `malformed` for text that is neither form (it vouches for nothing). */
export type ReviewedEntry =
  | { kind: 'name'; name: string; writes: string[] }
  | { kind: 'pinned'; name: string; digest: string; writes: string[] }
  | { kind: 'malformed'; text: string };

const NAME = /^[^\s.@]+\.[^\s@]+$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const TABLE = /^[^\s.@,]+\.[^\s.@,]+$/;
const WRITES = ' writes ';

export function parseReviewedEntry(text: string): ReviewedEntry {
  const w = text.indexOf(WRITES);
  const head = w < 0 ? text : text.slice(0, w);
  const writes = w < 0 ? [] : text.slice(w + WRITES.length).split(' ');
  // A malformed `writes` part makes the whole entry vouch for nothing (fail closed).
  if (w >= 0 && (writes.length === 0 || !writes.every((t) => TABLE.test(t)))) return { kind: 'malformed', text };
  const at = head.indexOf('@');
  const name = at < 0 ? head : head.slice(0, at);
  if (!NAME.test(name) || name.endsWith('.')) return { kind: 'malformed', text };
  if (at < 0) return { kind: 'name', name, writes };
  const digest = head.slice(at + 1);
  return DIGEST.test(digest) ? { kind: 'pinned', name, digest, writes } : { kind: 'malformed', text };
}

/** The tables the reviews of function `f` say its body writes (R20b-3); empty when none says. */
export function declaredWrites(f: string, reviewed: readonly string[]): string[] {
  const out = new Set<string>();
  for (const text of reviewed) {
    const e = parseReviewedEntry(text);
    if (e.kind !== 'malformed' && e.name === f) for (const t of e.writes) out.add(t);
  }
  return [...out];
}

/** The function an entry names, or null for a malformed one. */
export function reviewedName(text: string): string | null {
  const e = parseReviewedEntry(text);
  return e.kind === 'malformed' ? null : e.name;
}

/**
 * How `reviewed` vouches for function `f`, given the definitions the statement's triggers run
 * (`digests`: each trigger of f's function_digest, undefined where unknown):
 * `name` (listed by name), `pinned` (listed with the digest every trigger of f runs), `changed` (listed
 * only with other digests, or a trigger's is unknown, or f runs in no trigger: a WHEN condition's), or
 * `unlisted`.
 */
export function reviewOf(f: string, reviewed: readonly string[], digests: readonly (string | undefined)[]): 'name' | 'pinned' | 'changed' | 'unlisted' {
  let pins = 0;
  const pinned = new Set<string>();
  for (const text of reviewed) {
    const e = parseReviewedEntry(text);
    if (e.kind === 'malformed' || e.name !== f) continue;
    if (e.kind === 'name') return 'name';
    pins++;
    pinned.add(e.digest);
  }
  if (pins === 0) return 'unlisted';
  return digests.length > 0 && digests.every((d) => d !== undefined && pinned.has(d)) ? 'pinned' : 'changed';
}
