// The one raw PostgreSQL frontend for tests that need exact control of the message stream (pipelined
// batches in one write, Execute with a row limit, no Describe, extra startup parameters, a session
// straight to PostgreSQL to compare with): pg-protocol serializes and parses.

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
  severity?: string;
  status?: string;
  channel?: string;
  payload?: string;
  parameterName?: string;
  parameterValue?: string;
}

export class WireClient {
  private readonly messages: Message[] = [];
  private waiter: (() => void) | null = null;
  private closed = false;
  /** The BackendKeyData the server sent at login (what a CancelRequest for this session names). */
  key: { processID: number; secretKey: number } | null = null;

  private constructor(
    private readonly socket: Socket,
    private readonly port: number,
    private readonly host: string,
  ) {
    const stream = new PassThrough();
    socket.pipe(stream);
    // Closed only once every byte received has been parsed: `parse` settles when the stream ends.
    void parse(stream, (m) => {
      if (m.name === 'backendKeyData') {
        const k = m as unknown as { processID: number; secretKey: number };
        this.key = { processID: k.processID, secretKey: k.secretKey };
      }
      this.messages.push(m as Message);
      this.wake();
    }).then(() => {
      this.closed = true;
      this.wake();
    });
    socket.on('close', () => stream.end()); // a reset socket does not end what it pipes into
    socket.on('error', () => undefined);
  }

  /** Opens a connection and sends nothing: the caller writes the StartupMessage and answers authentication. */
  static async open(port: number, host = '127.0.0.1'): Promise<WireClient> {
    const socket = connect(port, host);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new WireClient(socket, port, host);
  }

  /**
   * Sends a CancelRequest for this session on a new connection, with the key the server gave (or
   * another one), and waits until the server closes that connection.
   */
  async cancel(key: { processID: number; secretKey: number } | null = this.key): Promise<void> {
    if (!key) throw new Error('no BackendKeyData received on this session');
    const socket = connect(this.port, this.host);
    socket.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      socket.once('connect', () => socket.end(serialize.cancel(key.processID, key.secretKey)));
      socket.once('close', () => resolve());
    });
  }

  /** Connects, authenticates with the token, and waits for the first ReadyForQuery. `params`: more startup parameters. */
  static async connect(port: number, token: string, params: Record<string, string> = {}): Promise<WireClient> {
    const c = await WireClient.open(port);
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

  /** The next message, or null once the connection is closed and every message has been read. */
  private async take(): Promise<Message | null> {
    for (;;) {
      const m = this.messages.shift();
      if (m) return m;
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }

  send(...buffers: Buffer[]): void {
    this.socket.write(Buffer.concat(buffers));
  }

  /** Bytes written but not yet taken by the kernel (the peer is not reading). */
  get unsent(): number {
    return this.socket.writableLength;
  }

  async next(): Promise<Message> {
    const m = await this.take();
    if (!m) throw new Error('connection closed');
    return m;
  }

  /** Every message still to come, until the server closes the connection. */
  async *untilClosed(): AsyncGenerator<Message> {
    for (let m = await this.take(); m; m = await this.take()) yield m;
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

  /** Sends Terminate and ends the connection (once). */
  close(): void {
    if (!this.closed && !this.socket.writableEnded) this.socket.end(serialize.end());
  }
}

/** The message names of a group, for asserting on the shape of a response. */
export const names = (group: Message[]): string[] => group.map((m) => m.name);

/** The DataRow values of a group, as text. */
export const rowsOf = (group: Message[]): unknown[][] => group.filter((m) => m.name === 'dataRow').map((m) => m.fields ?? []);

/** The SQLSTATEs of the ErrorResponses in a group. */
export const errorCodes = (group: Message[]): string[] => group.filter((m) => m.name === 'error').map((m) => m.code ?? '');
