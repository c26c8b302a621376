// Counts the statements of a query string without parsing it, for the per-Query limit
// (pg/statement-limits.ts): libpg-query's parser and scanner take about a second on half a
// megabyte of statements, so the limit must be checked before them. This is an upper bound, not a
// parser: it counts the semicolons outside string literals, quoted identifiers, dollar quotes and
// comments, so a CREATE FUNCTION ... BEGIN ATOMIC body counts each of its inner statements.

import { isIdentChar, lineCommentEnd, skipBlockComment, skipDollarQuoted, skipQuoted } from './lexical.ts';

/**
 * Number of `;`-separated pieces with something other than blanks in them (an upper bound on
 * statements). With `stopAbove`, the scan stops as soon as the count is over it (and returns
 * `stopAbove + 1`): refusing a Query for its count needs no scan of the rest of it.
 */
export function countStatements(sql: string, stopAbove = Infinity): number {
  let count = 0;
  let content = false; // the current piece has a token
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x3b /* ; */) {
      if (content && ++count > stopAbove) return count;
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
      i = lineCommentEnd(sql, i + 2);
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
