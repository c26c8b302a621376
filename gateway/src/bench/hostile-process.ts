// The isolation harness's hostile client in a process of its own: building and sending a 10 MiB
// literal or a 360 KB Query takes the sender's event loop for a while, and in the harness's process
// that delay landed on the timers and socket reads that time the well-behaved sessions, so it was
// measured as the gateway's latency. The parent side forks it and waits for its tallies; the child
// side (hostileChildMain, started by hostile-process-entry.js) runs hostile-client.ts and reports.

import { fork } from 'node:child_process';
import type pg from 'pg';
import { runHostile, type HostileAction, type HostileTally } from './hostile-client.ts';
import { openClient } from './isolation-traffic.ts';

/** What the parent asks of the child: one message, then it waits for the tallies. */
export interface HostileRun {
  actions: readonly HostileAction[];
  /** The hostile identity's connection settings (loopback, its own token). */
  client: pg.ClientConfig;
  /** Stop starting new messages after this long; the last ones may run past it. */
  seconds: number;
  pauseMs: number;
}

type FromChild = { type: 'ready' } | { type: 'tallies'; tallies: HostileTally[] } | { type: 'failed'; message: string };

const ENTRY = new URL('./hostile-process-entry.js', import.meta.url);

/** A started hostile client process, idle until `run`. */
export interface HostileProcess {
  /** Sends every action until `seconds` have passed; resolves with the tallies (the process then exits). */
  run(run: HostileRun): Promise<HostileTally[]>;
  /** Ends the process if it is still there (a run that failed half-way, the harness stopping). */
  stop(): void;
}

/**
 * Forks the hostile client and waits until it is ready to send (its start-up, loading TypeScript,
 * is over before the measured phase begins).
 */
export function startHostileProcess(): Promise<HostileProcess> {
  const child = fork(ENTRY, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`the hostile client process exited (code ${code ?? '-'}, signal ${signal ?? '-'})`));
    child.once('error', (e) => resolve(`the hostile client process failed: ${e.message}`));
  });
  const next = (): Promise<FromChild> =>
    new Promise((resolve, reject) => {
      const onMessage = (m: FromChild): void => {
        resolve(m);
      };
      child.once('message', onMessage);
      void exited.then((why) => {
        child.off('message', onMessage);
        reject(new Error(`${why} without answering`));
      });
    });
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return next().then((m) => {
    if (m.type !== 'ready') throw new Error(`the hostile client process said ${m.type} before it was ready`);
    return {
      stop,
      run: async (run) => {
        const answer = next();
        child.send(run);
        const m = await answer;
        switch (m.type) {
          case 'tallies':
            return m.tallies;
          case 'failed':
            throw new Error(`the hostile client process failed: ${m.message}`);
          case 'ready':
            throw new Error('the hostile client process answered ready to a run');
          default: {
            const never: never = m;
            throw new Error(`unknown message ${JSON.stringify(never)}`);
          }
        }
      },
    };
  });
}

/** The child's side: says it is ready, runs the one HostileRun it is sent, sends the tallies and disconnects. */
export function hostileChildMain(): void {
  const send = (m: FromChild, then: () => void = () => undefined): void => {
    process.send?.(m, undefined, {}, then);
  };
  process.once('message', (message) => {
    const run = message as HostileRun;
    const until = Date.now() + run.seconds * 1000;
    const done = (m: FromChild): void => send(m, () => process.disconnect?.());
    runHostile({ actions: run.actions, connect: () => openClient(run.client), running: () => Date.now() < until, pauseMs: run.pauseMs }).then(
      (tallies) => done({ type: 'tallies', tallies }),
      (e: unknown) => done({ type: 'failed', message: e instanceof Error ? e.message : String(e) }),
    );
  });
  send({ type: 'ready' });
}
