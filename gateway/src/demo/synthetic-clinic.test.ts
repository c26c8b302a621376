import { describe, expect, it } from 'vitest';
import { generateClinic } from './synthetic-clinic.ts';
import { SEED_MARKER, seedScript } from './clinic-schema.ts';

describe('generateClinic', () => {
  it('is deterministic', () => {
    expect(generateClinic(50)).toEqual(generateClinic(50));
  });

  it('only produces obviously fake identifiers', () => {
    const { patients, visits } = generateClinic(200);
    expect(patients).toHaveLength(200);
    for (const p of patients) {
      expect(p.ssn).toMatch(/^9\d\d-\d\d-\d{4}$/); // 900-999: never issued as SSNs
      expect(p.phone).toMatch(/^\(\d{3}\) 555-01\d\d$/); // the fictional 555-01xx range
      expect(p.email).toMatch(/@example\.org$/);
    }
    expect(new Set(patients.map((p) => p.mrn)).size).toBe(200);
    expect(visits.every((v) => v.patientId >= 1 && v.patientId <= 200)).toBe(true);
  });
});

describe('seedScript', () => {
  it('runs in one transaction and leaves the seed marker', () => {
    const script = seedScript(generateClinic(3));
    expect(script.startsWith('BEGIN;')).toBe(true);
    expect(script.trimEnd().endsWith('COMMIT;')).toBe(true);
    expect(script).toContain(SEED_MARKER);
  });
});
