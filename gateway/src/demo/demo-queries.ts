// The first queries the demo suggests, with the outcome each should have for the `agents` identity.

export type Expectation = 'allow' | 'mask' | 'deny';

export interface SuggestedQuery {
  expect: Expectation;
  sql: string;
  /** What the user should notice, shown next to the query. */
  why: string;
}

export const PATIENT_LIST = 'SELECT id, diagnosis_code FROM clinical.patients ORDER BY id LIMIT 5';
export const PATIENT_IDENTIFIERS = 'SELECT first_name, ssn, phone FROM clinical.patients ORDER BY id LIMIT 5';

export const SUGGESTED_QUERIES: readonly SuggestedQuery[] = [
  { expect: 'allow', sql: PATIENT_LIST, why: 'allowed: no identifying columns' },
  { expect: 'mask', sql: PATIENT_IDENTIFIERS, why: 'masked: identifiers are rewritten on the way back' },
  { expect: 'deny', sql: 'DROP TABLE clinical.visits', why: 'denied: agents cannot change the schema' },
  { expect: 'deny', sql: "SELECT pg_read_file('/etc/passwd')", why: 'denied: server file access is off limits' },
];

/** SQLSTATE Gatehouse answers a policy denial with (insufficient_privilege). */
export const DENIED_SQLSTATE = '42501';
