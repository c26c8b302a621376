// The reason an agent gives for a statement that may need approval, without changing its code: a
// SQL comment in the statement, `/* reason: ... */` or `-- reason: ...`. Only real comments count:
// "reason:" inside a string literal, a quoted name or a dollar quote is data, not the agent's word.

import { sqlComments } from '../sql/lexical.ts';

const REASON = /^\s*reason\s*:\s*([\s\S]*?)\s*$/i;

/** The first reason comment's text (trimmed, at most 500 characters); null when there is none. */
export function requesterReason(sql: string): string | null {
  for (const comment of sqlComments(sql)) {
    const text = REASON.exec(comment)?.[1]?.trim() ?? '';
    if (text !== '') return text.slice(0, 500);
  }
  return null;
}
