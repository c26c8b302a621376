// The reason an agent gives for a statement that may need approval, without changing its code: a
// SQL comment in the statement, `/* reason: ... */` or `-- reason: ...`.

const BLOCK = /\/\*\s*reason\s*:\s*([\s\S]*?)\s*\*\//i;
const LINE = /--\s*reason\s*:\s*(.*)$/im;

/** The first reason comment's text (trimmed, at most 500 characters); null when there is none. */
export function requesterReason(sql: string): string | null {
  const m = BLOCK.exec(sql) ?? LINE.exec(sql);
  const text = m?.[1]?.trim() ?? '';
  return text === '' ? null : text.slice(0, 500);
}
