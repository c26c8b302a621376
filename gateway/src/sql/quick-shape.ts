// A shape for the commonest literal-bearing statements without asking the parser: a short scan that
// replaces the number and string literals compared with `=`, `<>`, `!=`, `<`, `>`, `<=` or `>=` by $n.
// libpg-query's normalize runs PostgreSQL's raw parser (tens of µs); this scan takes well under one.
//
// Safety rests on one property: every token replaced is a constant (A_Const) for PostgreSQL too, so two
// texts with the same quick shape differ only where normalize would put a $n as well, and sharing their
// facts (sql/shape-cache.ts, with sql/literal-facts.ts's checks) is as safe as sharing by normalize's
// shape. To keep it so, the scan gives up (null: the caller normalizes) on anything it does not read
// fully: outside string literals, any character but printable ASCII and layout, quoted names,
// comments and `$`; a backslash in a string; `;` before the end; a quote right after a name character
// (E'', U&'', B'', X'', N''); a literal followed by another quote (string continuation), by a name
// character, `.` or another digit form; and texts that do not start with a query keyword. The shape
// is in a key space of its own (it starts with NUL, which no query text holds), so it never meets a
// normalized text.

const QUERY_START = /^\s*(?:select|insert|update|delete|with|values|table)\b/i;

/** The operators whose right operand, when a literal, is replaced. */
const COMPARISONS: ReadonlySet<string> = new Set(['=', '<>', '!=', '<', '>', '<=', '>=']);

/** PostgreSQL's operator characters (scan.l `self` and `op_chars`, without those that start comments). */
function isOperatorChar(c: number): boolean {
  // + - * / < > = ~ ! @ # % ^ & | ` ?
  return (
    c === 0x2b || c === 0x2d || c === 0x2a || c === 0x2f || c === 0x3c || c === 0x3e || c === 0x3d || c === 0x7e || c === 0x21 ||
    c === 0x40 || c === 0x23 || c === 0x25 || c === 0x5e || c === 0x26 || c === 0x7c || c === 0x60 || c === 0x3f
  );
}

function isNameChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || c === 0x5f;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** Texts longer than this are normalized (the scan is for short, frequent statements). */
export const QUICK_SHAPE_MAX_LENGTH = 4096;

/**
 * The quick shape of `text`, or null when the scan gives up (see the module comment). `spans`, when
 * given: the start and end of each literal replaced, in order, are pushed onto it (meaningful only
 * when a shape is returned).
 */
export function quickShape(text: string, spans?: number[]): string | null {
  const n = text.length;
  if (n > QUICK_SHAPE_MAX_LENGTH || !QUERY_START.test(text)) return null;
  let out = '\u0000';
  let copiedTo = 0;
  let params = 0;
  /** The last operator token, when nothing but spaces followed it. */
  let operator: string | null = null;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x24 || c === 0x5c) return null; // non-ASCII, control, ", $, backslash
    const afterComparison = operator !== null && COMPARISONS.has(operator);
    operator = null;
    if (c === 0x27) {
      // A string literal: '' is a quote inside it.
      if (i > 0 && isNameChar(text.charCodeAt(i - 1))) return null; // E'', U&'', B'', X'', N'' or a typed literal glued to a name
      let end = i + 1;
      for (;;) {
        const q = text.indexOf("'", end);
        if (q < 0) return null;
        if (text.charCodeAt(q + 1) === 0x27) {
          end = q + 2;
          continue;
        }
        end = q + 1;
        break;
      }
      const literal = text.slice(i + 1, end - 1);
      if (literal.includes('\\')) return null;
      // Adjacent strings separated by a newline are one literal in PostgreSQL: not read here.
      let next = end;
      while (next < n && isSpace(text.charCodeAt(next))) next++;
      if (text.charCodeAt(next) === 0x27) return null;
      if (afterComparison) {
        out += text.slice(copiedTo, i) + `$${++params}`;
        copiedTo = end;
        spans?.push(i, end);
      }
      i = end;
      continue;
    }
    if (isDigit(c) || (c === 0x2e && isDigit(text.charCodeAt(i + 1)))) {
      if (i > 0 && (isNameChar(text.charCodeAt(i - 1)) || text.charCodeAt(i - 1) === 0x2e)) return null;
      // Digits, at most one '.', then digits: an integer or a plain decimal.
      let end = i;
      while (end < n && isDigit(text.charCodeAt(end))) end++;
      if (text.charCodeAt(end) === 0x2e) {
        end++;
        while (end < n && isDigit(text.charCodeAt(end))) end++;
      }
      const after = text.charCodeAt(end);
      // 1e5, 0x1F, 1_000, 1.2.3, 5abc: other lexer forms, not read here.
      if (end < n && (isNameChar(after) || after === 0x2e)) return null;
      if (afterComparison) {
        out += text.slice(copiedTo, i) + `$${++params}`;
        copiedTo = end;
        spans?.push(i, end);
      }
      i = end;
      continue;
    }
    if (isNameChar(c)) {
      while (i < n && isNameChar(text.charCodeAt(i))) i++;
      continue;
    }
    if (isOperatorChar(c)) {
      let end = i;
      while (end < n && isOperatorChar(text.charCodeAt(end))) end++;
      const op = text.slice(i, end);
      if (op.includes('--') || op.includes('/*')) return null; // comments
      operator = op;
      i = end;
      continue;
    }
    if (c === 0x3b) {
      // A `;` ends the text: only spaces and further semicolons may follow it.
      for (let j = i + 1; j < n; j++) {
        const d = text.charCodeAt(j);
        if (!isSpace(d) && d !== 0x3b) return null;
      }
      break;
    }
    // ( ) [ ] , . : and the like: punctuation that ends an operator's reach.
    i++;
  }
  return params === 0 ? null : out + text.slice(copiedTo);
}
