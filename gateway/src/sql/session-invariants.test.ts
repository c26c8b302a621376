import { describe, expect, it } from 'vitest';
import {
  encodingName,
  isAsciiSafeEncoding,
  parsePostgresBool,
  parserSetting,
  unsafeReportedSettings,
  unsafeSessionError,
  unsafeSetting,
  unsafeSettingStatementError,
  unsafeStartupParameter,
} from './session-invariants.ts';

describe('parsePostgresBool (PostgreSQL parse_bool)', () => {
  it.each([
    ['on', true], ['ON', true], ['true', true], ['t', true], ['Tr', true], ['tru', true], ['yes', true], ['y', true], ['YE', true], ['1', true],
    ['off', false], ['of', false], ['OFF', false], ['false', false], ['f', false], ['fal', false], ['no', false], ['n', false], ['0', false],
  ])('reads %j as %s', (value, expected) => {
    expect(parsePostgresBool(value)).toBe(expected);
  });

  it.each(['', 'o', 'onn', 'offf', 'truex', 'yess', '01', '10', '2', ' on', 'on ', '-1', '1.0', 'enable', 'ｏｎ'])('rejects %j', (value) => {
    expect(parsePostgresBool(value)).toBeNull();
  });
});

describe('encodingName (PostgreSQL pg_char_to_encoding)', () => {
  it.each([
    ['UTF8', 'UTF8'], ['utf-8', 'UTF8'], ['Unicode', 'UTF8'], ['u_t_f_8', 'UTF8'],
    ['LATIN1', 'LATIN1'], ['ISO-8859-1', 'LATIN1'], ['iso_8859_15', 'LATIN9'], ['ISO_8859_5', 'ISO_8859_5'],
    ['SQL_ASCII', 'SQL_ASCII'], ['euc-jp', 'EUC_JP'], ['EUC_JIS_2004', 'EUC_JIS_2004'], ['MULE_INTERNAL', 'MULE_INTERNAL'],
    ['koi8', 'KOI8R'], ['windows-1252', 'WIN1252'], ['win', 'WIN1251'], ['alt', 'WIN866'], ['TCVN5712', 'WIN1258'],
    ['Shift_JIS', 'SJIS'], ['sjis', 'SJIS'], ['MSKANJI', 'SJIS'], ['win932', 'SJIS'], ['Windows-932', 'SJIS'],
    ['SHIFT_JIS_2004', 'SHIFT_JIS_2004'], ['big5', 'BIG5'], ['win950', 'BIG5'], ['gbk', 'GBK'], ['CP936', null], ['windows936', 'GBK'],
    ['uhc', 'UHC'], ['win949', 'UHC'], ['GB18030', 'GB18030'], ['JOHAB', 'JOHAB'],
  ])('maps %j to %s', (name, official) => {
    expect(encodingName(name)).toBe(official);
  });

  it('knows nothing of unknown, empty, prototype or over-long names', () => {
    for (const name of ['', 'cp932', 'auto', 'utf16', 'constructor', 'toString', '__proto__', `utf8${'_'.repeat(60)}`]) {
      expect(encodingName(name), name).toBeNull();
    }
  });
});

describe('isAsciiSafeEncoding', () => {
  it('accepts the server encodings under any alias', () => {
    for (const name of ['UTF8', 'unicode', 'SQL_ASCII', 'LATIN1', 'latin10', 'ISO_8859_8', 'WIN874', 'win1258', 'KOI8U', 'EUC_TW', 'MULE_INTERNAL']) {
      expect(isAsciiSafeEncoding(name), name).toBe(true);
    }
  });

  it('refuses every client-only encoding and alias, and unknown names', () => {
    for (const name of ['SJIS', 'Shift_JIS', 'mskanji', 'win932', 'windows932', 'SHIFT_JIS_2004', 'BIG5', 'win950', 'windows950', 'GBK', 'win936', 'windows936', 'UHC', 'win949', 'windows949', 'GB18030', 'JOHAB', 'cp932', 'nonsense']) {
      expect(isAsciiSafeEncoding(name), name).toBe(false);
    }
  });
});

