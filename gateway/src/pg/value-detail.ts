// What an error or notice may not tell a client whose statement (or transaction block) writes a
// table with columns masked for it: the fields that can quote stored values (pg/upstream-relay.ts
// scrubs them, enforce/write-probe.ts says when).

/** Fields that can quote stored values: hint (H, a trigger may set it), context (W), internal query (q) and its position (p). */
const QUOTING_FIELDS = ['H', 'W', 'q', 'p'] as const;

/**
 * Error and notice fields without what may quote stored values, for a statement (or a transaction
 * block) that writes a table with columns masked for the identity (whatever its decision): the detail
 * (D: "Key (c)=(v) conflicts with existing key (c)=(w)", "Failing row contains (...)") is replaced by a
 * note, the fields above are dropped. The message (M) is replaced too when routine code raised it (a
 * context W says so: a trigger's `RAISE ... %', NEW.c`, or a failed cast of NEW.c in it) and in every
 * notice (R10-4), and in every error of a write whose trigger functions Gatehouse checks after it ran
 * (`checkedWrite`, pg/pin-check.ts): a built-in error there, such as a failed cast in RETURNING, may quote
 * what a replaced body wrote (red-team round 20a, R20a-4). The SQLSTATE, a built-in error's message
 * otherwise and the constraint, table and column names are kept. Null when none is there.
 */
export function withoutValueDetail(fields: Readonly<Record<string, string>>, notice = false, checkedWrite = false): Record<string, string> | null {
  const routine = notice || checkedWrite || fields['W'] !== undefined;
  if (!routine && fields['D'] === undefined && QUOTING_FIELDS.every((f) => fields[f] === undefined)) return null;
  const out = { ...fields };
  if (out['D'] !== undefined) out['D'] = 'Gatehouse withheld the detail: this statement or its transaction writes a table with columns masked for you, and the detail may quote their stored values.';
  if (routine && out['M'] !== undefined) {
    out['M'] = notice || fields['W'] !== undefined
      ? 'Gatehouse withheld the message: it was raised by routine code (a trigger) while writing a table with columns masked for you, and may quote their stored values.'
      : 'Gatehouse withheld the message: this write fires trigger functions that Gatehouse checks only after it ran, and the message may quote what they wrote.';
  }
  for (const f of QUOTING_FIELDS) delete out[f];
  return out;
}
