// The statement text recorded for a fast-path FunctionCall, which carries no SQL (pg/fast-path-call.ts):
// Gatehouse's words and the function's OID. The OID is the client's number, so with literals redacted it
// is a placeholder like any literal (a client could choose one that spells a value).

const TEXT = /^<fast-path function call: oid \d{1,10}>$/;

/** The recorded text of a FunctionCall of function `oid`. */
export function fastPathStatementText(oid: number): string {
  return `<fast-path function call: oid ${oid}>`;
}

/** `text` with its OID as a placeholder if it is a FunctionCall's recorded text, else null. */
export function redactedFastPathText(text: string): string | null {
  return TEXT.test(text) ? '<fast-path function call: oid $1>' : null;
}
