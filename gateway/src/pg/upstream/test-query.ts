// Test-only: running a simple query on an UpstreamConnection and collecting the answer frames.

import { MessageFramer, type Frame } from '../../wire/framer.ts';
import { encodeQuery, encodeTerminate } from '../../wire/frontend.ts';
import { BE } from '../../wire/message-types.ts';
import type { UpstreamConnection } from './connect.ts';

/** Sends one simple query and collects frames until ReadyForQuery. */
export async function query(conn: UpstreamConnection, sql: string): Promise<Frame[]> {
  const framer = new MessageFramer(1 << 24);
  framer.push(conn.initialBuffer);
  const frames: Frame[] = [];
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      framer.push(chunk);
      for (let f = framer.next(); f !== null; f = framer.next()) {
        frames.push(f);
        if (f.type === BE.ReadyForQuery) {
          conn.socket.off('data', onData);
          conn.socket.off('error', reject);
          conn.socket.pause();
          resolve(frames);
          return;
        }
      }
    };
    conn.socket.on('data', onData);
    conn.socket.once('error', reject);
    conn.socket.resume();
    conn.socket.write(encodeQuery(sql));
  });
}

export function close(conn: UpstreamConnection): void {
  conn.socket.end(encodeTerminate());
}

