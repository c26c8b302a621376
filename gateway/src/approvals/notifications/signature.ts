// The signed webhook's HMAC-SHA256: the key is the target's secret, the message is
// "<timestamp>.<body>" (timestamp: Unix seconds, sent in X-Gatehouse-Timestamp), and the signature
// is sent as "sha256=<hex>" in X-Gatehouse-Signature. A receiver recomputes it over the raw body.

import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-gatehouse-signature';
export const TIMESTAMP_HEADER = 'x-gatehouse-timestamp';
export const DELIVERY_HEADER = 'x-gatehouse-delivery';
/** Which attempt of the delivery this is, from 1. */
export const ATTEMPT_HEADER = 'x-gatehouse-attempt';

export function signBody(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * What a receiver does (and the tests do): the signature matches the raw body and timestamp, and the
 * timestamp is within `toleranceSeconds` of now (a replayed old delivery is refused).
 */
export function verifySignature(q: { secret: string; body: string; timestamp: string | undefined; signature: string | undefined; nowSeconds: number; toleranceSeconds?: number }): boolean {
  if (q.timestamp === undefined || q.signature === undefined || !/^\d{1,12}$/.test(q.timestamp)) return false;
  const ts = Number(q.timestamp);
  if (Math.abs(q.nowSeconds - ts) > (q.toleranceSeconds ?? 300)) return false;
  const expected = Buffer.from(signBody(q.secret, ts, q.body));
  const given = Buffer.from(q.signature);
  return expected.length === given.length && timingSafeEqual(expected, given);
}
