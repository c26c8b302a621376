// Content detectors: true positives per detector, no detection in ordinary clinical text, the
// Buffer form, the configurable MRN pattern, and linear cost on 10 MB values.

import { describe, expect, it } from 'vitest';
import { addCounts, compileDetectors, DetectorConfigError, detectorFor, detectorsFor, DETECTOR_NAMES, type DetectorName } from './content-detectors.ts';
import { CLINICAL_NOTES } from './content-detectors.corpus.ts';
import { luhn, validCard, validSsn } from './detector-patterns.ts';

const all = compileDetectors([...DETECTOR_NAMES]);

/** The value after a scan with every detector, and what was counted. */
function scan(text: string): { out: string; counts: Record<string, number> } {
  const r = all.scanText(text);
  return { out: r.out, counts: r.counts as Record<string, number> };
}

describe('content detectors: true positives', () => {
  const cases: Array<[DetectorName, string, string]> = [
    ['ssn', 'SSN 123-45-6789 on file', 'SSN [SSN] on file'],
    ['ssn', 'ss no. 123 45 6789.', 'ss no. [SSN].'],
    ['ssn', 'SSN: 123456789', 'SSN: [SSN]'],
    ['ssn', 'social security number 078051120', 'social security number [SSN]'],
    ['ssn', 'SSN 219\u201309\u20139999 (pasted from a letter)', 'SSN [SSN] (pasted from a letter)'],
    ['ssn', 'ssn is 219099999', 'ssn is [SSN]'],
    ['email', 'write to jane.doe+clinic@mail.example.org today', 'write to [EMAIL] today'],
    ['email', '<J_SMITH@Hospital.Example.COM>', '<[EMAIL]>'],
    ['phone', 'call (202) 555-0143', 'call [PHONE]'],
    ['phone', 'cell 202-555-0143, home 312.555.0199', 'cell [PHONE], home [PHONE]'],
    ['phone', 'reach her at +1 415 555 0123.', 'reach her at [PHONE].'],
    ['phone', 'tel: 1-800-555-0100', 'tel: [PHONE]'],
    ['phone', 'text her on +14155550142', 'text her on [PHONE]'],
    ['phone', 'tel:4155550142, cell 4155550199', 'tel:[PHONE], cell [PHONE]'],
    ['phone', 'callback 415\u2013555\u20130142', 'callback [PHONE]'],
    ['card', 'Visa 4111 1111 1111 1111 exp 12/27', 'Visa [CARD] exp 12/27'],
    ['card', 'paid with 5555-5555-5555-4444', 'paid with [CARD]'],
    ['card', 'amex 378282246310005', 'amex [CARD]'],
    ['card', 'Discover 6011111111111117.', 'Discover [CARD].'],
    ['mrn', 'MRN-100042 admitted', '[MRN] admitted'],
    ['mrn', 'mrn: 4711234; MRN #AB123456', '[MRN]; [MRN]'],
    ['dob', 'DOB: 03/14/1956', 'DOB: [DOB]'],
    ['dob', 'D.O.B. 1956-03-14', 'D.O.B. [DOB]'],
    ['dob', 'date of birth is 14 March 1956', 'date of birth is [DOB]'],
    ['dob', 'Born on March 4th, 1950 in Ohio', 'Born on [DOB] in Ohio'],
    ['dob', 'birthdate=4.3.1950', 'birthdate=[DOB]'],
    ['dob', 'birthday 04/05/1961', 'birthday [DOB]'],
    ['ip', 'login from 192.168.1.20 failed', 'login from [IP] failed'],
    ['ip', 'host 10.0.0.255:5432', 'host [IP]:5432'],
    ['ip', 'v6 2001:db8:85a3:0:0:8a2e:370:7334 and fe80::1ff:fe23:4567:890a and ::1', 'v6 [IP] and [IP] and [IP]'],
  ];
  it.each(cases)('%s: %s', (name, input, expected) => {
    const r = scan(input);
    expect(r.out).toBe(expected);
    expect(Object.keys(r.counts)).toEqual([name]);
    expect(r.counts[name]).toBe((expected.match(/\[[A-Z]+\]/g) ?? []).length);
  });

  it('finds several kinds in one value and counts each', () => {
    const note = 'Pt (DOB 01/02/1960, MRN-100077) called from 202-555-0143 re: card 4111111111111111; SSN 123-45-6789; jo@example.net; 10.1.2.3';
    const r = scan(note);
    expect(r.out).toBe('Pt (DOB [DOB], [MRN]) called from [PHONE] re: card [CARD]; SSN [SSN]; [EMAIL]; [IP]');
    expect(r.counts).toEqual({ dob: 1, mrn: 1, phone: 1, card: 1, ssn: 1, email: 1, ip: 1 });
  });

  it('a rejected candidate leaves room for another detector at the same place', () => {
    // 14 digits that fail the card check, then a phone number: the phone is still found.
    expect(scan('ref 20255501431234 / 202-555-0143').out).toBe('ref 20255501431234 / [PHONE]');
  });
});

