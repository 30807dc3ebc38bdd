import { AuthenticationError, KeysUnavailableError } from './auth-errors';
import { tokenError } from './jwt-passport';

const jsonwebtoken = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('tokenError', () => {
  it.each([
    [jsonwebtoken('TokenExpiredError', 'jwt expired'), /expired \(exp\)/],
    [jsonwebtoken('NotBeforeError', 'jwt not active'), /not valid yet \(nbf\)/],
    [jsonwebtoken('JsonWebTokenError', 'jwt audience invalid. expected: a or b'), /\(aud\)/],
    [jsonwebtoken('JsonWebTokenError', 'jwt issuer invalid. expected: https://x'), /\(iss\)/],
    [jsonwebtoken('JsonWebTokenError', 'invalid signature'), /signature does not verify/],
    [jsonwebtoken('JsonWebTokenError', 'invalid algorithm'), /algorithm \(alg\)/],
    [jsonwebtoken('JsonWebTokenError', 'jwt malformed'), /not a valid JWT/],
    [jsonwebtoken('JsonWebTokenError', 'invalid exp value'), /time claim/],
  ])('says what is wrong with the token in our words: %s', (error, message) => {
    const mapped = tokenError(error);
    expect(mapped).toBeInstanceOf(AuthenticationError);
    expect((mapped as AuthenticationError).code).toBe('invalid_token');
    expect(mapped.message).toMatch(message);
    // jsonwebtoken's messages name the expected audience or issuer: ours do not.
    expect(mapped.message).not.toMatch(/expected/);
  });

  it('passes our own errors on, and keeps faults that are not about the token', () => {
    const ours = new KeysUnavailableError('down');
    expect(tokenError(ours)).toBe(ours);
    const bug = new TypeError('x is undefined');
    expect(tokenError(bug)).toBe(bug);
  });
});
