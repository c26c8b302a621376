import * as cw from '@cedar-policy/cedar-wasm/nodejs';
import { decisionCorpus } from '../gateway/src/bench/decision-timing.ts';
import { loadSqlParser } from '../gateway/src/sql/parser.ts';
import { readCedarPolicySet } from '../gateway/src/policy/cedar-policies.ts';
import { principalEntities, requestsFor } from '../gateway/src/policy/cedar-engine.ts';
await loadSqlParser();
const inputs = decisionCorpus();
const set = await readCedarPolicySet('policies/cedar');
cw.preparsePolicySet('all', { staticPolicies: set.texts });
cw.preparsePolicySet('none', { staticPolicies: {} });
const calls: any[] = [];
for (const input of inputs) { const p = principalEntities(input); for (const r of requestsFor(input)) calls.push({ principal: p[0]!.uid, action: { type: 'Gatehouse::Action', id: r.action }, resource: r.resource.uid, context: r.context, preparsedPolicySetId: 'all', entities: [...p, r.resource] }); }
console.log('calls', calls.length);
let errs = 0; for (const c of calls) { const a: any = cw.statefulIsAuthorized(c); if (a.type !== 'success' || a.response.diagnostics.errors.length) errs++; } console.log('calls with errors', errs);
function t(label: string, make: (c: any) => any, rounds = 20) {
  const cs = calls.map(make); for (let r = 0; r < 10; r++) for (const c of cs) cw.statefulIsAuthorized(c);
  const s = process.cpuUsage(); for (let r = 0; r < rounds; r++) for (const c of cs) cw.statefulIsAuthorized(c);
  const u = process.cpuUsage(s); console.log(label.padEnd(30), ((u.user + u.system) / rounds / cs.length).toFixed(1), 'µs cpu/call');
}
t('warm', (c) => c, 30);
t('as is', (c) => c);
t('no policies', (c) => ({ ...c, preparsedPolicySetId: 'none' }));
t('no policies, empty ctx+ents', (c) => ({ ...c, preparsedPolicySetId: 'none', context: {}, entities: [] }));
t('empty ctx', (c) => ({ ...c, context: {} }));
t('no entities', (c) => ({ ...c, entities: [] }));

t('ctx: only columns', (c) => ({ ...c, context: { columns: c.context.columns } }));
t('ctx: no arrays', (c) => ({ ...c, context: Object.fromEntries(Object.entries(c.context).filter(([, v]) => !Array.isArray(v))) }));
t('no policies, ctx only', (c) => ({ ...c, preparsedPolicySetId: 'none', entities: [] }));
t('no policies, ents only', (c) => ({ ...c, preparsedPolicySetId: 'none', context: {} }));
t('JSON.stringify only', (c) => c);
const s0 = process.cpuUsage(); for (let r = 0; r < 50; r++) for (const c of calls) JSON.stringify(c); const u0 = process.cpuUsage(s0); console.log('stringify', ((u0.user + u0.system) / 50 / calls.length).toFixed(1));
