// The content detectors' patterns and the checks a match must also pass (Luhn, SSN ranges, dates):
// one regular expression per detector, written so that the cost of trying it at one position is
// bounded by a constant (bounded quantifiers, no nested ambiguous repetition, a one-character
// lookbehind where a match may start), which keeps a whole scan linear in the value's length.

import type { DetectorName } from '../policy/types.ts';

/** The detectors a policy may name (policy/types.ts), tried at one position in that order, most specific first. */
export { DETECTOR_NAMES, type DetectorName } from '../policy/types.ts';

/** What a detected identifier is replaced with. */
export const DETECTOR_LABELS: Record<DetectorName, string> = {
  dob: '[DOB]',
  mrn: '[MRN]',
  email: '[EMAIL]',
  ip: '[IP]',
  ssn: '[SSN]',
  card: '[CARD]',
  phone: '[PHONE]',
};

/**
 * The default medical record number pattern: an "MRN" cue and the number after it ("MRN-100042",
 * "MRN: 4711234", "mrn #AB123456"). Each site writes its own (the `mrn` option of compileDetectors).
 */
export const DEFAULT_MRN_PATTERN = String.raw`\bMRN[-:#\s]{0,3}[A-Z]{0,2}\d{5,10}\b`;

const MONTH = String.raw`(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)`;

/**
 * Date of birth: a date right after a cue ("DOB", "D.O.B.", "date of birth", "birth date",
 * "birthdate", "birthday", "born", "born on"), with at most a few separators between them. The cue is matched
 * first (a lookbehind would be tried at every position) and kept: only the date, the group
 * `dob_v`, is replaced. Dates without a cue (visit dates, lab dates) are left alone.
 */
const DOB = String.raw`\b(?:DOB|D\.O\.B\.?|date\sof\sbirth|birth\s?(?:date|day)|born(?:\son)?)[\s:,=-]{0,3}(?:is\s|was\s|of\s)?(?<dob_v>\d{1,2}[/.-]\d{1,2}[/.-](?:\d{4}|\d{2})|\d{4}-\d{1,2}-\d{1,2}|${MONTH}\.?\s\d{1,2}(?:st|nd|rd|th)?,?\s\d{4}|\d{1,2}\s${MONTH}\.?,?\s\d{4})(?![\w/-])`;

/**
 * An address: a local part (any characters but spaces and the delimiters around addresses, so
 * non-ASCII names are covered whole), "@", dot-separated labels, a letters-only top-level domain.
 */
const EMAIL = String.raw`(?<![^\s<>()[\],;:"'=/])[^\s@<>()[\],;:"'=/]{1,64}@[A-Z0-9-]{1,63}(?:\.[A-Z0-9-]{1,63}){0,7}\.[A-Z]{2,24}(?![\w-])`;

const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const HEX = '[0-9A-F]{1,4}';

/**
 * IPv4 dotted quads (not preceded by a letter, digit or dot, so "v1.2.3.4" and "1.2.3.4.5" are not
 * addresses) and IPv6 in full or "::"-compressed form (so times such as "12:30:45" are not); a
 * lookahead for the first ":" keeps the IPv6 forms from being tried at every word.
 */
const IP = String.raw`(?<![\w.:])(?:(?=\d)${OCTET}(?:\.${OCTET}){3}(?![\w]|\.\d)|(?=[0-9A-F]{0,4}:)(?:(?:${HEX}:){7}${HEX}(?![\w:])|(?:${HEX}:){1,7}(?::${HEX}){1,6}(?![\w:])|(?:${HEX}:){1,7}:(?![\w:])|::(?:${HEX}:){0,6}${HEX}(?![\w:])))`;

/**
 * The characters that separate the groups of an SSN or a phone number as a dash: the ASCII hyphen,
 * and the Unicode hyphens, dashes and minus signs a word processor or a paste puts in its place
 * (U+2010-U+2015, U+2212, U+FE63, U+FF0D; red-team round 5: "219–09–9999" passed).
 */
const DASH_CHARS = String.raw`\-\u2010-\u2015\u2212\uFE63\uFF0D`;
const DASH = `[${DASH_CHARS}]`;

/**
 * SSN written with dashes or spaces (123-45-6789), or nine digits right after an "SSN" cue, also
 * with "is", "was", "no." or "number" between them (the cue kept, only the digits, the group
 * `ssn_v`, replaced).
 */
const SSN = String.raw`(?<![\w${DASH_CHARS}])(?:\d{3}${DASH}\d{2}${DASH}\d{4}|\d{3}\s\d{2}\s\d{4})(?![\w${DASH_CHARS}]|\.\d)|\b(?:SSN|SS#|social\ssecurity(?:\s(?:number|no\.?))?)[\s:#-]{0,3}(?:(?:is|was|no\.?|number)[\s:#]{1,2})?(?<ssn_v>\d{9})(?!\w)`;

/** 13 to 19 digits, optionally in groups separated by single spaces or dashes. */
const CARD = String.raw`(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w]|-\d)`;

/**
 * NANP: (NXX) NXX-XXXX, NXX-NXX-XXXX, NXX.NXX.XXXX, NXX NXX XXXX, optionally +1 / 1 before it (any
 * dash of DASH for "-"); E.164 without separators (+1NXXNXXXXXX); ten bare digits right after a
 * phone cue ("tel", "phone", "cell", "call", ...: the cue kept, the digits, `phone_v`, replaced).
 * Ten bare digits without a cue are not a phone number to it (order and claim numbers).
 */
