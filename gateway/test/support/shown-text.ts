// What a red-team probe got back, as one string to search for a secret: backend messages, rows and
// errors, with an error's message included (pg-protocol and node-postgres keep it off JSON).

/** `x` as JSON text, every Error's message (and its other own fields) included. */
export const shown = (x: unknown): string =>
  JSON.stringify(x, (_k, v: unknown) => (v instanceof Error ? { ...v, message: v.message } : v));
