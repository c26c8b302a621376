// An embedded PostgreSQL for the demo: PGlite (PostgreSQL compiled to WASM) served on a loopback
// TCP port by pglite-socket, seeded with the synthetic clinic. No authentication, and every
// connection shares ONE backend session: fine for a demo, never for production.
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
// pglite-socket pins an exact PGlite version as a peer dependency; npm installs that one, and
// importing it here keeps the demo on the exact build the socket server was made for.
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { SEED_MARKER, SEED_MARKER_QUERY, seedScript } from './clinic-schema.ts';
import { setupMaskFunctions } from '../db/setup.ts';
import { generateClinic } from './synthetic-clinic.ts';

export interface EmbeddedPostgresOptions {
  /** Data directory to create or reuse; null keeps everything in memory. */
  dataDir: string | null;
  /** Delete the data directory first. */
  fresh: boolean;
  patientCount: number;
  onProgress: (message: string) => void;
}

export interface EmbeddedPostgres {
  db: PGlite;
  host: string;
  port: number;
  /** libpq URL Gatehouse uses upstream (PGlite ignores user and password). */
  url: string;
  close(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { dataDir, onProgress } = options;
  if (dataDir !== null) {
    if (options.fresh) {
      onProgress(`removing ${dataDir} (--fresh)`);
      await rm(dataDir, { recursive: true, force: true });
    }
    await mkdir(dataDir, { recursive: true });
  }

  onProgress(
    dataDir === null
      ? 'starting PGlite in memory (initdb takes a few seconds)...'
      : `starting PGlite with data directory ${dataDir} (first run takes a few seconds)...`,
  );
  const db = dataDir === null ? new PGlite() : new PGlite(dataDir);
  await db.waitReady;

  const marker = await db.query<{ marker: string | null }>(SEED_MARKER_QUERY);
  if (marker.rows[0]?.marker === SEED_MARKER) {
    onProgress('reusing the seeded clinical schema (--fresh to reset)');
  } else {
    const data = generateClinic(options.patientCount);
    onProgress(`seeding clinical.patients (${data.patients.length}) and clinical.visits (${data.visits.length})...`);
    await db.exec(seedScript(data));
  }
  // The keyed masks (hash, fakes) are computed by the database (gatehouse db setup); the key is
  // created once with the data directory, so hashes stay the same across restarts.
  await setupMaskFunctions(db, { grantTo: 'postgres' });

  const port = await freeLoopbackPort();
  // maxConnections > 1 lets several psql windows connect; they still share one backend session.
  const server = new PGLiteSocketServer({ db, host: HOST, port, maxConnections: 16 });
  await server.start();
  onProgress(`PGlite is serving the PostgreSQL protocol on ${HOST}:${port}`);

  let closed = false;
  return {
    db,
    host: HOST,
    port,
    url: `postgresql://postgres@${HOST}:${port}/postgres?sslmode=disable`,
    async close() {
      if (closed) return;
      closed = true;
      await server.stop().catch(() => undefined);
      await db.close().catch(() => undefined);
    },
  };
}

/** Asks the kernel for a free loopback port (released before PGlite binds it: a tiny race). */
function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, HOST, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no free loopback port'))));
    });
  });
}
