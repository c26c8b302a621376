// Keyset paging of approval lists (requests and grants): newest first by (created time, id), a page
// strictly older than a cursor, and the cursor as an opaque URL-safe string for the API, the page
// and the CLI. Offsets are not used: a list that grows at the top never repeats or skips an item.

/** Where a page starts: strictly before this (createdAt, id), in newest-first order. */
export interface PageCursor {
  /** ISO time as the stores keep it (Date.toISOString). */
  createdAt: string;
  /** A UUID, lower case. */
  id: string;
}

/** One page, and the cursor of the next one (null: this was the last). */
export interface Page<T> {
  items: T[];
  next: PageCursor | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Newest first: later createdAt first, then the larger id (the order PostgreSQL gives uuid). */
export function newestFirst(a: { createdAt: string; id: string }, b: { createdAt: string; id: string }): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

/** Whether `item` comes strictly after the cursor in newest-first order (is on a later page). */
export function isBefore(item: { createdAt: string; id: string }, cursor: PageCursor): boolean {
  return newestFirst(item, cursor) > 0;
}

/** The opaque form: base64url of the JSON array [createdAt, id]. */
export function encodeCursor(cursor: PageCursor): string {
  return Buffer.from(JSON.stringify([cursor.createdAt, cursor.id]), 'utf8').toString('base64url');
}

/** The cursor a string names, or why it names none (the API answers 400 with it). */
export function decodeCursor(text: string): { kind: 'cursor'; cursor: PageCursor } | { kind: 'malformed'; why: string } {
  const malformed = { kind: 'malformed', why: 'before is not a cursor this API returned: pass the "next" value of the previous page unchanged' } as const;
  if (!/^[A-Za-z0-9_-]{1,200}$/.test(text)) return malformed;
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return malformed;
  }
  if (!Array.isArray(doc) || doc.length !== 2 || typeof doc[0] !== 'string' || typeof doc[1] !== 'string') return malformed;
  const [createdAt, id] = doc as [string, string];
  if (!ISO_TIME.test(createdAt) || Number.isNaN(Date.parse(createdAt)) || new Date(createdAt).toISOString() !== createdAt) return malformed;
  if (!UUID.test(id.toLowerCase())) return malformed;
  return { kind: 'cursor', cursor: { createdAt, id: id.toLowerCase() } };
}

/** A page size from the query string: absent means the default; otherwise a whole number in 1..MAX_PAGE_SIZE. */
export function parsePageSize(text: string | null): { kind: 'size'; size: number } | { kind: 'malformed'; why: string } {
  if (text === null) return { kind: 'size', size: DEFAULT_PAGE_SIZE };
  const n = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE_SIZE)) return { kind: 'malformed', why: `limit must be a whole number from 1 to ${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})` };
  return { kind: 'size', size: n };
}

/**
 * A page from up to `size + 1` rows, newest first, as a store returned them for `limit: size + 1`:
 * the extra row only says that another page exists.
 */
export function pageOf<T extends { createdAt: string; id: string }>(rows: T[], size: number): Page<T> {
  if (rows.length <= size) return { items: rows, next: null };
  const items = rows.slice(0, size);
  const last = items[items.length - 1]!;
  return { items, next: { createdAt: last.createdAt, id: last.id } };
}
