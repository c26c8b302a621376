import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser } from '../sql/parser.ts';
import type { Identity, SessionInfo } from '../policy/types.ts';
import { HORIZON_SELECT, identityHorizonBase, identityHorizonInput } from './identity-horizon.ts';

const identity: Identity = { subject: 'agent-1', issuer: 'test', groups: ['agents'], roles: [], name: null };
const session: SessionInfo = { id: 's1', clientAddress: '', applicationName: '', database: 'postgres', user: '', tls: false };

describe('identity horizon', () => {
  beforeAll(async () => {
    await loadSqlParser();
  });

  it("is the identity's SELECT of every relation, whatever statement the client sent", () => {
    const base = identityHorizonBase(identity, session);
    expect(base.identity.subject).toBe('agent-1');
    expect(base.statement.text).toBe(HORIZON_SELECT);
    expect(base.statement.kind).toBe('select');
    expect(base.statement.tables_written).toEqual([]);
    const horizon = { tables: ['clinical.patients', 'public.t'], digest: 'd' };
    const input = identityHorizonInput(base, horizon);
    expect(input.statement.tables_read).toEqual(['clinical.patients', 'public.t']);
    expect(input.identity).toBe(base.identity);
  });

  it('is made once per identity and session, and its probe once per horizon', () => {
    const base = identityHorizonBase(identity, session);
    expect(identityHorizonBase(identity, session)).toBe(base);
    expect(identityHorizonBase(identity, { ...session })).not.toBe(base);
    const h1 = { tables: ['a.b'], digest: '1' };
    const h2 = { tables: ['a.b', 'a.c'], digest: '2' };
    const first = identityHorizonInput(base, h1);
    expect(identityHorizonInput(base, h1)).toBe(first);
    expect(identityHorizonInput(base, h2).statement.tables_read).toEqual(['a.b', 'a.c']);
  });
});
