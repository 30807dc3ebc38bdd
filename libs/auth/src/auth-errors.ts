/**
 * Why a request is refused. The messages go to the client (the JSON body and RFC 6750's
 * `error_description`): they say what is wrong with the credential, never echo it, and never name
 * a key. They hold only the characters `error_description` allows (no quote, no backslash).
 */

/** RFC 6750's error codes; none when the request carried no credential we understand. */
export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope';

/** 401 (400 for a malformed Authorization header): who the caller is could not be established. */
export class AuthenticationError extends Error {
  override readonly name = 'AuthenticationError';

  constructor(
    message: string,
    /** Absent: no credential was sent (or none of a scheme we take); the challenge has no error. */
    readonly code?: Extract<BearerErrorCode, 'invalid_request' | 'invalid_token'>,
    /** The scheme the failed credential used, whose challenge carries the error. */
    readonly scheme: 'Bearer' | 'Basic' = 'Bearer',
  ) {
    super(message);
  }

  get status(): 400 | 401 {
    return this.code === 'invalid_request' ? 400 : 401;
  }
}

/** 403: the caller is known but may not do this (a scope or claim it lacks, an admin endpoint). */
export class PermissionError extends Error {
  override readonly name = 'PermissionError';

  constructor(
    message: string,
    readonly code?: Extract<BearerErrorCode, 'insufficient_scope'>,
  ) {
    super(message);
  }
}

/**
 * 503: the token may well be good, but the issuer's keys cannot be fetched right now. Not a 401,
 * which would tell the client to throw its token away.
 */
export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

export const invalidToken = (message: string): AuthenticationError =>
  new AuthenticationError(message, 'invalid_token');
