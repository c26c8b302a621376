// The client side of SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL uses it, without channel binding.

import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { GatehouseError } from '../../errors.ts';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';

/** "n,," : no channel binding, no authzid. Its base64 is the "c=biws" of the client-final-message. */
const GS2_HEADER = 'n,,';

function scramError(message: string): GatehouseError {
  return new GatehouseError('UPSTREAM_UNAVAILABLE', `SCRAM authentication with upstream PostgreSQL failed: ${message}`);
}

function hmac(key: Buffer, data: string | Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/**
 * SASLprep (RFC 4013), reduced to what matters for passwords: non-ASCII spaces become spaces,
 * "mapped to nothing" characters go, then NFKC. Like libpq, a password that still holds
 * prohibited characters is used as its raw UTF-8 bytes.
 */
export function saslPrep(password: string): string {
  if (/^[\x20-\x7e]*$/.test(password)) return password;
  const mapped = password
    .replace(/[\u00a0\u1680\u2000-\u200b\u202f\u205f\u3000]/g, ' ')
    .replace(/[\u00ad\u034f\u1806\u180b-\u180d\u200c\u200d\u2060\ufe00-\ufe0f\ufeff]/g, '')
    .normalize('NFKC');
  if (/[\u0000-\u001f\u007f-\u009f\u06dd\u070f\u180e\u200e\u200f\u2028-\u202e\u206a-\u206f\ufff9-\ufffd\ud800-\udfff]/.test(mapped)) {
    return password;
  }
  return mapped;
}

// SaltedPassword is the expensive step (PBKDF2, 4096 rounds by default) and is the same for
// every connection of one role: derive it once per (password, salt, iterations).
const saltedCache = new Map<string, Buffer>();
const SALTED_CACHE_MAX = 16;

async function saltedPassword(password: string, salt: Buffer, iterations: number): Promise<Buffer> {
  const key = createHash('sha256').update(password).update('\0').update(salt).update(`\0${iterations}`).digest('base64');
  const hit = saltedCache.get(key);
  if (hit !== undefined) return hit;
  const derived = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(saslPrep(password), salt, iterations, 32, 'sha256', (err, out) => (err ? reject(err) : resolve(out)));
  });
  if (saltedCache.size >= SALTED_CACHE_MAX) saltedCache.delete(saltedCache.keys().next().value!);
  saltedCache.set(key, derived);
  return derived;
}

function parseAttributes(message: string, expected: readonly string[]): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq !== 1) throw scramError('malformed server message');
    attrs.set(part[0]!, part.slice(2));
  }
  if (attrs.has('m')) throw scramError('server requires an unsupported SCRAM extension');
  for (const k of expected) if (!attrs.has(k)) throw scramError(`server message lacks the "${k}" attribute`);
  return attrs;
}

function base64Strict(value: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) throw scramError(`invalid base64 in ${what}`);
  return Buffer.from(value, 'base64');
}

/**
 * One SCRAM-SHA-256 exchange: send clientFirstMessage, pass the server-first-message to
 * handleServerFirst and send what it returns, then verifyServerFinal on the server-final-message.
 * Throws GatehouseError UPSTREAM_UNAVAILABLE; messages never contain the password.
 */
export class ScramClient {
  readonly clientFirstMessage: string;
  private readonly clientFirstBare: string;
  private readonly nonce: string;
  private expectedServerSignature: Buffer | null = null;

  constructor(
    private readonly password: string,
    /** PostgreSQL ignores the SCRAM user name (it uses the startup user), so libpq sends "". */
    opts: { nonce?: string; username?: string } = {},
  ) {
    this.nonce = opts.nonce ?? randomBytes(18).toString('base64');
    const username = (opts.username ?? '').replace(/=/g, '=3D').replace(/,/g, '=2C');
    this.clientFirstBare = `n=${username},r=${this.nonce}`;
    this.clientFirstMessage = GS2_HEADER + this.clientFirstBare;
  }

  /** Takes the server-first-message ("r=…,s=…,i=…") and returns the client-final-message. */
  async handleServerFirst(serverFirst: string): Promise<string> {
    const attrs = parseAttributes(serverFirst, ['r', 's', 'i']);
    const serverNonce = attrs.get('r')!;
    if (!serverNonce.startsWith(this.nonce) || serverNonce.length <= this.nonce.length) {
      throw scramError('server nonce does not extend the client nonce');
    }
    const salt = base64Strict(attrs.get('s')!, 'salt');
    if (salt.length === 0) throw scramError('empty salt');
    const iterText = attrs.get('i')!;
    const iterations = Number(iterText);
    if (!/^\d+$/.test(iterText) || !Number.isSafeInteger(iterations) || iterations < 1) {
      throw scramError('invalid iteration count');
    }

    const salted = await saltedPassword(this.password, salt, iterations);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = sha256(clientKey);
    const serverKey = hmac(salted, 'Server Key');
    const clientFinalWithoutProof = `c=${Buffer.from(GS2_HEADER).toString('base64')},r=${serverNonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = xor(clientKey, clientSignature);
    this.expectedServerSignature = hmac(serverKey, authMessage);
    return `${clientFinalWithoutProof},p=${proof.toString('base64')}`;
  }

  /** Checks the server-final-message ("v=…"): proves the server knew the password verifier. */
  verifyServerFinal(serverFinal: string): void {
    if (this.expectedServerSignature === null) throw scramError('server-final-message before server-first-message');
    if (serverFinal.startsWith('e=')) throw scramError(`server reported "${serverFinal.slice(2, 100)}"`);
    const attrs = parseAttributes(serverFinal, ['v']);
    const signature = base64Strict(attrs.get('v')!, 'server signature');
    if (signature.length !== this.expectedServerSignature.length || !timingSafeEqual(signature, this.expectedServerSignature)) {
      throw scramError('server signature does not match: the server does not know this password');
    }
  }
}
