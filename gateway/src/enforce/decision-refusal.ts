// Why a decision refuses its statement: the error (stable code, SQLSTATE, hint) the client sees.

import { GatehouseError } from '../errors.ts';
import type { Decision } from '../policy/types.ts';
import { EVAL_BUDGET_POLICY_ID, EVAL_COOLDOWN_POLICY_ID } from '../policy/evaluate.ts';
import { VIEW_LOCKED_POLICY_ID } from './view-locks.ts';
import { RELATION_LOCKED_POLICY_ID } from './table-locks.ts';
import { CATALOG_STALE_POLICY_ID } from './decision-context.ts';

/** Why a decision refuses the statement, as the error the client sees; null when it may run. */
export function refusalFor(decision: Decision): GatehouseError | null {
  switch (decision.action) {
    case 'allow':
      return null;
    case 'mask':
      return null; // applied at the source (applyMasks), or refused there
    case 'deny':
      if (decision.policies[0] === EVAL_BUDGET_POLICY_ID || decision.policies[0] === EVAL_COOLDOWN_POLICY_ID) {
        const what = decision.policies[0] === EVAL_BUDGET_POLICY_ID ? 'stopped the policy evaluation for this statement' : 'refused this statement without evaluating it';
        return new GatehouseError('POLICY_EVAL_BUDGET', `Gatehouse ${what}, so it was not run: ${decision.reason}`, {
          decisionId: decision.id,
          detail: `decision ${decision.id}; revision ${decision.revision}`,
          hint: 'The active policy has a rule that is too slow (or loops) for this statement; retrying will not help. Tell the policy owners: the policy revision and decision id are in the detail.',
        });
      }
      if (decision.policies[0] === CATALOG_STALE_POLICY_ID || decision.policies[0] === VIEW_LOCKED_POLICY_ID) {
        return new GatehouseError('CATALOG_STALE', `Gatehouse refused this statement: ${decision.reason}`, {
          decisionId: decision.id,
          detail: `decision ${decision.id}`,
          hint:
            decision.policies[0] === VIEW_LOCKED_POLICY_ID
              ? 'Try again when the transaction changing the view has ended (pg_locks shows which one holds it).'
              : 'Try again in a moment; if it persists, tell the operator (the Gatehouse log says why the catalog could not be read).',
        });
      }
      if (decision.policies[0] === RELATION_LOCKED_POLICY_ID) {
        return new GatehouseError('RELATION_LOCKED', `Gatehouse refused this statement: ${decision.reason}`, {
          decisionId: decision.id,
          detail: `decision ${decision.id}`,
          hint: 'Retry after the transaction changing it commits or rolls back (pg_locks shows which backend holds it).',
        });
      }
      return new GatehouseError('POLICY_DENIED', `Gatehouse policy denied this statement: ${decision.reason}`, {
        decisionId: decision.id,
        detail: `decision ${decision.id}; policies: ${decision.policies.join(', ') || '(none)'}; revision ${decision.revision}`,
        hint: 'Ask a security engineer to change the policy through a pull request if this access is needed.',
      });
    case 'approve':
      return new GatehouseError('APPROVAL_REQUIRED', `Gatehouse policy requires approval for this statement: ${decision.reason}`, {
        decisionId: decision.id,
        detail: `decision ${decision.id}; policies: ${decision.policies.join(', ')}; revision ${decision.revision}`,
        hint: 'Approvals are not set up where this statement was decided, so it was not run (docs/approvals.md).',
      });
    default: {
      const never: never = decision.action;
      throw new Error(`unknown action ${String(never)}`);
    }
  }
}
