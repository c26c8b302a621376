// Content detection at the source: the detectors' patterns (detector-patterns.ts) turned into
// PostgreSQL regular expressions, and the SQL expression that stands for a scanned column in the
// derived table of its relation (enforce/mask-rewrite.ts). PostgreSQL then only ever sees the column
// with its identifiers already replaced by labels, so no expression of the client's (reverse(),
// translate(), encode(), one character per row, a predicate) can reshape an identifier past the
// detectors on the way out (red-team round 5, R5-3); those still scan the output, as defence in depth.
//
// A source pattern matches at least what its detector matches: the checks a pattern cannot express
// (Luhn, SSN ranges, NANP exchanges, real dates) are not made, so a candidate that fails them is
// replaced too (over-redaction, never under). `\w`, `\d` and `\s` are spelled out as the ASCII and
// Unicode sets JavaScript gives them, since PostgreSQL's depend on the database's locale.

import { DEFAULT_MRN_PATTERN, DETECTOR_LABELS, detectorPattern, type DetectorName } from './detector-patterns.ts';

/** JavaScript's `\s`: ASCII whitespace and the Unicode space separators, as a bracket's members. */
const SPACE_MEMBERS = String.raw` \t\n\v\f\r\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff`;
const WORD_MEMBERS = 'A-Za-z0-9_';
const DIGIT_MEMBERS = '0-9';

/**
 * The order the source applies detectors in, one regexp_replace each: a phone before a card, so that
 * two phone numbers in a row are not taken for one card number that leaves the second one's digits.
 */
export const SOURCE_ORDER: readonly DetectorName[] = ['dob', 'mrn', 'email', 'ip', 'ssn', 'phone', 'card'];

/**
 * A card number at the source: the card pattern (detector-patterns.ts: 13 to 19 digits, single
 * spaces or dashes between them) starting with the first two digits of a known issuer, which the
 * Luhn check cannot be written as a pattern, but the issuer's prefix can, so claim and order numbers
 * of 13 digits or more are not taken for cards. It must match whatever `card` confirms
 * (test/detection-at-source.test.ts checks it against the detector).
 */
const SOURCE_CARD = String.raw`(?<![\w-])(?:4[ -]?\d|5[ -]?[1-5]|2[ -]?[2-7]|3[ -]?[04-9]|6[ -]?[0245])(?:[ -]?\d){11,17}(?![\w]|-\d)`;

/** A pattern Gatehouse cannot express for PostgreSQL (a configuration error: fail closed). */
export class SourcePatternError extends Error {
  override readonly name = 'SourcePatternError';
}

/**
 * Translates a detector's JavaScript source (the subset detector-patterns.ts uses) to a PostgreSQL
 * ARE: `\b` → `\y`; `\w`, `\d`, `\s` → explicit sets; named groups → non-capturing. Throws on
 * anything else it does not know.
 */
export function postgresPattern(source: string): string {
  let out = '';
  let inBracket = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const e = source[++i];
      if (e === undefined) throw new SourcePatternError('a pattern ends with "\\"');
      switch (e) {
        case 'b':
          if (inBracket) throw new SourcePatternError('\\b inside a bracket expression');
          out += '\\y';
          break;
        case 'd':
          out += inBracket ? DIGIT_MEMBERS : `[${DIGIT_MEMBERS}]`;
          break;
        case 'w':
          out += inBracket ? WORD_MEMBERS : `[${WORD_MEMBERS}]`;
          break;
        case 's':
          out += inBracket ? SPACE_MEMBERS : `[${SPACE_MEMBERS}]`;
          break;
        case 'u': {
          const hex = source.slice(i + 1, i + 5);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw new SourcePatternError(`\\u${hex} is not a four-digit escape`);
          out += `\\u${hex}`;
          i += 4;
          break;
        }
        default:
          if (/[A-Za-z0-9]/.test(e)) throw new SourcePatternError(`the escape \\${e} has no PostgreSQL equivalent here`);
          out += `\\${e}`;
      }
      continue;
    }
    if (inBracket) {
      if (c === ']') inBracket = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inBracket = true;
      out += c;
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') throw new SourcePatternError('a bracket expression starting with "]"');
      continue;
    }
    if (c === '(' && source[i + 1] !== '?') {
      out += '(?:';
      continue;
    }
    if (c === '(' && source.startsWith('(?<', i) && source[i + 3] !== '=' && source[i + 3] !== '!') {
      const close = source.indexOf('>', i);
      if (close < 0) throw new SourcePatternError('an unterminated group name');
      out += '(?:';
      i = close;
      continue;
    }
    out += c;
  }
  if (inBracket) throw new SourcePatternError('an unterminated bracket expression');
  return out;
}

