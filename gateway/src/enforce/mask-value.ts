// Rewrites one column value according to a masking strategy, aware of the column's type and format.

import { createHmac, randomBytes } from 'node:crypto';
import type { MaskStrategy } from '../policy/types.ts';

/** Type OIDs whose text and binary forms are both plain UTF-8 strings. */
const STRING_TYPES = new Set<number>([
  25, // text
  1043, // varchar
  1042, // bpchar
  19, // name
  18, // "char"
]);

const REDACTED = Buffer.from('***');

/**
 * The key for the 'hash' strategy. Set GATEHOUSE_MASK_HASH_KEY so that every Gatehouse instance
 * produces the same hashes (joins and GROUP BY across sessions); otherwise a random key per process.
 * A keyed hash keeps low-entropy values (SSNs, phone numbers) from being reversed by brute force.
 */
const HASH_KEY = process.env['GATEHOUSE_MASK_HASH_KEY'] ? Buffer.from(process.env['GATEHOUSE_MASK_HASH_KEY']) : randomBytes(32);

/** How one column of a result is rewritten: decided once per RowDescription. */
export type ColumnMask = { strategy: MaskStrategy; asString: boolean };

/** Whether a column of this type can carry a rewritten string; other types are masked to NULL. */
export function maskableAsString(typeOid: number): boolean {
  return STRING_TYPES.has(typeOid);
}

/** The masked replacement for a value (null means SQL NULL). Input NULL stays NULL. */
export function maskValue(value: Buffer | null, mask: ColumnMask): Buffer | null {
  if (value === null) return null;
  if (!mask.asString) return null;
  switch (mask.strategy) {
    case 'null':
    // Fakes are computed at the source (in PostgreSQL); on the way out they can only be withheld.
    case 'fake_ssn':
    case 'fake_phone':
    case 'fake_email':
    case 'fake_date':
      return null;
    case 'redact':
      return REDACTED;
    case 'hash':
      return Buffer.from('h:' + createHmac('sha256', HASH_KEY).update(value).digest('hex').slice(0, 16));
    case 'last4': {
      const chars = Array.from(value.toString('utf8'));
      if (chars.length <= 4) return Buffer.from('*'.repeat(chars.length));
      return Buffer.from('*'.repeat(chars.length - 4) + chars.slice(-4).join(''));
    }
    default: {
      const never: never = mask.strategy;
      throw new Error(`unknown mask strategy ${String(never)}`);
    }
  }
}
