// The session settings under which PostgreSQL reads SQL text exactly as Gatehouse does. Gatehouse
// parses every statement as UTF-8 with standard_conforming_strings on; PostgreSQL parses with the
// session's settings. Two of them change where a string literal ends:
//   - standard_conforming_strings off: a backslash in '...' escapes the next character, so 'a\'
//     does not end there;
//   - a client-only encoding (SJIS, BIG5, GBK, UHC, GB18030, JOHAB, SHIFT_JIS_2004): the second
//     byte of a multibyte character may be 0x5C (backslash) or another ASCII byte, which Gatehouse,
//     decoding UTF-8, takes for a character of its own.
// Pure functions: whether a value keeps the two readings identical, and the errors that say why not.

import { GatehouseError } from '../errors.ts';

/** The run-time parameters whose value changes how PostgreSQL tokenises SQL text. */
export const PARSER_SETTINGS = ['standard_conforming_strings', 'client_encoding'] as const;
export type ParserSetting = (typeof PARSER_SETTINGS)[number];

/** What to tell a client that was refused for one of these settings. */
export const PARSER_SETTINGS_HINT =
  "Gatehouse analyses SQL as UTF-8 with standard_conforming_strings on; use client_encoding UTF8 (or another encoding that is not SJIS, BIG5, GBK, UHC, GB18030 or JOHAB) and keep standard_conforming_strings on (write backslash escapes as E'...').";

/** A parser setting with a value that would make PostgreSQL read SQL differently from Gatehouse. */
export interface UnsafeSetting {
  setting: ParserSetting;
  /** The value as given, or null when Gatehouse cannot know it (an expression, a missing report). */
  value: string | null;
  /** Why that value is unsafe, as a sentence fragment for messages. */
  why: string;
}

/** PostgreSQL folds only ASCII letters when it compares parameter and encoding names. */
function asciiLower(s: string): string {
  // Most names are lower case already (each login checks every startup and reported parameter).
  return HAS_UPPER.test(s) ? s.replace(UPPER, (c) => String.fromCharCode(c.charCodeAt(0) + 32)) : s;
}
const HAS_UPPER = /[A-Z]/;
const UPPER = /[A-Z]/g;

/** The parser setting a parameter name refers to (names are case-insensitive), or null. */
export function parserSetting(name: string): ParserSetting | null {
  const lower = asciiLower(name);
  return (PARSER_SETTINGS as readonly string[]).includes(lower) ? (lower as ParserSetting) : null;
}

/**
 * A boolean the way PostgreSQL's parse_bool() reads it: any case, and any prefix of true, false,
 * yes, no; "on" and "of"/"off" need two letters; "1" and "0" exactly. Nothing is trimmed.
 * Null when PostgreSQL would reject the value.
 */
export function parsePostgresBool(value: string): boolean | null {
  const v = asciiLower(value);
  if (v === '') return null;
  switch (v[0]) {
    case 't':
      return 'true'.startsWith(v) ? true : null;
    case 'f':
      return 'false'.startsWith(v) ? false : null;
    case 'y':
      return 'yes'.startsWith(v) ? true : null;
    case 'n':
      return 'no'.startsWith(v) ? false : null;
    case 'o':
      if (v.length < 2) return null; // "o" alone is ambiguous
      if ('on'.startsWith(v)) return true;
      return 'off'.startsWith(v) ? false : null;
    case '1':
      return v.length === 1 ? true : null;
    case '0':
      return v.length === 1 ? false : null;
    default:
      return null;
  }
}

/**
 * PostgreSQL's encoding names and aliases (src/common/encnames.c, pg_encname_tbl), keyed as
 * clean_encoding_name() leaves them (letters and digits only, lower case), with the official name.
 */
