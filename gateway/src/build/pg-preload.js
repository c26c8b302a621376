// Loads node-postgres before anything else imports it, with the global `Response` hidden while its
// modules run. pg/lib/stream.js asks, when it is first loaded, whether it runs in a Cloudflare
// Worker by constructing a `Response`; on Node 20 the first read of that global loads Node's whole
// fetch implementation (undici, with http2, tls and web streams): about 3-4 MB resident for the
// process's lifetime in a gateway that never fetches (docs/benchmarks.md). Without `Response`, pg
// answers "not Cloudflare" at once, as it does after constructing one on Node: the same sockets.
// Later imports of `pg` get the loaded modules. Plain JavaScript, so that the `gatehouse`
// executable can use it before anything else is loaded.

/** Imports `pg` with the global `Response` hidden; returns whether it was hidden (false: left as it was). */
export async function preloadPg() {
  const original = Object.getOwnPropertyDescriptor(globalThis, 'Response');
  // Only Node's lazy accessor is hidden: a value someone already read or set is left alone.
  const hide = original !== undefined && original.configurable === true && typeof original.get === 'function';
  if (hide) Object.defineProperty(globalThis, 'Response', { configurable: true, enumerable: false, writable: true, value: undefined });
  try {
    await import('pg');
  } finally {
    if (hide) Object.defineProperty(globalThis, 'Response', original);
  }
  return hide;
}
