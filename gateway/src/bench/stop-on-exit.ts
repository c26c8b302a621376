// Child processes the bench started (PgBouncer, a private PostgreSQL, Gatehouse as a child) must
// not outlive it: synchronous stop functions run when the process exits, and on SIGINT / SIGTERM
// (Ctrl-C) before it exits with 128 + signal.

const stops = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const stop of stops) {
    try {
      stop();
    } catch {
      // best effort: the process is going away
    }
  }
  stops.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

/** Registers `stop` (synchronous: a kill) to run at exit or on SIGINT/SIGTERM; returns its removal. */
export function stopOnExit(stop: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', runAll);
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  stops.add(stop);
  return () => {
    stops.delete(stop);
  };
}
