// Counts the statements of a query string without parsing it, for the per-Query limit
// (pg/statement-limits.ts): libpg-query's parser and scanner take about a second on half a
// megabyte of statements, so the limit must be checked before them. This is an upper bound, not a
// parser: it counts the semicolons outside string literals, quoted identifiers, dollar quotes and
// comments, so a CREATE FUNCTION ... BEGIN ATOMIC body counts each of its inner statements.

/** Number of `;`-separated pieces with something other than blanks in them (an upper bound on statements). */
export function countStatements(sql: string): number {
  let count = 0;
  let content = false; // the current piece has a token
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x3b /* ; */) {
      if (content) count++;
      content = false;
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c) {
      i++;
      continue;
    }
    content = true;
    if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const end = sql.indexOf('\n', i + 2);
      i = end === -1 ? n : end + 1;
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a) {
      i = skipBlockComment(sql, i + 2);
    } else if (c === 0x27 /* ' */) {
      const escapes = i > 0 && (sql.charCodeAt(i - 1) | 0x20) === 0x65 /* e or E */ && !isIdentChar(sql.charCodeAt(i - 2));
      i = skipQuoted(sql, i + 1, 0x27, escapes);
    } else if (c === 0x22 /* " */) {
      i = skipQuoted(sql, i + 1, 0x22, false);
    } else if (c === 0x24 /* $ */ && !isIdentChar(sql.charCodeAt(i - 1))) {
      i = skipDollarQuoted(sql, i);
    } else {
      i++;
    }
  }
  return content ? count + 1 : count;
}

function isIdentChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f || c === 0x24 || c >= 0x80;
}

/** Past a /* comment *\/ (they nest in PostgreSQL). */
function skipBlockComment(sql: string, i: number): number {
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
function skipQuoted(sql: string, i: number, quote: number, backslashEscapes: boolean): number {
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
function skipDollarQuoted(sql: string, i: number): number {
  const m = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 256));
  if (!m) return i + 1;
  const end = sql.indexOf(m[0], i + m[0].length);
  return end === -1 ? sql.length : end + m[0].length;
}
