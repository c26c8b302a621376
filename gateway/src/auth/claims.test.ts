import { describe, expect, it } from 'vitest';
import { identityFromClaims, readListClaim } from './claims.ts';

describe('readListClaim', () => {
  it('keeps array items exactly as written: names that only look alike stay different (R6-A6)', () => {
    expect(readListClaim({ groups: ['clinical-leads ', ' clinical-leads', 'clinical-leads\t', 'clinical-leads'] }, 'groups')).toEqual([
      'clinical-leads ',
      ' clinical-leads',
      'clinical-leads\t',
      'clinical-leads',
    ]);
    expect(readListClaim({ groups: ['a', '', 'a'] }, 'groups')).toEqual(['a']);
  });

  it('splits a string on spaces and commas, and refuses other shapes', () => {
    expect(readListClaim({ scope: 'read write,admin ' }, 'scope')).toEqual(['read', 'write', 'admin']);
    expect(readListClaim({ realm: { roles: ['x'] } }, 'realm.roles')).toEqual(['x']);
    expect(readListClaim({}, 'groups')).toEqual([]);
    expect(() => readListClaim({ groups: [1] }, 'groups')).toThrow(/must be a string or an array of strings/);
  });

  it('an identity keeps its groups and roles as the token names them', () => {
    const id = identityFromClaims({ sub: 'lead', iss: 'https://idp.test', groups: ['clinical-leads '], roles: [' approver'] }, { groupsClaim: 'groups', rolesClaim: 'roles' });
    expect([id.groups, id.roles]).toEqual([['clinical-leads '], [' approver']]);
  });
});
