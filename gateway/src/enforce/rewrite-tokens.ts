// The scanner's tokens of a statement text as the mask rewrite (mask-rewrite.ts) walks them: by byte
// offset, skipping comments, with dotted names and parentheses matched.

import type { ScanToken } from 'libpg-query';

const COMMENT_TOKENS = new Set(['C_COMMENT', 'SQL_COMMENT']);

/** Token navigation over the scanner's output, skipping comments. */
export class Tokens {
  constructor(readonly all: readonly ScanToken[]) {}

  indexAt(byte: number): number {
    let lo = 0;
    let hi = this.all.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const t = this.all[mid]!;
      if (t.start === byte) return mid;
      if (t.start < byte) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  next(i: number): number {
    for (let j = i + 1; j < this.all.length; j++) if (!COMMENT_TOKENS.has(this.all[j]!.tokenName)) return j;
    return -1;
  }

  prev(i: number): number {
    for (let j = i - 1; j >= 0; j--) if (!COMMENT_TOKENS.has(this.all[j]!.tokenName)) return j;
    return -1;
  }

  text(i: number): string {
    return i < 0 ? '' : this.all[i]!.text;
  }

  upper(i: number): string {
    return this.text(i).toUpperCase();
  }
}

/** The index of the last token of a dotted name starting at token `i` (`a`, `a.b`, `a . /*x*\/ b.c`). */
export function nameEnd(tokens: Tokens, i: number): number {
  let end = i;
  for (;;) {
    const dot = tokens.next(end);
    if (dot < 0 || tokens.text(dot) !== '.') return end;
    const part = tokens.next(dot);
    if (part < 0) return end;
    end = part;
  }
}

/** The token closing the parenthesis opened at `open`, or -1. */
export function closing(tokens: Tokens, open: number): number {
  let depth = 0;
  for (let j = open; j < tokens.all.length; j++) {
    const t = tokens.text(j);
    if (t === '(') depth++;
    else if (t === ')' && --depth === 0) return j;
  }
  return -1;
}
