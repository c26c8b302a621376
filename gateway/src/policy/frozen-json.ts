// JSON.stringify for values that are often frozen objects shared between many documents (the
// identity and session parts of policy inputs, in decision-cache keys): a frozen object's JSON is
// made once and kept while the object lives. Anything else is serialized as JSON.stringify would.

const made = new WeakMap<object, string>();

export function frozenJson(value: unknown): string | undefined {
  // The values most keys and records hold besides frozen parts (null, booleans, empty lists) need no
  // call: about 70 ns each through JSON.stringify, and a decision-cache key holds a dozen of them.
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value) && value.length === 0 && !('toJSON' in value)) return '[]';
  if (!Object.isFrozen(value)) return JSON.stringify(value);
  const known = made.get(value);
  if (known !== undefined) return known;
  const json = JSON.stringify(value);
  // Frozen is shallow: an object inside may still change, so only a tree frozen throughout is kept.
  if (deepFrozen(value)) made.set(value, json);
  return json;
}

function deepFrozen(value: object): boolean {
  if (!Object.isFrozen(value)) return false;
  for (const v of Object.values(value)) if (typeof v === 'object' && v !== null && !deepFrozen(v)) return false;
  return true;
}

/**
 * Whether `value` is an object frozen throughout whose JSON frozenJson() has made: it can never
 * change again (freezing cannot be undone), so the same object always has that JSON.
 */
export function isFrozenThroughout(value: object): boolean {
  return made.has(value);
}

/** Objects found frozen throughout by frozenThroughout() (frozen they stay: the answer never changes). */
const deep = new WeakSet<object>();

/** Whether `value` and every object inside it are frozen (made JSON or not); each object walked once. */
export function frozenThroughout(value: object): boolean {
  if (made.has(value) || deep.has(value)) return true;
  if (!deepFrozen(value)) return false;
  deep.add(value);
  return true;
}