const ENCODING_NAMES: ReadonlyMap<string, string> = new Map([
  ['abc', 'WIN1258'],
  ['alt', 'WIN866'],
  ['big5', 'BIG5'],
  ['euccn', 'EUC_CN'],
  ['eucjis2004', 'EUC_JIS_2004'],
  ['eucjp', 'EUC_JP'],
  ['euckr', 'EUC_KR'],
  ['euctw', 'EUC_TW'],
  ['gb18030', 'GB18030'],
  ['gbk', 'GBK'],
  ['iso88591', 'LATIN1'],
  ['iso885910', 'LATIN6'],
  ['iso885913', 'LATIN7'],
  ['iso885914', 'LATIN8'],
  ['iso885915', 'LATIN9'],
  ['iso885916', 'LATIN10'],
  ['iso88592', 'LATIN2'],
  ['iso88593', 'LATIN3'],
  ['iso88594', 'LATIN4'],
  ['iso88595', 'ISO_8859_5'],
  ['iso88596', 'ISO_8859_6'],
  ['iso88597', 'ISO_8859_7'],
  ['iso88598', 'ISO_8859_8'],
  ['iso88599', 'LATIN5'],
  ['johab', 'JOHAB'],
  ['koi8', 'KOI8R'],
  ['koi8r', 'KOI8R'],
  ['koi8u', 'KOI8U'],
  ['latin1', 'LATIN1'],
  ['latin10', 'LATIN10'],
  ['latin2', 'LATIN2'],
  ['latin3', 'LATIN3'],
  ['latin4', 'LATIN4'],
  ['latin5', 'LATIN5'],
  ['latin6', 'LATIN6'],
  ['latin7', 'LATIN7'],
  ['latin8', 'LATIN8'],
  ['latin9', 'LATIN9'],
  ['mskanji', 'SJIS'],
  ['muleinternal', 'MULE_INTERNAL'],
  ['shiftjis', 'SJIS'],
  ['shiftjis2004', 'SHIFT_JIS_2004'],
  ['sjis', 'SJIS'],
  ['sqlascii', 'SQL_ASCII'],
  ['tcvn', 'WIN1258'],
  ['tcvn5712', 'WIN1258'],
  ['uhc', 'UHC'],
  ['unicode', 'UTF8'],
  ['utf8', 'UTF8'],
  ['vscii', 'WIN1258'],
  ['win', 'WIN1251'],
  ['win1250', 'WIN1250'],
  ['win1251', 'WIN1251'],
  ['win1252', 'WIN1252'],
  ['win1253', 'WIN1253'],
  ['win1254', 'WIN1254'],
  ['win1255', 'WIN1255'],
  ['win1256', 'WIN1256'],
  ['win1257', 'WIN1257'],
  ['win1258', 'WIN1258'],
  ['win866', 'WIN866'],
  ['win874', 'WIN874'],
  ['win932', 'SJIS'],
  ['win936', 'GBK'],
  ['win949', 'UHC'],
  ['win950', 'BIG5'],
  ['windows1250', 'WIN1250'],
  ['windows1251', 'WIN1251'],
  ['windows1252', 'WIN1252'],
  ['windows1253', 'WIN1253'],
  ['windows1254', 'WIN1254'],
  ['windows1255', 'WIN1255'],
  ['windows1256', 'WIN1256'],
  ['windows1257', 'WIN1257'],
  ['windows1258', 'WIN1258'],
  ['windows866', 'WIN866'],
  ['windows874', 'WIN874'],
  ['windows932', 'SJIS'],
  ['windows936', 'GBK'],
  ['windows949', 'UHC'],
  ['windows950', 'BIG5'],
]);

/**
 * Encodings in which every byte of a multibyte character is >= 0x80, so an ASCII byte is always
 * the ASCII character: exactly PostgreSQL's server encodings (a server encoding must have this
 * property). Decoding their text as UTF-8 can turn non-ASCII characters into U+FFFD, but never
 * moves a quote, a backslash or a semicolon.
 */
const ASCII_SAFE_ENCODINGS: ReadonlySet<string> = new Set([
  'SQL_ASCII', 'UTF8', 'MULE_INTERNAL',
  'EUC_JP', 'EUC_CN', 'EUC_KR', 'EUC_TW', 'EUC_JIS_2004',
  'LATIN1', 'LATIN2', 'LATIN3', 'LATIN4', 'LATIN5', 'LATIN6', 'LATIN7', 'LATIN8', 'LATIN9', 'LATIN10',
  'ISO_8859_5', 'ISO_8859_6', 'ISO_8859_7', 'ISO_8859_8',
  'WIN866', 'WIN874', 'WIN1250', 'WIN1251', 'WIN1252', 'WIN1253', 'WIN1254', 'WIN1255', 'WIN1256', 'WIN1257', 'WIN1258',
  'KOI8R', 'KOI8U',
]);

/** NAMEDATALEN: PostgreSQL does not look up longer encoding names. */
const MAX_NAME_BYTES = 63;

/**
 * The official name of the encoding PostgreSQL would pick for `name` (pg_char_to_encoding: only
 * ASCII letters and digits count, case-insensitively), or null when it knows no such encoding.
 */
