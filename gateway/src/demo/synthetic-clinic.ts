// Deterministic synthetic clinical data for the demo: obviously fake people, SSNs in the never-issued
// 900-999 range, phone numbers in the fictional 555-01xx range, addresses on made-up streets.

export interface Patient {
  id: number;
  mrn: string;
  firstName: string;
  lastName: string;
  ssn: string;
  dateOfBirth: string;
  phone: string;
  email: string;
  address: string;
  diagnosisCode: string;
}

export interface Visit {
  id: number;
  patientId: number;
  visitDate: string;
  reason: string;
  notes: string;
}

export interface ClinicData {
  patients: Patient[];
  visits: Visit[];
}

const FIRST_NAMES = [
  'Testy', 'Sample', 'Demo', 'Placeholder', 'Mocky', 'Fixture', 'Stubby', 'Dummy',
  'Exemplar', 'Fauxna', 'Proto', 'Synthia', 'Fabrica', 'Pseudo', 'Ersatz', 'Nominal',
];
const LAST_NAMES = [
  'McTestface', 'Examplesson', 'Fakenheimer', 'Lorem-Ipsum', 'Notreal', 'Sampleton',
  'Mockingbird', 'Fixtureman', 'Dataworth', 'Placeholdt', 'Synthetico', 'Demoski',
];
const STREETS = ['Nowhere Lane', 'Fictional Street', 'Imaginary Avenue', 'Pretend Road', 'Synthetic Way'];
const TOWNS = ['Testville', 'Sampleton Falls', 'Mockport', 'Fakesbury'];
// Real ICD-10 code shapes, so policies and queries look like the real thing.
const DIAGNOSES = ['E11.9', 'I10', 'J45.909', 'M54.5', 'F41.1', 'K21.9', 'N39.0', 'E78.5', 'J06.9', 'R51.9'];
const REASONS = ['annual check-up', 'follow-up', 'medication review', 'lab results', 'acute complaint', 'vaccination'];
const NOTES = [
  'Synthetic note: patient reports feeling fine.',
  'Synthetic note: vitals within normal range.',
  'Synthetic note: follow up in three months.',
  'Synthetic note: discussed diet and exercise.',
  'Synthetic note: prescription renewed.',
];

/** A small deterministic PRNG (xorshift32): the same seed always yields the same clinic. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

export function generateClinic(patientCount = 200, seed = 20_240_601): ClinicData {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
  const int = (low: number, high: number): number => low + Math.floor(next() * (high - low + 1));

  const patients: Patient[] = [];
  const visits: Visit[] = [];
  for (let id = 1; id <= patientCount; id++) {
    const firstName = pick(FIRST_NAMES);
    const lastName = pick(LAST_NAMES);
    patients.push({
      id,
      mrn: `MRN-${pad(100_000 + id, 6)}`,
      firstName,
      lastName,
      ssn: `9${pad(int(0, 99), 2)}-${pad(int(1, 99), 2)}-${pad(int(1, 9999), 4)}`,
      dateOfBirth: `${int(1940, 2010)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`,
      phone: `(${int(200, 989)}) 555-01${pad(int(0, 99), 2)}`,
      email: `${firstName}.${lastName}.${id}@example.org`.toLowerCase(),
      address: `${int(1, 999)} ${pick(STREETS)}, ${pick(TOWNS)}`,
      diagnosisCode: pick(DIAGNOSES),
    });
    const visitCount = int(1, 4);
    for (let v = 0; v < visitCount; v++) {
      visits.push({
        id: visits.length + 1,
        patientId: id,
        visitDate: `${int(2021, 2025)}-${pad(int(1, 12), 2)}-${pad(int(1, 28), 2)}`,
        reason: pick(REASONS),
        notes: pick(NOTES),
      });
    }
  }
  return { patients, visits };
}
