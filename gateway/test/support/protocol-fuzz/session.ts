// Sets up the database of a differential protocol run: the fuzz table, a visit note with identifiers,
// and the raw values a masked identity must never see (the sessions: differential.ts).

import pg from 'pg';
import { FUZZ_TABLE, FUZZ_VISIT_ID } from './generate.ts';

const NOTE_SECRETS = ['219-09-9922', '(415) 555-0188'];

/** Creates what the generated statements use; returns the raw identifiers of the masked run. */
export async function prepareDatabase(upstreamUrl: string): Promise<string[]> {
  const db = new pg.Client({ connectionString: upstreamUrl });
  await db.connect();
  try {
    await db.query(`CREATE TABLE IF NOT EXISTS ${FUZZ_TABLE} (v int)`);
    await db.query('DELETE FROM clinical.visits WHERE id = $1', [FUZZ_VISIT_ID]);
    await db.query(
      `INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes)
       SELECT $1, min(id), date '2026-01-02', 'follow-up', $2 FROM clinical.patients`,
      [FUZZ_VISIT_ID, `Callback ${NOTE_SECRETS[1]}; SSN ${NOTE_SECRETS[0]}.`],
    );
    const ssns = (await db.query('SELECT ssn FROM clinical.patients ORDER BY id LIMIT 2')).rows.map((r: { ssn: string }) => r.ssn);
    return [...ssns, ...NOTE_SECRETS];
  } finally {
    await db.end();
  }
}