describe('unsafeSetting', () => {
  it('names the parser settings case-insensitively and ignores every other parameter', () => {
    expect(parserSetting('Client_Encoding')).toBe('client_encoding');
    expect(parserSetting('STANDARD_CONFORMING_STRINGS')).toBe('standard_conforming_strings');
    expect(parserSetting('search_path')).toBeNull();
    expect(unsafeSetting('search_path', 'anything')).toBeNull();
    expect(unsafeSetting('escape_string_warning', 'off')).toBeNull();
  });

  it('allows only a true standard_conforming_strings and an ASCII-safe client_encoding', () => {
    expect(unsafeSetting('standard_conforming_strings', 'on')).toBeNull();
    expect(unsafeSetting('standard_conforming_strings', 'yes')).toBeNull();
    expect(unsafeSetting('standard_conforming_strings', 'off')?.setting).toBe('standard_conforming_strings');
    expect(unsafeSetting('standard_conforming_strings', 'maybe')).not.toBeNull();
    expect(unsafeSetting('client_encoding', 'LATIN1')).toBeNull();
    expect(unsafeSetting('CLIENT_ENCODING', 'gbk')?.why).toContain('GBK');
    expect(unsafeSetting('client_encoding', 'klingon')?.why).toContain('klingon');
  });

  it('treats an unknown value of a parser setting as unsafe', () => {
    expect(unsafeSetting('client_encoding', null)?.value).toBeNull();
    expect(unsafeSetting('standard_conforming_strings', null)).not.toBeNull();
  });

  it('checks startup parameters by name in any case', () => {
    expect(unsafeStartupParameter({ user: 'agent', client_encoding: 'UTF8', DateStyle: 'ISO' })).toBeNull();
    expect(unsafeStartupParameter({ user: 'agent', client_encoding: 'SJIS' })?.setting).toBe('client_encoding');
    expect(unsafeStartupParameter({ Standard_Conforming_Strings: 'off' })?.setting).toBe('standard_conforming_strings');
  });

  it('requires a server to report both settings, safely', () => {
    const ok = new Map([['client_encoding', 'UTF8'], ['standard_conforming_strings', 'on'], ['server_version', '15']]);
    expect(unsafeReportedSettings(ok)).toBeNull();
    expect(unsafeReportedSettings(new Map([...ok, ['standard_conforming_strings', 'off']]))?.setting).toBe('standard_conforming_strings');
    expect(unsafeReportedSettings(new Map([...ok, ['client_encoding', 'BIG5']]))?.setting).toBe('client_encoding');
    const missing = new Map(ok);
    missing.delete('client_encoding');
    expect(unsafeReportedSettings(missing)).toEqual({ setting: 'client_encoding', value: null, why: expect.stringContaining('did not report') });
  });
});

describe('errors', () => {
  const u = unsafeSetting('client_encoding', 'SJIS')!;

  it('refuses statements with ERROR 22023 and a hint saying what to use', () => {
    const e = unsafeSettingStatementError(u, 'SET', 'd-1');
    expect([e.code, e.sqlstate, e.severity, e.decisionId]).toEqual(['UNSAFE_PARSER_SETTING', '22023', 'ERROR', 'd-1']);
    expect(e.hint).toContain('use client_encoding UTF8');
  });

  it('refuses or ends sessions with FATAL 22023', () => {
    for (const phase of ['client-startup', 'upstream-startup', 'session'] as const) {
      const e = unsafeSessionError(u, phase);
      expect([e.code, e.sqlstate, e.severity], phase).toEqual(['UNSAFE_PARSER_SESSION', '22023', 'FATAL']);
      expect(e.hint, phase).toContain('standard_conforming_strings on');
    }
  });
});
