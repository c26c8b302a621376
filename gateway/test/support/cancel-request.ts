// A PostgreSQL CancelRequest sent the way a client sends one: on a fresh connection.
import { connect } from 'node:net';

/** Sends a CancelRequest on a fresh connection and waits until the gateway closes it. */
export function sendCancelRequest(port: number, processID: number, secretKey: number): Promise<void> {
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', reject);
    sock.on('connect', () => sock.write(packet));
    sock.on('data', () => undefined);
    sock.on('close', () => resolve());
  });
}
