/** Reading claims the way the configuration names them. */

type Claims = Readonly<Record<string, unknown>>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The claim `name`: the top-level claim of that exact name when there is one (namespaced claims
 * are URLs full of dots, `https://example.org/groups`), else a path into nested objects
 * (`realm_access.roles`, as Keycloak nests its roles).
 */
export function claimAt(claims: Claims, name: string): unknown {
  if (Object.hasOwn(claims, name)) return claims[name];
  let node: unknown = claims;
  for (const part of name.split('.')) {
    if (!isRecord(node) || !Object.hasOwn(node, part)) return undefined;
    node = node[part];
  }
  return node;
}

/** The claim equals `value`, or is a list holding it. */
export function claimHas(claims: Claims, name: string, value: string): boolean {
  const claim = claimAt(claims, name);
  return claim === value || (Array.isArray(claim) && claim.includes(value));
}

/** OAuth2 scopes: `scope` is one space-separated string (RFC 8693), some issuers send `scp`. */
export function scopesOf(claims: Claims): string[] {
  const scopes = new Set<string>();
  for (const claim of [claims.scope, claims.scp]) {
    const list = typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [];
    for (const scope of list) if (typeof scope === 'string' && scope !== '') scopes.add(scope);
  }
  return [...scopes];
}

/** Only the allow-listed claims, copied: what middlewares may see of a token. */
export function pickClaims(claims: Claims, names: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const name of names) {
    const value = claimAt(claims, name);
    if (value !== undefined) picked[name] = structuredClone(value);
  }
  return picked;
}
