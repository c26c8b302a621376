// The demo's `clinical` schema: DDL, seeding from the synthetic generator, and the seed marker
// that lets a reused data directory skip seeding.
import type { ClinicData, Patient, Visit } from './synthetic-clinic.ts';

/** Stored as the schema comment; bump it when the schema or the generator changes. */
export const SEED_MARKER = 'gatehouse-demo-seed v1';

export const CLINIC_DDL = `
CREATE SCHEMA clinical;
CREATE TABLE clinical.patients (
  id             integer PRIMARY KEY,
  mrn            text NOT NULL UNIQUE,
  first_name     text NOT NULL,
  last_name      text NOT NULL,
  ssn            text NOT NULL,
  date_of_birth  date NOT NULL,
  phone          text NOT NULL,
  email          text NOT NULL,
  address        text NOT NULL,
  diagnosis_code text NOT NULL
);
CREATE TABLE clinical.visits (
  id         integer PRIMARY KEY,
  patient_id integer NOT NULL REFERENCES clinical.patients (id),
  visit_date date NOT NULL,
  reason     text NOT NULL,
  notes      text NOT NULL
);
CREATE INDEX visits_patient_id ON clinical.visits (patient_id);
`;

/** Reads the marker back: the schema comment, or null when the schema does not exist. */
export const SEED_MARKER_QUERY = `SELECT obj_description(oid, 'pg_namespace') AS marker FROM pg_namespace WHERE nspname = 'clinical'`;

function literal(value: string | number): string {
  return typeof value === 'number' ? String(value) : `'${value.replaceAll("'", "''")}'`;
}

function patientRow(p: Patient): string {
  return `(${[p.id, p.mrn, p.firstName, p.lastName, p.ssn, p.dateOfBirth, p.phone, p.email, p.address, p.diagnosisCode]
    .map(literal)
    .join(', ')})`;
}

function visitRow(v: Visit): string {
  return `(${[v.id, v.patientId, v.visitDate, v.reason, v.notes].map(literal).join(', ')})`;
}

/** One SQL script that (re)creates and fills the schema inside a transaction. */
export function seedScript(data: ClinicData): string {
  return [
    'BEGIN;',
    'DROP SCHEMA IF EXISTS clinical CASCADE;',
    CLINIC_DDL,
    `INSERT INTO clinical.patients (id, mrn, first_name, last_name, ssn, date_of_birth, phone, email, address, diagnosis_code) VALUES\n${data.patients.map(patientRow).join(',\n')};`,
    `INSERT INTO clinical.visits (id, patient_id, visit_date, reason, notes) VALUES\n${data.visits.map(visitRow).join(',\n')};`,
    `COMMENT ON SCHEMA clinical IS ${literal(SEED_MARKER)};`,
    'COMMIT;',
  ].join('\n');
}
