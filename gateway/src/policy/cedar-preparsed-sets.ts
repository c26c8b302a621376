// A bounded home for Cedar policy sets inside cedar-wasm. cedar-wasm keeps every preparsed set
// in WASM memory under its id and has no way to remove one; preparsing under an id that is
// already taken replaces that set. So sets live in a fixed number of slots: a gateway that
// activates commit after commit reuses the same few slots instead of growing without bound.
// An engine whose set was displaced (several engines in use at once, e.g. `policy diff`) puts
// it back on its next evaluation.

import { createHash } from 'node:crypto';
import { preparsePolicySet } from '@cedar-policy/cedar-wasm/nodejs';
import { GatehouseError } from '../errors.ts';

/**
 * More than the sets in use at once: the slices (cedar-slices.ts: per action and kind of
 * principal) of the active set and a candidate while a commit activates, or of two for a diff.
 */
export const CEDAR_SET_SLOTS = 48;

interface Slot {
  id: string;
  /** Content hash of the set the slot holds, or null while empty. */
  holds: string | null;
  lastUse: number;
}

const slots: Slot[] = Array.from({ length: CEDAR_SET_SLOTS }, (_, i) => ({ id: `gatehouse:slot:${i}`, holds: null, lastUse: 0 }));
let clock = 0;

/** A policy set's identity for the slots: the hash of its texts, in order. */
export function cedarSetKey(texts: Record<string, string>): string {
  return createHash('sha256').update(JSON.stringify(texts)).digest('hex');
}

/**
 * The preparsed-set id under which the set keyed `key` can be evaluated right now. Preparses it
 * into the least recently used slot when no slot holds it. Valid until the next call (callers
 * evaluate synchronously, so nothing else runs in between).
 */
export function preparsedSetId(key: string, texts: Record<string, string>): string {
  clock += 1;
  let victim = slots[0]!;
  for (const slot of slots) {
    if (slot.holds === key) {
      slot.lastUse = clock;
      return slot.id;
    }
    if (slot.lastUse < victim.lastUse) victim = slot;
  }
  const parsed = preparsePolicySet(victim.id, { staticPolicies: texts });
  if (parsed.type === 'failure') {
    // The failed call leaves the slot's previous set in place, but we no longer trust what it holds.
    victim.holds = null;
    victim.lastUse = 0;
    throw new GatehouseError('CONFIG_INVALID', 'Cedar cannot prepare the policy set', {
      detail: parsed.errors.map((e) => e.message).join('\n'),
    });
  }
  victim.holds = key;
  victim.lastUse = clock;
  return victim.id;
}

/** How many slots hold a set (for tests and diagnostics). */
export function cedarSetSlotsInUse(): number {
  return slots.filter((s) => s.holds !== null).length;
}
