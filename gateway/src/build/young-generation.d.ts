// Types of young-generation.js (plain JavaScript, so that the `gatehouse` executable can load it without tsx).

/** Stops V8's young generation from growing (until releaseYoungGeneration). Returns whether it did. */
export function holdYoungGeneration(): boolean;
/** Lets the young generation grow as V8 does by default again, if holdYoungGeneration held it. */
export function releaseYoungGeneration(): boolean;
