// Policies for a red-team round's writers under a mask, added to the example policies of one engine:
// `<prefix>-writers` read clinical.patients with the example masks and the `secret` column of the
// masked tables redacted, read the plain tables as they are, write the writable ones, and vouch for
// the reviewed trigger functions; `<prefix>-admins` read everything raw and write one table. The same
// rules in Rego and Cedar (redteam-round10 and redteam-round17a use them).

import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineKind } from '../../src/policy/types.ts';
import { REPO_ROOT } from './harness.ts';

export interface WriterPolicies {
  /** Names the groups (`<prefix>-writers`, `<prefix>-admins`), the rule ids and the policy file. */
  prefix: string;
  /** Tables whose `secret` column the writers read redacted. */
  masked: readonly string[];
  /** Tables the writers read unmasked. */
  plain: readonly string[];
  /** Tables the writers may write. */
  writable: readonly string[];
  /** Trigger functions the writers' policy lists as reviewed (by name, or "schema.name@sha256:..."). */
  reviewed: readonly string[];
  /** The one table the admins may write. */
  adminWrites: string;
}

const setLiteral = (tables: readonly string[]): string => `{${tables.map((t) => JSON.stringify(t)).join(', ')}}`;
const cedarList = (tables: readonly string[]): string => `[${tables.map((t) => `Gatehouse::Table::"${t}"`).join(', ')}]`;

export function writerRego(p: WriterPolicies): string {
  const x = p.prefix;
  return `package gatehouse

mask contains {"id": "${x}-writers-patients", "reason": "${x} writers read patients masked", "on": "read", "table": t, "column": column, "strategy": strategy} if {
	member("${x}-writers")
	some t in input.statement.tables_read
	t == "clinical.patients"
	some column, strategy in patient_masks
}

mask contains {"id": "${x}-writers-secrets", "reason": "${x} writers read secrets masked", "on": "read", "table": t, "column": "secret", "strategy": "redact"} if {
	member("${x}-writers")
	some t in input.statement.tables_read
	t in ${setLiteral(p.masked)}
}

allow contains {"id": "${x}-writers-read", "reason": "${x} tables without secrets", "on": "read", "table": t} if {
	member("${x}-writers")
	some t in input.statement.tables_read
	t in ${setLiteral(p.plain)}
}

allow contains {"id": "${x}-writers-write", "reason": "${x} writers may write", "on": "write", "table": t} if {
	member("${x}-writers")
	some t in input.statement.tables_written
	t in ${setLiteral(p.writable)}
}

# Entries by name or pinned to a definition ("schema.name@sha256:..."); Gatehouse keeps those the statement fires.
reviewed contains f if {
	some f in ${setLiteral(p.reviewed)}
}

# An identity without masks: reads every table raw, so a trigger cannot show it more than it may see.
allow contains {"id": "${x}-admins-read", "reason": "${x} admins read everything", "on": "read", "table": t} if {
	member("${x}-admins")
	some t in input.statement.tables_read
}

allow contains {"id": "${x}-admins-write", "reason": "${x} admins may write the log", "on": "write", "table": "${p.adminWrites}"} if {
	member("${x}-admins")
	"${p.adminWrites}" in input.statement.tables_written
}
`;
}

export function writerCedar(p: WriterPolicies): string {
  const x = p.prefix;
  return `@id("${x}-writers-patients")
@reason("${x} writers read patients masked")
@mask("mrn:hash,first_name:redact,last_name:redact,ssn:redact,date_of_birth:fake_date,phone:last4,email:hash,address:null")
permit (principal in Gatehouse::Group::"${x}-writers", action == Gatehouse::Action::"read", resource == Gatehouse::Table::"clinical.patients");

@id("${x}-writers-secrets")
@reason("${x} writers read secrets masked")
@mask("secret:redact")
permit (principal in Gatehouse::Group::"${x}-writers", action == Gatehouse::Action::"read", resource is Gatehouse::Table)
when { ${cedarList(p.masked)}.contains(resource) };

@id("${x}-writers-read")
@reason("${x} tables without secrets")
permit (principal in Gatehouse::Group::"${x}-writers", action == Gatehouse::Action::"read", resource is Gatehouse::Table)
when { ${cedarList(p.plain)}.contains(resource) };

@id("${x}-writers-write")
@reason("${x} writers may write")
@reviewed("${p.reviewed.join(', ')}")
permit (principal in Gatehouse::Group::"${x}-writers", action == Gatehouse::Action::"write", resource is Gatehouse::Table)
when { ${cedarList(p.writable)}.contains(resource) };

@id("${x}-admins-read")
@reason("${x} admins read everything")
permit (principal in Gatehouse::Group::"${x}-admins", action == Gatehouse::Action::"read", resource is Gatehouse::Table);

@id("${x}-admins-write")
@reason("${x} admins may write the log")
permit (principal in Gatehouse::Group::"${x}-admins", action == Gatehouse::Action::"write", resource == Gatehouse::Table::"${p.adminWrites}");
`;
}

/** A directory with the example policies of `engine` (their tests left out) and the writers' policies added. */
export function writerPolicyDir(engine: EngineKind, p: WriterPolicies): string {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${p.prefix}-${engine}-`));
  cpSync(join(REPO_ROOT, 'policies', engine), dir, { recursive: true, filter: (src) => !src.endsWith('_test.rego') });
  writeFileSync(join(dir, engine === 'rego' ? `${p.prefix}_writers.rego` : `${p.prefix}_writers.cedar`), engine === 'rego' ? writerRego(p) : writerCedar(p));
  return dir;
}
