// The key under which a statement audit record carries its text with the literals out, from where the
// decision computed it (by the statement's shape) to the sink's redaction (audit/redact.ts), so that
// the sink need not find it again by the text. A symbol key: JSON.stringify, Object.keys and so the
// audit line never hold it; the sink's redaction is the only reader.

export const REDACTED_STATEMENT: unique symbol = Symbol('gatehouse.redactedStatement');
