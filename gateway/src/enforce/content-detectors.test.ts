// Content detectors: true positives per detector, no detection in ordinary clinical text, the
// Buffer form, the configurable MRN pattern, and linear cost on 10 MB values.

import { describe, expect, it } from 'vitest';
import { addCounts, compileDetectors, DetectorConfigError, detectorFor, detectorsFor, DETECTOR_NAMES } from './content-detectors.ts';
import { CLINICAL_NOTES, IDENTIFIER_CASES, NEAR_MISSES } from './content-detectors.corpus.ts';
import { luhn, validCard, validSsn } from './detector-patterns.ts';

const all = compileDetectors([...DETECTOR_NAMES]);

/** The value after a scan with every detector, and what was counted. */
function scan(text: string): { out: string; counts: Record<string, number> } {
  const r = all.scanText(text);
  return { out: r.out, counts: r.counts as Record<string, number> };
}

describe('content detectors: true positives', () => {
  const cases = IDENTIFIER_CASES;
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
    for (const text of NEAR_MISSES) {
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

describe('content detectors: long values in turns', () => {
  /** A long text with identifiers everywhere, also across the scan windows' edges. */
  function longText(bytes: number): string {
    const ids = ['SSN 219-09-9999', '(415) 555-0142', 'jane.roe@example.org', 'MRN-100042', '4111 1111 1111 1111', 'DOB: 03/14/1956'];
    const parts: string[] = [];
    let n = 0;
    for (let i = 0; n < bytes; i++) {
      const filler = 'x '.repeat(1 + ((i * 7919) % 900));
      parts.push(filler, ids[i % ids.length]!, '; ');
      n += filler.length + 20;
    }
    return parts.join('');
  }

  it('finds exactly what one scan of the whole value finds', async () => {
    const text = longText(400_000);
    const whole = all.scanText(text);
    const turns = await all.scanBufferInTurns(Buffer.from(text, 'utf8'));
    expect(turns.out.toString('utf8')).toBe(whole.out);
    expect(turns.counts).toEqual(whole.counts);
    expect(whole.out).not.toMatch(/219-09-9999|555-0142|jane\.roe|100042|4111 1111/);
  });

  it('lets the event loop turn between windows of a 5 MB value (other sessions are served)', async () => {
    const value = Buffer.from(longText(5 * 1024 * 1024), 'utf8');
    let turns = 0;
    let done = false;
    const tick = (): void => {
      turns++;
      if (!done) setImmediate(tick);
    };
    setImmediate(tick);
    const scan = all.scanBufferInTurns(value).then((r) => {
      done = true;
      return r;
    });
    const ticksAtStart = turns;
    const result = await scan;
    // A scan in one piece would let no turn happen before it returned; one window per turn lets at
    // least one turn pass for every window after the first.
    expect(ticksAtStart).toBe(0);
    expect(turns).toBeGreaterThanOrEqual(Math.floor(value.length / (32 * 1024)) - 1);
    expect(result.changed).toBe(true);
  });
});
