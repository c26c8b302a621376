// statement.settings of the policy input: the names of the run-time parameters a statement sets or
// resets, from the changes sql/setting-changes.ts finds wherever they are written.

import type { SettingChange } from '../sql/setting-changes.ts';

/**
 * The name standing for a parameter Gatehouse cannot name before the statement runs: a set_config()
 * name that is an expression or a $n parameter, or an UPDATE of pg_settings (its rows are chosen
 * by its WHERE clause). It could be any parameter, role and session_authorization included.
 */
export const ANY_SETTING = '*';

const NO_SETTINGS: readonly string[] = Object.freeze([]);

/**
 * The values bound to the statement's $n parameters at an extended-protocol Execute, or 'unbound'
 * at Parse (and for the simple protocol, which has none).
 */
export type BoundValues = readonly (Buffer | null)[] | 'unbound';

/**
 * Lower-cased parameter names (PostgreSQL looks them up case-insensitively), each once, in the
 * order written; "all" for RESET ALL and DISCARD ALL, ANY_SETTING for a name not known here.
 * A name given as a $n parameter (`set_config($1, $2, false)`) is its bound value at Execute; at
 * Parse it is "$n" — the statement is decided again at every Execute, with the value. SET
 * TRANSACTION and SET SESSION CHARACTERISTICS appear as the parser names them ("transaction",
 * "session characteristics"), as statement.setting does.
 */
export function settingNames(changes: readonly SettingChange[], bound: BoundValues = 'unbound'): string[] {
  // Most statements set nothing: one shared frozen list for them (the decision cache's key memo, policy/input-key-memo.ts, then compares it by reference).
  if (changes.length === 0) return NO_SETTINGS as string[];
  const names = new Set<string>();
  for (const change of changes) names.add(nameOf(change.name, bound));
  return [...names];
}

function nameOf(name: SettingChange['name'], bound: BoundValues): string {
  switch (name.kind) {
    case 'text':
      return name.text.toLowerCase();
    case 'param': {
      if (bound === 'unbound') return `$${name.number}`;
      const value = bound[name.number - 1];
      return value === undefined || value === null ? ANY_SETTING : value.toString('utf8').toLowerCase();
    }
    case 'reset':
    case 'unknown':
      return ANY_SETTING;
    default: {
      const never: never = name;
      throw new Error(`unknown setting name ${JSON.stringify(never)}`);
    }
  }
}
