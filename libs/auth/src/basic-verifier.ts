import { AuthenticationError } from './auth-errors';
import { type AuthSettings, isAdministrator } from './auth-settings';
import { type PasswordHash, verifyPassword } from './password-hash';
import { BASIC_ISSUER, ownerIdOf, type Principal } from './principal';

/**
 * Basic authentication against `auth.basic.users`. An unknown user costs the same scrypt as a
 * known one, so that the time of an answer does not tell which user names exist.
 */
export class BasicVerifier {
  private readonly decoy?: PasswordHash;

  constructor(private readonly settings: AuthSettings) {
    this.decoy = settings.basicUsers.values().next().value;
  }

  get enabled(): boolean {
    return this.settings.basicUsers.size > 0;
  }

  async verify(username: string, password: string): Promise<Principal> {
    const hash = this.settings.basicUsers.get(username);
    const matches = await verifyPassword(password, hash ?? (this.decoy as PasswordHash));
    if (!hash || !matches) {
      throw new AuthenticationError('wrong user name or password', undefined, 'Basic');
    }
    const owner = ownerIdOf(BASIC_ISSUER, username);
    return {
      issuer: BASIC_ISSUER,
      subject: username,
      owner,
      admin: isAdministrator(this.settings.admin, owner, {}),
      scopes: [],
      claims: {},
      visas: [],
    };
  }
}
