// Test support: synthetic clinical free text that holds no identifier, for the content detectors'
// false-positive tests. Dosages, vitals, ICD-10 and CPT codes, lab values, accession numbers, times,
// visit dates, rooms, versions, years: what visit notes are made of. Also the detectors' true
// positives and near misses, shared by their unit tests and the test of detection at the source.

import type { DetectorName } from '../policy/types.ts';

export const CLINICAL_NOTES: readonly string[] = [
  'Follow-up for type 2 diabetes (E11.9). Metformin 500 mg twice daily, increase to 1000 mg BID if tolerated. HbA1c 7.2% (was 8.1% on 01/12/2024).',
  'BP 120/80, HR 72 bpm, RR 16, SpO2 98% on room air, temp 37.1 C (98.8 F). Weight 82.5 kg, BMI 27.4.',
  'Hypertension, essential (I10). Lisinopril 10 mg daily; recheck BMP in 2 weeks. K+ 4.1 mmol/L, Na 139, Cr 0.9 mg/dL, eGFR 88 mL/min/1.73m2.',
  'Seen in Room 1234, Bldg 4, 3rd floor. Visit date 2024-03-15, 10:30-10:55. Next appointment 04/22/2024 at 2:15 PM.',
  'Lab accession 24-118-2291 and S24-0031178; specimen ID LAB-2024-000815, tube 3 of 4. Ref range 70-99 mg/dL.',
  'CBC: WBC 6.8 x10^9/L, Hgb 13.9 g/dL, Plt 245 x10^9/L. Lipids: LDL 128, HDL 46, TG 150, total 204 mg/dL.',
  'CPT 99214; ICD-10 J45.909 and Z79.4. NDC 0002-8215-01 dispensed. Lot 4F2291A, exp 2026-11.',
  'EHR client v2.1.0.3, interface engine 10.4.12, HL7 2.5.1 message ORU^R01 received 2024-03-15T10:31:07Z.',
  'Patient is a 67 y/o male, born at 38 weeks, family history of CAD since 1998. Smoked 20 pack-years, quit 2010.',
  'Insulin glargine 20 units at bedtime; titrate by 2 units every 3 days to fasting glucose 80-130 mg/dL.',
  'Ratio 1:1, dilution 1:100, ECG intervals PR 160 ms, QRS 92 ms, QTc 418 ms at 12:30:45.',
  'Wound 3.5 x 2.0 x 0.5 cm, stage 2; dressing changed q48h. Pain 4/10, was 7/10 on 3/14.',
  'Order #7731902 placed; fax cover page 2 of 5. Extension x4471 for the nurse line. Bed 12-B, unit 5W.',
  'Amoxicillin 875-125 mg PO q12h x 10 days. Allergies: penicillin (rash, 2015). Vaccines: Tdap 2019, influenza 2023-10-02.',
  'Vision 20/20 OD, 20/40 OS; IOP 15/17 mmHg. Audiogram thresholds 25-40 dB at 2000-4000 Hz.',
  'PSA 1.2 ng/mL (2023: 1.1). Colonoscopy 2021 normal, repeat in 10 years (2031). Height 1.78 m.',
  'Claim 2024031500042 submitted; prior auth 8812-4471 pending. Copay $25.00, deductible $1,500.00 met.',
  'Study protocol NCT04280705, arm B, cycle 3 day 15. Dose 1.25 mg/kg IV over 30 min, 250 mL NS.',
  'Temperature log: 36.8, 37.0, 37.4; fluids 1200 mL in, 950 mL out over 12 h. MAP 85 mmHg.',
  'Scanned document page 3/12, batch 2024-03-15-07, scanner 10.20.30 firmware 3.1.4.',
];

/** One text per case, with what a scan with every detector makes of it; the detector named finds it. */
export const IDENTIFIER_CASES: ReadonlyArray<[DetectorName, string, string]> = [
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

/** Texts that look like identifiers but fail a detector's checks: no detector finds one. */
export const NEAR_MISSES: readonly string[] = [
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
];
