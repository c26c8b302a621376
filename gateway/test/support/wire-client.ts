// A raw PostgreSQL frontend for tests that need exact control of the message stream (pipelined
// batches in one write, Execute with a row limit, no Describe): pg-protocol serializes and parses.

import { connect, type Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { parse, serialize } from 'pg-protocol';

export { serialize };

/** A backend message as pg-protocol decodes it (fields vary by message name). */
export interface Message {
  name: string;
  fields?: unknown[];
  text?: string;
  code?: string;
  status?: string;
  channel?: string;
  payload?: string;
}

export class WireClient {
  private readonly messages: Message[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;

  private constructor(private readonly socket: Socket) {
    const stream = new PassThrough();
    socket.pipe(stream);
    void parse(stream, (m) => {
      this.messages.push(m as Message);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects, authenticates with the token, and waits for the first ReadyForQuery. `params`: more startup parameters. */
  static async connect(port: number, token: string, params: Record<string, string> = {}): Promise<WireClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new WireClient(socket);
    c.send(serialize.startup({ user: 'agent', database: 'postgres', ...params }));
    const auth = await c.next();
    if (auth.name !== 'authenticationCleartextPassword') throw new Error(`expected a password request, got ${auth.name}`);
    c.send(serialize.password(token));
    const hello = await c.untilReady(1);
    const error = hello[0]?.find((m) => m.name === 'error');
    if (error) throw new Error(`login refused: ${error.code}`);
    return c;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  send(...buffers: Buffer[]): void {
    this.socket.write(Buffer.concat(buffers));
  }

  async next(): Promise<Message> {
    for (;;) {
      const m = this.messages.shift();
      if (m) return m;
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  /** Reads messages until `count` ReadyForQuery have arrived; returns them grouped per ReadyForQuery. */
  async untilReady(count: number): Promise<Message[][]> {
    const groups: Message[][] = [];
    let current: Message[] = [];
    while (groups.length < count) {
      const m = await this.next();
      current.push(m);
      if (m.name === 'readyForQuery') {
        groups.push(current);
        current = [];
      }
    }
    return groups;
  }

  close(): void {
    if (!this.closed) this.socket.end(serialize.end());
  }
}

/** The message names of a group, for asserting on the shape of a response. */
export const names = (group: Message[]): string[] => group.map((m) => m.name);

/** The DataRow values of a group, as text. */
export const rowsOf = (group: Message[]): unknown[][] => group.filter((m) => m.name === 'dataRow').map((m) => m.fields ?? []);
