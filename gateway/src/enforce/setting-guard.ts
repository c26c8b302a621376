// Refuses a statement that would change standard_conforming_strings or client_encoding to a value
// under which PostgreSQL would read SQL differently from Gatehouse (sql/session-invariants.ts).
// The decision point asks this before any policy, for every statement, in both protocols.

import { GatehouseError } from '../errors.ts';
import { PARSER_SETTINGS, PARSER_SETTINGS_HINT, parserSetting, unsafeSetting, unsafeSettingStatementError } from '../sql/session-invariants.ts';
import type { SettingChange, SettingValue } from '../sql/setting-changes.ts';

/**
 * The values bound to a statement's $n parameters (text, or the binary form of a text parameter,
 * which is the same bytes), or 'unbound' when the statement is being prepared (Parse): a change
 * that depends on a parameter is then decided when it is executed.
 */
export type BoundParameters = readonly (Buffer | null)[] | 'unbound';

/** Why a statement is refused: the audit reason and the client's error. */
export interface SettingRefusal {
  reason: string;
  error(decisionId: string): GatehouseError;
}

type Resolved = { kind: 'known'; text: string } | { kind: 'reset' } | { kind: 'unknown' } | { kind: 'deferred' };

function resolve(v: SettingValue, params: BoundParameters): Resolved {
  switch (v.kind) {
    case 'text':
      return { kind: 'known', text: v.text };
    case 'reset':
      return { kind: 'reset' };
    case 'unknown':
      return { kind: 'unknown' };
    case 'param': {
      if (params === 'unbound') return { kind: 'deferred' };
      const bound = params[v.number - 1];
      return bound === undefined || bound === null ? { kind: 'unknown' } : { kind: 'known', text: bound.toString('utf8') };
    }
    default: {
      const never: never = v;
      throw new Error(`unknown setting value ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The first change in `changes` that would leave a parser setting unsafe, or null. RESET, SET ...
 * TO DEFAULT and FROM CURRENT are safe: they go back to a value the session started with, which
 * Gatehouse checked at connection time. A name Gatehouse cannot read is refused (it could name a
 * parser setting), and so is a parser setting whose new value it cannot read.
 */
export function settingRefusal(changes: readonly SettingChange[], params: BoundParameters): SettingRefusal | null {
  for (const change of changes) {
    const name = resolve(change.name, params);
    if (name.kind === 'deferred' || name.kind === 'reset') continue;
    if (name.kind === 'unknown') {
      const reason = `${change.origin} with a parameter name Gatehouse cannot read could change ${PARSER_SETTINGS.join(' or ')}`;
      return {
        reason,
        error: (decisionId) =>
          new GatehouseError('UNSAFE_PARSER_SETTING', `Gatehouse does not allow ${reason}`, {
            decisionId,
            detail: `decision ${decisionId}`,
            hint: `Write the parameter name as a string constant. ${PARSER_SETTINGS_HINT}`,
          }),
      };
    }
    if (parserSetting(name.text) === null) continue;
    const value = resolve(change.value, params);
    if (value.kind === 'deferred' || value.kind === 'reset') continue;
    const unsafe = unsafeSetting(name.text, value.kind === 'known' ? value.text : null);
    if (unsafe === null) continue;
    return {
      // The audit record keeps this reason: the value (a literal or a bound parameter) stays out of
      // it, and only the client's own error shows it (red-team round 7, R7-3).
      reason:
        unsafe.value === null
          ? `${change.origin} would set ${unsafe.setting}: ${unsafe.why}`
          : `${change.origin} would set ${unsafe.setting} to a value under which PostgreSQL could read SQL differently from Gatehouse`,
      error: (decisionId) => unsafeSettingStatementError(unsafe, change.origin, decisionId),
    };
  }
  return null;
}