describe('content detectors: what is not an identifier', () => {
  it('finds nothing in ordinary clinical notes', () => {
    for (const note of CLINICAL_NOTES) {
      const r = all.scanText(note);
      expect(r.counts, note).toEqual({});
      expect(r.out).toBe(note);
      expect(r.changed).toBe(false);
    }
  });

  it('rejects numbers that look like identifiers but fail their checks', () => {
    for (const text of [
      'SSN 000-12-3456', // area 000
      'SSN 666-12-3456', // area 666
      'SSN 923-45-6789', // area 9xx (ITIN range)
      'SSN 123-00-6789', // group 00
      '4111 1111 1111 1112', // Luhn fails
      '1234567812345670', // Luhn passes, no issuer starts with 1
      'call 202-911-0143', // N11 exchange
      'call 123-555-0143', // area code cannot start with 1
      'DOB: 13/45/1956', // not a date
      '999.1.1.1 and 1.2.3.4.5 and v1.2.3.4', // not addresses
      'meet at 12:30:45 or 10:30', // times, not IPv6
      'visit on 03/14/1956', // a date without a birth cue
      'user@localhost', // no top-level domain
      'order 4155550142 shipped', // ten digits without a phone layout or cue
      'tel 1234567890', // a cue, but no valid area code
      '+1415555014', // E.164 with a digit missing
    ]) {
      expect(scan(text).counts, text).toEqual({});
    }
  });

  it('checks as documented', () => {
    expect(luhn('4111111111111111')).toBe(true);
    expect(luhn('4111111111111112')).toBe(false);
    expect(validCard('371449635398431')).toBe(true);
    expect(validCard('4111111111111')).toBe(false); // 13 digits, Luhn fails
    expect(validSsn('078051120')).toBe(true);
    expect(validSsn('987654321')).toBe(false);
  });
});

