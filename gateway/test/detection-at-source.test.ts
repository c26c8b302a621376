// Content detection at the source (enforce/detector-sql.ts) against the real PostgreSQL: no
// identifier the output scan (enforce/content-detectors.ts) finds in a text survives the source
// expression, for every true positive of the detectors, identifiers in a row, in Unicode and in
// JSON, and generated mixtures; so what an expression of the client's can reshape holds no more
// than the output scan of the plain column would have let through. Ordinary clinical text comes back
// unchanged. (A source pattern may replace more: near misses.)

import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DETECTOR_NAMES, compileDetectors } from '../src/enforce/content-detectors.ts';
import { CLINICAL_NOTES, IDENTIFIER_CASES, NEAR_MISSES } from '../src/enforce/content-detectors.corpus.ts';
import { redactedText } from '../src/enforce/detector-sql.ts';
import { ensureDatabase, TEST_DB } from './support/harness.ts';

const all = compileDetectors([...DETECTOR_NAMES]);

/** Identifiers the output scan finds in a text: the spans it replaces. */
function found(text: string): string[] {
  const out = all.scanText(text).out;
  // Rebuild the replaced spans from the labels' positions: split on labels, the text between
  // consecutive kept parts is what was replaced.
  const kept = out.split(/\[(?:SSN|PHONE|EMAIL|CARD|MRN|DOB|IP)\]/);
  const spans: string[] = [];
  let at = 0;
  for (let i = 0; i < kept.length; i++) {
    const part = kept[i]!;
    const idx = text.indexOf(part, at);
    if (i > 0) spans.push(text.slice(at, idx));
    at = idx + part.length;
  }
  return spans.filter((s) => s.length > 0);
}

function occurrences(text: string, part: string): number {
  let n = 0;
  for (let at = text.indexOf(part); at >= 0; at = text.indexOf(part, at + 1)) n++;
  return n;
}

/** Generated texts: identifiers next to each other and to punctuation, digits and words. */
function generated(): string[] {
  const ids = ['219-09-9999', '(415) 555-0142', 'jane.roe@example.org', '4111 1111 1111 1111', 'MRN-100042', '10.1.2.3', '+14155550142', '415.555.0142', '5555-5555-5555-4444', 'fe80::1ff:fe23:4567:890a'];
  const glue = [' ', '; ', ',', ' / ', '\n', '\u00a0', ' and ', '|', '(', ')', ' SSN ', ' call ', ' DOB 01/02/1960 '];
  const out: string[] = [];
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  for (let i = 0; i < 300; i++) {
    const parts: string[] = [];
    for (let j = 0; j < 2 + next(4); j++) parts.push(ids[next(ids.length)]!, glue[next(glue.length)]!);
    out.push(parts.join(''));
  }
  for (const a of ids) for (const b of ids) out.push(`${a} ${b}`, `${a}${b}`, `${a}, ${b}.`);
  return out;
}

describe('content detection at the source', () => {
  let db: pg.Client;
  /** The source expression over each text, in one round trip. */
  async function atSource(texts: readonly string[]): Promise<string[]> {
    const { rows } = await db.query(`SELECT ${redactedText('t', DETECTOR_NAMES)} AS r FROM unnest($1::text[]) WITH ORDINALITY AS u(t, n) ORDER BY n`, [texts]);
    return rows.map((r: { r: string }) => r.r);
  }

  beforeAll(async () => {
    db = new pg.Client({ connectionString: await ensureDatabase(TEST_DB) });
    await db.connect();
  });
  afterAll(async () => db?.end());

  it('replaces every identifier the output scan finds', async () => {
    const texts = [
      ...IDENTIFIER_CASES.map(([, input]) => input),
      'Pt (DOB 01/02/1960, MRN-100077) called from 202-555-0143 re: card 4111111111111111; SSN 123-45-6789; jo@example.net; 10.1.2.3',
      'ref 20255501431234 / 202-555-0143',
      'Größe 1,80 m; E-Mail: müller@example.de; Tel. +49 (0)30 1234567 / (212) 555-0100 ✓',
      JSON.stringify({ contact: { email: 'a.b@example.com', phone: '202-555-0143' }, note: 'DOB: 1/2/1960', n: 12 }),
      ...generated(),
    ];
    const redacted = await atSource(texts);
    texts.forEach((text, i) => {
      const r = redacted[i]!;
      const plain = all.scanText(text).out; // what the output scan alone lets through
      for (const id of found(text)) expect.soft(occurrences(r, id), `${text} → ${r}: ${id}`).toBeLessThanOrEqual(occurrences(plain, id));
    });
    // Where it leaves an identifier the output scan missed in the original (one glued to the one
    // before it: "(415) 555-0142(415) 555-0142"), the output scan of the result finds it.
    const glued = await atSource(['(415) 555-0142(415) 555-0142']);
    expect(all.scanText(glued[0]!).out).toBe('[PHONE][PHONE]');
    // The cue before an identifier is kept, as on the way out.
    expect(await atSource(['SSN: 123456789', 'tel:4155550142', 'DOB: 03/14/1956'])).toEqual(['SSN: [SSN]', 'tel:[PHONE]', 'DOB: [DOB]']);
  });

  it('leaves ordinary clinical text as it is', async () => {
    expect(await atSource(CLINICAL_NOTES)).toEqual([...CLINICAL_NOTES]);
  });

  it('may replace near misses too (no Luhn, SSN range or N11 check at the source)', async () => {
    const redacted = await atSource(NEAR_MISSES);
    // Whatever it does with them, it leaves nothing the output scan would find.
    for (const r of redacted) expect(all.scanText(r).changed).toBe(false);
    expect(redacted[NEAR_MISSES.indexOf('4111 1111 1111 1112')]).toBe('[CARD]');
  });
});
