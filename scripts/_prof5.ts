import * as cw from '@cedar-policy/cedar-wasm/nodejs';
import { decisionCorpus } from '../gateway/src/bench/decision-timing.ts';
import { loadSqlParser } from '../gateway/src/sql/parser.ts';
import { readCedarPolicySet } from '../gateway/src/policy/cedar-policies.ts';
import { cedarSlices } from '../gateway/src/policy/cedar-slices.ts';
await loadSqlParser();
const inputs = decisionCorpus();
const set = await readCedarPolicySet('policies/cedar');
const sl = cedarSlices(set.texts);
for (const [a, s] of Object.entries(sl)) cw.preparsePolicySet('s:' + a, { staticPolicies: s.texts });
cw.preparsePolicySet('none', { staticPolicies: {} });
const calls: any[] = [];
for (const input of inputs) {
  const groups = [...input.identity.groups];
  const ents = [{ uid: { type: 'Gatehouse::Agent', id: input.identity.subject }, attrs: { issuer: input.identity.issuer }, parents: groups.map((id) => ({ type: 'Gatehouse::Group', id })) }, ...groups.map((id) => ({ uid: { type: 'Gatehouse::Group', id }, attrs: {}, parents: [] }))];
  const s = input.statement;
  const ctx = { functions: s.functions, user_functions: s.user_functions ?? [], kind: s.kind, runs_sql_text: s.runs_sql_text, unbounded_writes: s.unbounded_writes, settings: s.settings, locks_rows: s.locks_rows };
  calls.push({ principal: ents[0].uid, action: { type: 'Gatehouse::Action', id: 'execute' }, resource: { type: 'Gatehouse::Database', id: 'postgres' }, context: ctx, preparsedPolicySetId: 's:execute', entities: [...ents, { uid: { type: 'Gatehouse::Database', id: 'postgres' }, attrs: { name: 'postgres' }, parents: [] }] });
  for (const t of s.tables_read) calls.push({ principal: ents[0].uid, action: { type: 'Gatehouse::Action', id: 'read' }, resource: { type: 'Gatehouse::Table', id: t }, context: { functions: s.functions }, preparsedPolicySetId: 's:read', entities: [...ents, { uid: { type: 'Gatehouse::Table', id: t }, attrs: { schema: t.split('.')[0], name: t.split('.')[1] }, parents: [] }] });
}
function t(label: string, make: (c: any) => any, rounds = 30) {
  const cs = calls.map(make); for (let r = 0; r < 10; r++) for (const c of cs) cw.statefulIsAuthorized(c);
  const s = process.cpuUsage(); for (let r = 0; r < rounds; r++) for (const c of cs) cw.statefulIsAuthorized(c);
  const u = process.cpuUsage(s); console.log(label.padEnd(30), ((u.user + u.system) / rounds / cs.length).toFixed(1), 'µs cpu/call');
}
t('warm', (c) => c);
t('sliced', (c) => c);
t('no policies', (c) => ({ ...c, preparsedPolicySetId: 'none' }));
t('no policies, no ctx', (c) => ({ ...c, preparsedPolicySetId: 'none', context: {} }));
t('no policies, no ctx, no ents', (c) => ({ ...c, preparsedPolicySetId: 'none', context: {}, entities: [] }));
t('sliced, no group ents', (c) => ({ ...c, entities: [c.entities[0], c.entities[c.entities.length - 1]] }));
t('sliced again', (c) => c);
