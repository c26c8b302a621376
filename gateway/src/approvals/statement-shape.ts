// What a grant covers besides libpg-query's fingerprint: the statement's normalized text (literals
// replaced by $1, $2, ...) without its comments and with its spacing collapsed. The fingerprint alone
// ignores how many values an IN list or an ARRAY holds and whether a value is one constant or an
// array literal, so `WHERE id = 1` and `WHERE id IN (1, 2, 3)` share it; their normalized texts differ.

/** The shape of a normalized statement text; comments and runs of blanks do not count. */
export function statementShape(normalized: string): string {
  let out = '';
  let blank = false;
  const n = normalized.length;
  let i = 0;
  const put = (text: string): void => {
    if (blank && out !== '') out += ' ';
    blank = false;
    out += text;
  };
  while (i < n) {
    const c = normalized[i]!;
    const next = normalized[i + 1];
    if (c === '-' && next === '-') {
      i = lineCommentEnd(normalized, i + 2);
      blank = true;
    } else if (c === '/' && next === '*') {
      i = blockCommentEnd(normalized, i + 2);
      blank = true;
    } else if (/\s/.test(c)) {
      blank = true;
      i++;
    } else if (c === '"' || c === "'") {
      // A quoted name (or a literal normalize left in place): kept as written, comments inside it included.
      const end = quotedEnd(normalized, i + 1, c);
      put(normalized.slice(i, end));
      i = end;
    } else {
      put(c);
      i++;
    }
  }
  return out.replace(/[\s;]+$/, '');
}

/** PostgreSQL ends a `--` comment at a newline or a carriage return. */
function lineCommentEnd(s: string, i: number): number {
  while (i < s.length && s[i] !== '\n' && s[i] !== '\r') i++;
  return i;
}

/** Block comments nest in PostgreSQL. */
function blockCommentEnd(s: string, i: number): number {
  let depth = 1;
  while (i < s.length && depth > 0) {
    if (s[i] === '/' && s[i + 1] === '*') {
      depth++;
      i += 2;
    } else if (s[i] === '*' && s[i + 1] === '/') {
      depth--;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

function quotedEnd(s: string, i: number, quote: string): number {
  while (i < s.length) {
    if (s[i] === quote) {
      if (s[i + 1] !== quote) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}