const PHONE_CUE = String.raw`\b(?:phone|telephone|tel|ph|cell|mobile|call|callback|fax|pager)\.?[\s:#=-]{0,3}(?:\+?1[\s.-]?)?(?<phone_v>[2-9]\d{2}[2-9]\d{6})(?!\w)`;
const PHONE = String.raw`(?<![\w+(${DASH_CHARS}])(?:\+?1[.\s${DASH_CHARS}]?)?(?:\([2-9]\d{2}\)\s?[2-9]\d{2}[.\s${DASH_CHARS}]\d{4}|[2-9]\d{2}${DASH}[2-9]\d{2}${DASH}\d{4}|[2-9]\d{2}\.[2-9]\d{2}\.\d{4}|[2-9]\d{2}\s[2-9]\d{2}\s\d{4})(?![\w${DASH_CHARS}]|\.\d)|(?<![\w+])\+1[2-9]\d{2}[2-9]\d{6}(?!\w)|${PHONE_CUE}`;

/**
 * The pattern of each detector (the MRN one is configurable). A pattern that matches a cue before
 * the identifier names the identifier's part `<detector>_v`: only that part is replaced. That group
 * must end the match (only lookaheads after it): content-detectors.ts takes its span from the end.
 */
export function detectorPattern(name: DetectorName, mrnPattern: string): string {
  switch (name) {
    case 'dob':
      return DOB;
    case 'mrn':
      return mrnPattern;
    case 'email':
      return EMAIL;
    case 'ip':
      return IP;
    case 'ssn':
      return SSN;
    case 'card':
      return CARD;
    case 'phone':
      return PHONE;
    default: {
      const never: never = name;
      throw new Error(`unknown detector ${String(never)}`);
    }
  }
}

const BIRTH_CUE = /dob|d\.o\.b|birth|born/i;
const DIGIT = /\d/;

/**
 * Whether the detector could match anywhere in the text, by a cheap test of a character or word
 * every match contains: a scan leaves out the detectors that cannot, which keeps it fast on text
 * without an "@" or a birth cue. Never false for a text the detector would match in.
 */
export function mayOccur(name: DetectorName, text: string): boolean {
  switch (name) {
    case 'dob':
      return BIRTH_CUE.test(text);
    case 'email':
      return text.includes('@');
    case 'ip':
      return text.includes('.') || text.includes(':');
    case 'ssn':
    case 'card':
    case 'phone':
      return DIGIT.test(text);
    case 'mrn':
      return true;
    default: {
      const never: never = name;
      throw new Error(`unknown detector ${String(never)}`);
    }
  }
}

/** Whether a match of the detector's pattern is really one (checks a pattern cannot express). */
export function confirm(name: DetectorName, match: string): boolean {
  switch (name) {
    case 'ssn':
      return validSsn(match.replace(/\D/g, ''));
    case 'card':
      return validCard(match.replace(/\D/g, ''));
    case 'dob':
      return plausibleDate(match);
    case 'ip':
      return validIp(match);
    case 'phone':
      return validNanp(match.replace(/\D/g, '').replace(/^1(?=\d{10}$)/, ''));
    case 'mrn':
    case 'email':
      return true;
    default: {
      const never: never = name;
      throw new Error(`unknown detector ${String(never)}`);
    }
  }
}

/** SSA rules: area not 000, 666 or 9xx; group not 00; serial not 0000. */
export function validSsn(digits: string): boolean {
  if (digits.length !== 9) return false;
  const area = digits.slice(0, 3);
  return area !== '000' && area !== '666' && area[0] !== '9' && digits.slice(3, 5) !== '00' && digits.slice(5) !== '0000';
}

/** A card number: a known issuer prefix for its length, and the Luhn check digit. */
export function validCard(digits: string): boolean {
  return knownIssuer(digits) && luhn(digits);
}

export function luhn(digits: string): boolean {
  let sum = 0;
  for (let i = digits.length - 1, double = false; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Visa, Mastercard, American Express, Discover, JCB, Diners Club, UnionPay, by prefix and length. */
function knownIssuer(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  if (d[0] === '4') return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // American Express
  if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649) || (p6 >= 622126 && p6 <= 622925)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners Club
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  return false;
}

/** NANP: area code and exchange start with 2-9, and the exchange is not N11 (service codes). */
function validNanp(digits: string): boolean {
  if (digits.length !== 10) return false;
  return !(digits[4] === '1' && digits[5] === '1');
}

/** A date whose numeric month and day could be real (either order for d/m/y), or any written-month date. */
function plausibleDate(text: string): boolean {
  const numeric = /^(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})$/.exec(text);
  if (numeric === null) return true;
  const [a, b, c] = [Number(numeric[1]), Number(numeric[2]), Number(numeric[3])];
  const ok = (month: number, day: number): boolean => month >= 1 && month <= 12 && day >= 1 && day <= 31;
  if (numeric[1]!.length === 4) return ok(b, c);
  return ok(a, b) || ok(b, a);
}

/** IPv6 forms: at most eight groups and at most one "::". IPv4 is fully checked by its pattern. */
function validIp(text: string): boolean {
  if (!text.includes(':')) return true;
  const compressed = text.split('::').length - 1;
  if (compressed > 1) return false;
  const groups = text.split(':').filter((g) => g !== '').length;
  return compressed === 1 ? groups <= 7 : groups === 8;
}
