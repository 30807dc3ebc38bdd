import type { ExecutionContext } from '@nestjs/common';
import { AuthGuard, type IAuthGuard, PassportStrategy } from '@nestjs/passport';
import type { JWTPayload } from 'jose';
import passport from 'passport';
import { ExtractJwt, Strategy } from 'passport-jwt';
import {
  AuthenticationError,
  invalidToken,
  KeysUnavailableError,
  PermissionError,
} from './auth-errors';
import type { JwtVerifier, VerifiedToken } from './jwt-verifier';

/** The errors jsonwebtoken reports through passport-jwt, by name. */
const JSONWEBTOKEN_ERRORS = ['JsonWebTokenError', 'TokenExpiredError', 'NotBeforeError'];

/** What went wrong with a token, for the client: jsonwebtoken's reasons in our words. */
export function tokenError(info: unknown): Error {
  if (
    info instanceof AuthenticationError ||
    info instanceof PermissionError ||
    info instanceof KeysUnavailableError
  ) {
    return info;
  }
  const { name = '', message = '' } = (info ?? {}) as { name?: string; message?: string };
  if (!JSONWEBTOKEN_ERRORS.includes(name)) {
    // Not a verdict on the token: a fault of ours, answered 500 with an id that is logged.
    return info instanceof Error ? info : new Error(`token verification failed: ${String(info)}`);
  }
  if (name === 'TokenExpiredError') return invalidToken('the token has expired (exp)');
  if (name === 'NotBeforeError') return invalidToken('the token is not valid yet (nbf)');
  if (message.startsWith('jwt audience invalid')) {
    return invalidToken('the token is not meant for this service (aud)');
  }
  if (message.startsWith('jwt issuer invalid')) {
    return invalidToken("the token's issuer (iss) is not one this service trusts");
  }
  if (message === 'invalid signature') {
    return invalidToken("the token's signature does not verify with its issuer's key");
  }
  if (message === 'invalid algorithm' || message.startsWith('secretOrPublicKey must be')) {
    return invalidToken("the token's signature algorithm (alg) is not accepted");
  }
  if (message === 'jwt signature is required') return invalidToken('the token is not signed');
  if (/^invalid (exp|nbf|iat) value/.test(message)) {
    return invalidToken('a time claim of the token (exp, nbf, iat) is not a number');
  }
  return invalidToken('the token is not a valid JWT');
}

let instances = 0;

export interface PassportJwt {
  /** Runs passport-jwt on the request; the verified token is then in `request.user`. */
  readonly guard: IAuthGuard;
  /** Forgets the strategy (passport's registry is global to the process). */
  dispose(): void;
}

/**
 * passport-jwt under @nestjs/passport: the key comes from the token's issuer (JwtVerifier.keyFor),
 * jsonwebtoken checks signature, algorithm, `iss`, `aud`, `exp` and `nbf` (with the clock skew),
 * and `validate` makes the principal. The strategy is registered under a name of its own because
 * passport's registry is one per process and every application (tests make several) has its own
 * issuers.
 */
export function passportJwt(verifier: JwtVerifier): PassportJwt {
  const name = `protes-jwt-${++instances}`;
  const { clockTolerance, ...checks } = verifier.verifyOptions;

  class ProtesJwtStrategy extends PassportStrategy(Strategy, name) {
    constructor() {
      super({
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        // jsonwebtoken takes a KeyObject, which the typings (string | Buffer) do not list.
        secretOrKeyProvider: (
          _request: unknown,
          token: string,
          done: (e: unknown, k?: never) => void,
        ) => {
          verifier.keyFor(token).then(
            (key) => done(null, key as never),
            (error: unknown) => done(error),
          );
        },
        ...checks,
        ignoreExpiration: false,
        jsonWebTokenOptions: { clockTolerance },
      });
    }

    validate(payload: JWTPayload): Promise<VerifiedToken> {
      return verifier.principalOf(payload);
    }
  }

  class ProtesJwtGuard extends AuthGuard(name) {
    override handleRequest<T>(error: unknown, user: unknown, info: unknown): T {
      if (error) throw tokenError(error);
      if (!user) throw tokenError(info);
      return user as T;
    }
  }

  new ProtesJwtStrategy();
  return { guard: new ProtesJwtGuard(), dispose: () => passport.unuse(name) };
}

/** The verified token the guard left on the request. */
export const verifiedTokenOf = (context: ExecutionContext): VerifiedToken =>
  context.switchToHttp().getRequest<{ user: VerifiedToken }>().user;
