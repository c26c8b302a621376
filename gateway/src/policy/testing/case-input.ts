// Turns a test case into what an engine evaluates, the way the gateway does: SQL goes through
// analyzeQuery and buildPolicyInput, and what decideQuery refuses before asking any policy (SQL that
// does not parse, reserved prepared-statement names) is a deny here too.

import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { reservedNameUse } from '../../enforce/reserved-names.ts';
import { emptyFacts } from '../../sql/facts-extract.ts';
import { analyzeQuery } from '../../sql/parser.ts';
import type { ParsedStatement } from '../../sql/facts.ts';
import { buildPolicyInput } from '../input.ts';
import type { EngineVerdict, Identity, PolicyInput, SessionInfo } from '../types.ts';
import type { PolicyTestCase } from './types.ts';

/** Defaults for what a case leaves out (documented in docs/policy-testing.md). */
export const CASE_DEFAULTS = {
  issuer: 'https://idp.example.test',
  sessionId: 'policy-test',
  clientAddress: '127.0.0.1',
  applicationName: 'gatehouse-policy-test',
  database: 'postgres',
  tls: true,
} as const;

/** A case that cannot be evaluated as written (several statements, an input that is not a valid policy input). */
export class CaseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaseError';
  }
}

export type CaseEvaluation =
  /** Ask the engine about this input. */
  | { type: 'input'; input: PolicyInput }
  /** The gateway decides this without any policy (the same for every engine). */
  | { type: 'gateway'; verdict: EngineVerdict };

/** Needs loadSqlParser() to have resolved. Throws CaseError for a case that is wrong as written. */
export function evaluationFor(c: PolicyTestCase): CaseEvaluation {
  const identity = caseIdentity(c);
  const session = caseSession(c);
  switch (c.statement.type) {
    case 'sql': {
      const { sql, protocol, searchPath } = c.statement;
      const outcome = analyzeQuery(sql, { searchPath });
      if (!outcome.ok) {
        return { type: 'gateway', verdict: gatewayDeny(`statement could not be parsed: ${outcome.error}`) };
      }
      if (outcome.statements.length !== 1) {
        throw new CaseError(`sql holds ${outcome.statements.length} statements; write one statement per case`);
      }
      const parsed = outcome.statements[0] as ParsedStatement;
      const reserved = reservedNameUse(parsed);
      if (reserved !== null) return { type: 'gateway', verdict: gatewayDeny(reserved) };
      return { type: 'input', input: buildPolicyInput({ identity, session, text: parsed.text, protocol, facts: parsed.facts }) };
    }
    case 'input': {
      const input = inputFromStatement(identity, session, c.statement.statement);
      const problems = policyInputProblems(input);
      if (problems.length > 0) throw new CaseError(`input is not a valid policy input statement: ${problems.join('; ')}`);
      return { type: 'input', input };
    }
    default: {
      const never: never = c.statement;
      throw new Error(`unknown case statement ${String(never)}`);
    }
  }
}

function caseIdentity(c: PolicyTestCase): Identity {
  const id = c.identity;
  return { subject: id.subject, issuer: id.issuer ?? CASE_DEFAULTS.issuer, groups: id.groups ?? [], roles: id.roles ?? [], name: id.name ?? null };
}

function caseSession(c: PolicyTestCase): SessionInfo {
  const s = c.session;
  return {
    id: CASE_DEFAULTS.sessionId,
    clientAddress: CASE_DEFAULTS.clientAddress,
    applicationName: s.application_name ?? CASE_DEFAULTS.applicationName,
    database: s.database ?? CASE_DEFAULTS.database,
    user: s.user ?? c.identity.subject,
    tls: s.tls ?? CASE_DEFAULTS.tls,
  };
}

/** A hand-written statement part over the facts of an empty statement: fields left out are empty, false or null. */
function inputFromStatement(identity: Identity, session: SessionInfo, statement: Partial<PolicyInput['statement']>): PolicyInput {
  const base = buildPolicyInput({
    identity,
    session,
    text: '',
    protocol: 'simple',
    facts: emptyFacts(),
  });
  return { ...base, statement: { ...base.statement, ...statement } };
}

function gatewayDeny(reason: string): EngineVerdict {
  return { action: 'deny', reason, policies: [], masks: [] };
}

const POLICY_INPUT_SCHEMA_URL = new URL('../../../../schemas/policy-input.schema.json', import.meta.url);
let inputValidator: ValidateFunction | null = null;

function policyInputProblems(input: PolicyInput): string[] {
  inputValidator ??= new Ajv2020({ allErrors: true, strict: false }).compile(
    JSON.parse(readFileSync(POLICY_INPUT_SCHEMA_URL, 'utf8')) as Record<string, unknown>,
  );
  if (inputValidator(input)) return [];
  return (inputValidator.errors ?? []).map((e) => `${e.instancePath.replace(/^\/statement\/?/, '') || 'statement'} ${e.message ?? 'is invalid'}`);
}
