import { claimAt, claimHas, pickClaims, scopesOf } from './claims';

const claims = {
  sub: 'alice',
  groups: ['staff', 'protes-admin'],
  'https://example.org/roles': ['a.b'],
  realm_access: { roles: ['protes-admin'] },
  tier: 'gold',
};

describe('claims', () => {
  it('are read by exact name first, then as a path into nested objects', () => {
    expect(claimAt(claims, 'https://example.org/roles')).toEqual(['a.b']);
    expect(claimAt(claims, 'realm_access.roles')).toEqual(['protes-admin']);
    expect(claimAt(claims, 'realm_access.missing')).toBeUndefined();
    expect(claimAt(claims, 'tier.x')).toBeUndefined();
  });

  it('hold a value when equal to it or listing it', () => {
    expect(claimHas(claims, 'groups', 'protes-admin')).toBe(true);
    expect(claimHas(claims, 'realm_access.roles', 'protes-admin')).toBe(true);
    expect(claimHas(claims, 'tier', 'gold')).toBe(true);
    expect(claimHas(claims, 'tier', 'gol')).toBe(false);
    expect(claimHas(claims, 'groups', 'protes')).toBe(false);
    expect(claimHas({ groups: 'staff protes-admin' }, 'groups', 'protes-admin')).toBe(false);
  });

  it('give scopes from scope (space-separated) and scp (a list or a string)', () => {
    expect(scopesOf({ scope: 'openid  tes' })).toEqual(['openid', 'tes']);
    expect(scopesOf({ scp: ['tes', 'read'] })).toEqual(['tes', 'read']);
    expect(scopesOf({ scope: 'a', scp: 'b a' })).toEqual(['a', 'b']);
    expect(scopesOf({ scope: 42 })).toEqual([]);
  });

  it('are handed on only when allow-listed, as copies', () => {
    const picked = pickClaims(claims, ['groups', 'realm_access.roles', 'email']);
    expect(picked).toEqual({ groups: claims.groups, 'realm_access.roles': ['protes-admin'] });
    expect(picked.groups).not.toBe(claims.groups);
  });
});
