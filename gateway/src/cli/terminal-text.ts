// Text written by other people (a requester's statement, reason and literals, approvers' comments)
// as a command may print it to a terminal: control characters and bidirectional-text controls become
// visible \uXXXX escapes, so none can move the cursor, erase, recolour or reorder what is shown.

/** C0 controls but tab and newline, DEL, C1 controls (U+009B is CSI), and bidi marks and overrides. */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every character that could steer a terminal shown as its \uXXXX escape. */
export function terminalText(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