export function encodingName(name: string): string | null {
  if (name === '' || Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return null;
  return ENCODING_NAMES.get(asciiLower(name.replace(/[^A-Za-z0-9]/g, ''))) ?? null;
}

/** Whether `name` is an encoding whose multibyte characters never contain an ASCII byte. */
export function isAsciiSafeEncoding(name: string): boolean {
  const official = encodingName(name);
  return official !== null && ASCII_SAFE_ENCODINGS.has(official);
}

/**
 * Whether giving parameter `name` the value `value` keeps PostgreSQL's reading of SQL identical to
 * Gatehouse's: null when it does (or the parameter is not one of PARSER_SETTINGS), else why not.
 * A null value means "unknown" and is unsafe for a parser setting (fail closed).
 */
export function unsafeSetting(name: string, value: string | null): UnsafeSetting | null {
  const setting = parserSetting(name);
  if (setting === null) return null;
  if (value === null) return { setting, value, why: `Gatehouse cannot tell which value ${setting} would get` };
  switch (setting) {
    case 'standard_conforming_strings':
      return parsePostgresBool(value) === true
        ? null
        : { setting, value, why: "with standard_conforming_strings off PostgreSQL reads a backslash in '...' as an escape, and Gatehouse does not" };
    case 'client_encoding': {
      const official = encodingName(value);
      if (official === null) return { setting, value, why: `"${value}" is not an encoding Gatehouse knows to be safe` };
      if (ASCII_SAFE_ENCODINGS.has(official)) return null;
      return {
        setting,
        value,
        why: `${official} is a client-only encoding whose multibyte characters can contain ASCII bytes such as a backslash, so PostgreSQL and Gatehouse would disagree on where a string ends`,
      };
    }
    default: {
      const never: never = setting;
      throw new Error(`unknown parser setting ${String(never)}`);
    }
  }
}

/**
 * Checks the ParameterStatus values a server reported at the start of a session: both parser
 * settings must be reported (PostgreSQL always reports them) and safe.
 */
export function unsafeReportedSettings(parameters: ReadonlyMap<string, string>): UnsafeSetting | null {
  for (const setting of PARSER_SETTINGS) {
    const value = parameters.get(setting);
    if (value === undefined) return { setting, value: null, why: `the database did not report ${setting}` };
    const unsafe = unsafeSetting(setting, value);
    if (unsafe) return unsafe;
  }
  return null;
}

/**
 * Checks a client's startup parameters: any that names a parser setting (in any case; Gatehouse
 * passes client_encoding through and drops the others, but a client relying on one should learn
 * that it cannot have it) must have a safe value.
 */
export function unsafeStartupParameter(params: Readonly<Record<string, string>>): UnsafeSetting | null {
  // for-in, not Object.entries: the startup parameters are a null-prototype object (wire/startup.ts),
  // which V8 keeps as a dictionary, and Object.entries of one is a runtime call at every login.
  for (const name in params) {
    if (!Object.hasOwn(params, name)) continue;
    const unsafe = unsafeSetting(name, params[name]!);
    if (unsafe) return unsafe;
  }
  return null;
}

function shown(u: UnsafeSetting): string {
  return u.value === null ? u.setting : `${u.setting} = ${JSON.stringify(u.value)}`;
}

/** ERROR 22023 for a statement that would change a parser setting unsafely; `how` names the construct ("SET", "set_config()"). */
export function unsafeSettingStatementError(u: UnsafeSetting, how: string, decisionId?: string): GatehouseError {
  return new GatehouseError('UNSAFE_PARSER_SETTING', `Gatehouse does not allow ${shown(u)} (${how}): ${u.why}`, {
    ...(decisionId === undefined ? {} : { decisionId, detail: `decision ${decisionId}` }),
    hint: PARSER_SETTINGS_HINT,
  });
}

/** Where a session was found with an unsafe parser setting. */
export type UnsafeSessionPhase = 'client-startup' | 'upstream-startup' | 'session';

/** FATAL 22023: the connection is refused, or the session ended, because of an unsafe parser setting. */
export function unsafeSessionError(u: UnsafeSetting, phase: UnsafeSessionPhase): GatehouseError {
  switch (phase) {
    case 'client-startup':
      return new GatehouseError('UNSAFE_PARSER_SESSION', `Gatehouse refused the connection: startup parameter ${shown(u)} is not allowed: ${u.why}`, {
        hint: PARSER_SETTINGS_HINT,
      });
    case 'upstream-startup':
      return new GatehouseError('UNSAFE_PARSER_SESSION', `Gatehouse refused the connection: the database session it opened has ${shown(u)}: ${u.why}`, {
        detail: 'A role or database default (ALTER ROLE/DATABASE ... SET) or the upstream connection options set this.',
        hint: `Tell the Gatehouse operator. ${PARSER_SETTINGS_HINT}`,
      });
    case 'session':
      return new GatehouseError('UNSAFE_PARSER_SESSION', `Gatehouse ended the session: the database reported ${shown(u)}: ${u.why}`, {
        detail: 'A function or procedure changed the setting; no further statement of this session was analysed.',
        hint: PARSER_SETTINGS_HINT,
      });
    default: {
      const never: never = phase;
      throw new Error(`unknown phase ${String(never)}`);
    }
  }
}
