// How PostgreSQL's lexer skips what is not code: comments, quoted literals and names, dollar quotes.
// Each helper takes the index just inside the construct and returns the index just past it. Used by
// the statement counter (statement-count.ts) and by whatever reads comments (the requester's reason).

/** Past a `--` comment: PostgreSQL's lexer ends it at a newline or a carriage return, whichever comes first. */
export function lineCommentEnd(sql: string, i: number): number {
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (c === 0x0a || c === 0x0d) return i + 1;
    i++;
  }
  return i;
}

export function isIdentChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80;
}

/** Past a /* comment *\/ (they nest in PostgreSQL). */
export function skipBlockComment(sql: string, i: number): number {
  let depth = 1;
  while (i < sql.length && depth > 0) {
    if (sql.charCodeAt(i) === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      depth++;
      i += 2;
    } else if (sql.charCodeAt(i) === 0x2a && sql.charCodeAt(i + 1) === 0x2f) {
      depth--;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

/** Past a quoted literal or identifier whose opening quote is before `i` (a doubled quote is one character). */
export function skipQuoted(sql: string, i: number, quote: number, backslashEscapes: boolean): number {
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === 0x5c) {
      i += 2;
    } else if (c === quote) {
      if (sql.charCodeAt(i + 1) !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

/** Past a $tag$ ... $tag$ string starting at `i`; a `$` that opens no such string is one character. */
export function skipDollarQuoted(sql: string, i: number): number {
  const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 256));
  if (!m) return i + 1;
  const end = sql.indexOf(m[0], i + m[0].length);
  return end === -1 ? sql.length : end + m[0].length;
}

/**
 * The comments of a SQL text (without their delimiters), in order; text in string literals, quoted
 * names and dollar quotes is not a comment.
 */
export function sqlComments(sql: string): string[] {
  const out: string[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      const end = lineCommentEnd(sql, i + 2);
      out.push(sql.slice(i + 2, end).replace(/[\r\n]$/, ''));
      i = end;
    } else if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      const end = skipBlockComment(sql, i + 2);
      out.push(sql.slice(i + 2, Math.max(i + 2, end - 2)));
      i = end;
    } else if (c === 0x27) {
      const escapes = i > 0 && (sql.charCodeAt(i - 1) | 0x20) === 0x65 && !isIdentChar(sql.charCodeAt(i - 2));
      i = skipQuoted(sql, i + 1, 0x27, escapes);
    } else if (c === 0x22) {
      i = skipQuoted(sql, i + 1, 0x22, false);
    } else if (c === 0x24 && !isIdentChar(sql.charCodeAt(i - 1))) {
      i = skipDollarQuoted(sql, i);
    } else {
      i++;
    }
  }
  return out;
}
