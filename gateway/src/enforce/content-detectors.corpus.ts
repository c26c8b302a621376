// Test support: synthetic clinical free text that holds no identifier, for the content detectors'
// false-positive tests. Dosages, vitals, ICD-10 and CPT codes, lab values, accession numbers, times,
// visit dates, rooms, versions, years: what visit notes are made of.

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