/** Splits a source at its top-level `|` (outside groups and brackets). */
function alternatives(source: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inBracket = false;
  let start = 0;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (inBracket) {
      if (c === ']') inBracket = false;
      continue;
    }
    if (c === '[') inBracket = true;
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      parts.push(source.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(source.slice(start));
  return parts;
}

/** One regexp_replace: a PostgreSQL pattern and its replacement (`\1` keeps a cue before the value). */
export interface SourceReplacement {
  pattern: string;
  replacement: string;
}

/**
 * The detector as one PostgreSQL replacement. An alternative with a cue kept before the identifier
 * (the `<name>_v` group, which ends it) captures the cue as group 1 and puts it back; in the others
 * group 1 does not take part, and PostgreSQL substitutes nothing for it.
 */
export function sourceReplacement(name: DetectorName, mrnPattern: string = DEFAULT_MRN_PATTERN): SourceReplacement {
  const label = DETECTOR_LABELS[name];
  const marker = `(?<${name}_v>`;
  let cues = 0;
  const source = name === 'card' ? SOURCE_CARD : detectorPattern(name, mrnPattern);
  const parts = alternatives(source).map((alt) => {
    const at = alt.indexOf(marker);
    if (at < 0) return postgresPattern(alt);
    cues++;
    return `(${postgresPattern(alt.slice(0, at))})${postgresPattern(`(?:${alt.slice(at + marker.length)}`)}`;
  });
  if (cues > 1) throw new SourcePatternError(`detector ${name} has more than one alternative with a kept cue`);
  return { pattern: parts.join('|'), replacement: cues > 0 ? `\\1${label}` : label };
}

function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** Replacements by detector, built once (the patterns are constants). */
const REPLACEMENTS = new Map<DetectorName, SourceReplacement>();

function replacementFor(name: DetectorName): SourceReplacement {
  let r = REPLACEMENTS.get(name);
  if (r === undefined) REPLACEMENTS.set(name, (r = sourceReplacement(name)));
  return r;
}

/**
 * The SQL expression giving `textExpr` (an expression of type text) with the identifiers of the
 * named detectors replaced by their labels. Schema-qualified, so no search_path can substitute it.
 */
export function redactedText(textExpr: string, detectors: readonly DetectorName[]): string {
  let expr = textExpr;
  for (const name of SOURCE_ORDER) {
    if (!detectors.includes(name)) continue;
    const { pattern, replacement } = replacementFor(name);
    expr = `pg_catalog.regexp_replace(${expr}, ${quoteLiteral(pattern)}, ${quoteLiteral(replacement)}, 'gi')`;
  }
  return expr;
}

/**
 * Types whose text form holds no identifier any detector finds (booleans, 2- and 4-byte integers,
 * OIDs, dates and times): left as they are. Every other type is scanned in its text form.
 */
const NO_IDENTIFIER_TYPES = new Set([16, 21, 23, 26, 28, 1082, 1083, 1114, 1184, 1186, 1266]);
const JSON_TYPES = new Set([114, 3802]);

/** What the derived table needs to know of a scanned column (relation-catalog.ts ColumnInfo). */
export interface ScannedColumnInfo {
  name: string;
  type: string;
  category: string;
  typeOid: number;
}

/**
 * The expression for a column under content detection, as `ref` (the column in the derived table):
 * a string type becomes its text with identifiers replaced, cast back to its type; json and jsonb
 * the same (a label is valid inside a JSON string); any other type, whose text form a replacement
 * would not fit, is NULL when its text holds an identifier. Types that hold none are left as they are.
 */
export function scannedExpression(column: ScannedColumnInfo, ref: string, detectors: readonly DetectorName[]): string {
  if (detectors.length === 0 || NO_IDENTIFIER_TYPES.has(column.typeOid)) return ref;
  const asText = `CAST(${ref} AS pg_catalog.text)`;
  const redacted = redactedText(asText, detectors);
  if (column.category === 'S' || JSON_TYPES.has(column.typeOid)) return `CAST(${redacted} AS ${column.type})`;
  return `CASE WHEN ${redacted} OPERATOR(pg_catalog.=) ${asText} THEN ${ref} END`;
}
