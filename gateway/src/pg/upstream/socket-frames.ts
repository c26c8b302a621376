// Awaiting backend messages one at a time from a socket, during the short startup conversation.

import type { Socket } from 'node:net';
import { MessageFramer, type Frame } from '../../wire/framer.ts';

/** Startup-phase messages are small; anything larger than this from the server is refused. */
const MAX_STARTUP_MESSAGE_BYTES = 1 << 20;

/**
 * Reads frames from a socket until `detach()`, which stops reading, pauses the socket and returns
 * the bytes received after the last frame taken.
 */
export class SocketFrames {
  private readonly framer = new MessageFramer(MAX_STARTUP_MESSAGE_BYTES);
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private readonly onData = (chunk: Buffer): void => {
    this.framer.push(chunk);
    this.deliver();
  };
  private readonly onError = (err: Error): void => this.fail(err);
  private readonly onClose = (): void => this.fail(new Error('server closed the connection'));

  /** `initial`: bytes already read from the socket by an earlier reader, framed first. */
  constructor(
    private readonly socket: Socket,
    initial?: Buffer,
  ) {
    if (initial !== undefined && initial.length > 0) this.framer.push(initial);
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.resume(); // it may have been paused by an earlier reader (the SSLRequest answer)
  }

  /** The next frame already received, or null (then await next()); throws once the stream failed. */
  poll(): Frame | null {
    if (this.failure !== null) throw this.failure;
    try {
      return this.framer.next();
    } catch (e) {
      this.failure = e as Error; // a framing error leaves the stream unusable
      throw e;
    }
  }

  next(): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.deliver();
    });
  }

  detach(): Buffer {
    this.socket.pause();
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    return this.framer.drain();
  }

  private deliver(): void {
    const w = this.waiter;
    if (w === null) return;
    let frame: Frame | null = null;
    if (this.failure === null) {
      try {
        frame = this.framer.next();
      } catch (e) {
        this.failure = e as Error; // a framing error leaves the stream unusable
      }
    }
    if (frame !== null) {
      this.waiter = null;
      w.resolve(frame);
    } else if (this.failure !== null) {
      this.waiter = null;
      w.reject(this.failure);
    }
  }

  private fail(err: Error): void {
    if (this.failure === null) this.failure = err;
    this.deliver();
  }
}