describe('compileDetectors', () => {
  it('runs only the detectors it was given', () => {
    const emailOnly = compileDetectors(['email', 'email']);
    expect(emailOnly.names).toEqual(['email']);
    expect(emailOnly.scanText('a@example.org, SSN 123-45-6789').out).toBe('[EMAIL], SSN 123-45-6789');
    const none = compileDetectors([]);
    expect(none.scanText('SSN 123-45-6789')).toEqual({ out: 'SSN 123-45-6789', counts: {}, changed: false });
  });

  it('scans UTF-8 buffers, returning the same buffer when nothing is found', () => {
    const clean = Buffer.from('Ärztin notes: BP 120/80 — stable, 500 mg daily', 'utf8');
    const r = all.scanBuffer(clean);
    expect(r.out).toBe(clean);
    expect(r.changed).toBe(false);
    const dirty = Buffer.from('Größe 1,80 m; E-Mail: jörg@example.de; Tel. 202-555-0143 ✓', 'utf8');
    const d = all.scanBuffer(dirty);
    expect(d.out.toString('utf8')).toBe('Größe 1,80 m; E-Mail: [EMAIL]; Tel. [PHONE] ✓');
    expect(d.counts).toEqual({ email: 1, phone: 1 });
  });

  it('finds identifiers inside JSON documents', () => {
    const doc = JSON.stringify({ contact: { email: 'p.k@example.com', phone: '(415) 555-0101' }, note: 'DOB: 1961-07-04', n: 12 });
    expect(JSON.parse(all.scanText(doc).out)).toEqual({ contact: { email: '[EMAIL]', phone: '[PHONE]' }, note: 'DOB: [DOB]', n: 12 });
  });

  it('takes a site MRN pattern, and refuses unknown detectors and unusable patterns', () => {
    const site = compileDetectors(['mrn'], { mrn: String.raw`\bPT\d{7}\b` });
    expect(site.scanText('chart PT0042424, MRN-100042').out).toBe('chart [MRN], MRN-100042');
    expect(() => compileDetectors(['ssn', 'passport'])).toThrow(DetectorConfigError);
    expect(() => compileDetectors(['mrn'], { mrn: '\\d*' })).toThrow(/empty string/);
    expect(() => compileDetectors(['mrn'], { mrn: '(MRN)\\d{6}' })).toThrow(/capturing groups/);
    expect(() => compileDetectors(['mrn'], { mrn: '[' })).toThrow(/does not compile/);
  });

  it('picks the detectors of a column from a decision, with the "*" entry of its table', () => {
    const detections = [
      { table: 'clinical.visits', column: 'notes', detectors: ['ssn' as const, 'phone' as const], policies: ['a'] },
      { table: 'clinical.visits', column: '*', detectors: ['email' as const, 'ssn' as const], policies: ['b'] },
      { table: 'clinical.patients', column: 'address', detectors: ['ip' as const], policies: ['c'] },
    ];
    expect(detectorsFor(detections, 'clinical.visits', 'notes')).toEqual(['email', 'ssn', 'phone']);
    expect(detectorsFor(detections, 'clinical.visits', 'reason')).toEqual(['email', 'ssn']);
    expect(detectorsFor(detections, 'clinical.patients', 'ssn')).toEqual([]);
    expect(detectorsFor(undefined, 'clinical.visits', 'notes')).toEqual([]);
  });

  it('memoises compiled detectors by list and MRN pattern', () => {
    expect(detectorFor(['ssn', 'email'])).toBe(detectorFor(['email', 'ssn', 'ssn']));
    expect(detectorFor(['mrn'], { mrn: String.raw`\bPT\d{7}\b` })).not.toBe(detectorFor(['mrn']));
  });

  it('adds counts across values', () => {
    const total = addCounts({}, { ssn: 2 });
    expect(addCounts(total, { ssn: 1, email: 3 })).toEqual({ ssn: 3, email: 3 });
  });
});

describe('content detectors on huge values', () => {
  // Each shape makes a backtracking pattern try hard at every position; a scan must still finish
  // (linear time). No duration is asserted: a catastrophic pattern would time the test out.
  const TEN_MB = 10 * 1024 * 1024;
  const shapes: Array<[string, string]> = [
    ['letters', 'a'],
    ['digits', '1'],
    ['dotted digits', '1.'],
    ['hex and colons', 'a:'],
    ['at signs', 'a@'],
    ['dashed digits', '12-'],
    ['a birth cue', 'DOB 1 '],
  ];
  it.each(shapes)('10 MB of %s', (_name, unit) => {
    const value = unit.repeat(Math.ceil(TEN_MB / unit.length));
    const r = all.scanBuffer(Buffer.from(value));
    expect(r.out.length).toBeGreaterThanOrEqual(TEN_MB);
  }, 120_000);

  it('10 MB of notes with an SSN in each: every one replaced', () => {
    const unit = 'BP 120/80, SSN 123-45-6789. ';
    const copies = Math.ceil(TEN_MB / unit.length);
    const r = all.scanText(unit.repeat(copies));
    expect(r.counts).toEqual({ ssn: copies });
    expect(r.out.includes('6789')).toBe(false);
  }, 120_000);
});
