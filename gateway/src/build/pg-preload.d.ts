// Types of pg-preload.js (plain JavaScript, so that the `gatehouse` executable can load it without tsx).

/** Imports `pg` with the global `Response` hidden; returns whether it was hidden (false: left as it was). */
export function preloadPg(): Promise<boolean>;
