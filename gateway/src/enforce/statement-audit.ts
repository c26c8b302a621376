// The "statement" audit record of each decided statement, and its break-glass sealed copy.

import { redactStatementText } from '../audit/redact.ts';
import { REDACTED_STATEMENT } from '../audit/redacted-statement.ts';
import { sealedParameters, type Sealer } from '../audit/seal.ts';
import { AUDIT_RECORD_VERSION } from '../audit/types.ts';
import { recordTime } from '../audit/record-time.ts';
import { GatehouseError } from '../errors.ts';
import type { Identity, PolicyInput } from '../policy/types.ts';
import type { BoundParameters } from './setting-guard.ts';
import type { DecisionContext } from './decision-context.ts';
import type { DecidedStatement } from './decided-statement.ts';
import { mapInSlices, type SliceStop } from '../work-slices.ts';

/** Writes the "statement" audit record for each decided statement; throws AUDIT_WRITE_FAILED if it cannot. */
export function auditStatements(ctx: DecisionContext, statements: DecidedStatement[], parameters: BoundParameters = 'unbound'): void {
  try {
    for (const s of statements) {
      const d = s.decision;
      // What was applied, not what could have been: a mask decision whose statement reads no masked
      // column is recorded as `allow` with no masks (its reason and policies stay the policy's).
      const applied = d.action === 'mask' ? s.applied : undefined;
      // Literals out, by the shape the parse already found: the record carries it to the sink's
      // redaction (audit/redact.ts), and the recording takes it, instead of normalizing the text again.
      const redacted = redactStatementText(s.text, s.parsed !== null, s.parsed?.shape);
      ctx.audit.write({
        v: AUDIT_RECORD_VERSION,
        type: 'statement',
        time: recordTime(),
        decision_id: d.id,
        session_id: ctx.session.id,
        identity: s.input?.identity ?? identityOf(ctx.identity),
        client_address: ctx.session.clientAddress,
        application_name: ctx.session.applicationName,
        statement: s.text,
        [REDACTED_STATEMENT]: redacted,
        ...(s.forwarded ? { forwarded: s.forwarded } : {}),
        ...(ctx.seal ? { sealed: sealStatement(ctx.seal, s, parameters) } : {}),
        fingerprint: s.parsed?.facts.fingerprint ?? '',
        input: s.input,
        decision: applied?.length === 0 ? 'allow' : d.action,
        reason: d.reason,
        policies: d.policies,
        masks: applied ?? d.masks.map(({ table, column, strategy }) => ({ table, column, strategy })),
        engine: d.engine,
        revision: d.revision,
      });
      ctx.recorder?.statement({ decision_id: d.id, statement: redacted, decision: applied?.length === 0 ? 'allow' : d.action, reason: d.reason });
    }
  } catch (e) {
    if (e instanceof GatehouseError) throw e; // the sink's own refusal (disk full, outage) says why
    throw new GatehouseError('AUDIT_WRITE_FAILED', 'Gatehouse could not write the audit record for this statement, so it was not run', {
      cause: e,
      hint: 'The audit log is unavailable; tell the Gatehouse operator (disk full or audit file not writable).',
    });
  }
}

/**
 * auditStatements for the statements of a long string, a few milliseconds at a time (work-slices.ts):
 * at once when they fit in one slice, else a Promise that resolves once every record is written (or
 * rejects as auditStatements throws). One statement: auditStatements itself. `stop` set between slices:
 * rejects with SlicesStopped, whose `done` records were written (the others are the caller's).
 */
export function auditStatementsInSlices(ctx: DecisionContext, statements: DecidedStatement[], parameters: BoundParameters = 'unbound', stop?: SliceStop): void | Promise<void> {
  if (statements.length <= 1) return auditStatements(ctx, statements, parameters);
  const written = mapInSlices(statements.length, (i) => auditStatements(ctx, [statements[i]!], parameters), undefined, stop);
  return written instanceof Promise ? written.then(() => undefined) : undefined;
}

/** The break-glass copy of a statement as sent: its text, the forwarded text, its parameters. */
export function sealStatement(seal: Sealer, s: DecidedStatement, parameters: BoundParameters): string {
  return seal({
    decision_id: s.decision.id,
    statement: s.text,
    ...(s.forwarded ? { forwarded: s.forwarded } : {}),
    ...(parameters === 'unbound' ? {} : { parameters: sealedParameters(parameters) }),
  });
}

/** The identity as audit records carry it. */
function identityOf(identity: Identity): PolicyInput['identity'] {
  return { subject: identity.subject, issuer: identity.issuer, groups: identity.groups, roles: identity.roles, name: identity.name };
}
