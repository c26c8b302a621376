// The policies added to the example policies by the tests that change the schema through
// Gatehouse, in both engines: members of `schema-admins` may run anything and read and write every
// table; `agents` may read the tables whose qualified name starts with `agentTablePrefix` (scratch
// views and functions the test creates), and clinical.patients masked, as the example policies say.

import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EngineKind } from '../../src/policy/types.ts';
import { REPO_ROOT } from './harness.ts';

export function schemaAdminsRego(ruleId: string, agentTablePrefix: string): string {
  return `package gatehouse

allow contains {"id": "${ruleId}-admins", "reason": "schema admins", "on": "execute"} if member("schema-admins")

allow contains {"id": "${ruleId}-admins", "reason": "schema admins", "on": "read", "table": t} if {
	member("schema-admins")
	some t in input.statement.tables_read
}

allow contains {"id": "${ruleId}-admins", "reason": "schema admins", "on": "write", "table": t} if {
	member("schema-admins")
	some t in input.statement.tables_written
}

allow contains {"id": "${ruleId}-agents-read", "reason": "scratch views", "on": "read", "table": t} if {
	member("agents")
	some t in input.statement.tables_read
	startswith(t, "${agentTablePrefix}")
}
`;
}

/** The same rules in Cedar; `agentTablePrefix` is `schema.name-prefix`. */
export function schemaAdminsCedar(ruleId: string, agentTablePrefix: string): string {
  const dot = agentTablePrefix.indexOf('.');
  const schema = agentTablePrefix.slice(0, dot);
  const name = agentTablePrefix.slice(dot + 1);
  return `@id("${ruleId}-admins")
@reason("schema admins")
permit (principal in Gatehouse::Group::"schema-admins", action, resource);

@id("${ruleId}-agents-read")
@reason("scratch views")
permit (principal in Gatehouse::Group::"agents", action == Gatehouse::Action::"read", resource is Gatehouse::Table)
when { resource.schema == "${schema}" && resource.name like "${name}*" };
`;
}

/** A temporary directory holding the engine's example policies and the schema-admins rules. */
export function schemaAdminsPolicies(engine: EngineKind, ruleId: string, agentTablePrefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-${ruleId}-${engine}-`));
  cpSync(join(REPO_ROOT, 'policies', engine), dir, { recursive: true, filter: (src) => !src.endsWith('_test.rego') });
  const text = engine === 'rego' ? schemaAdminsRego(ruleId, agentTablePrefix) : schemaAdminsCedar(ruleId, agentTablePrefix);
  writeFileSync(join(dir, `${ruleId}_admins.${engine}`), text);
  return dir;
}
