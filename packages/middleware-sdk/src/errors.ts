/*
 * The gateway recognises these errors by their `name`, never by `instanceof`: a plugin may bring a
 * copy of this package of its own, whose classes are not the gateway's. Subclasses must keep the
 * name.
 */

/**
 * The task is refused: the client gets `status` (a 4xx; or 503 when it may succeed later, with
 * `retryAfterSeconds` as the `Retry-After` header) and `rejected by <middleware>: <message>`.
 * `field`, when given, names the part of the task at fault in the error body. Any other status is
 * taken as 400. The task is not stored and goes nowhere.
 */
export class MiddlewareRejection extends Error {
  override readonly name = 'MiddlewareRejection';

  constructor(
    message: string,
    readonly status = 400,
    readonly field?: string,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/**
 * The middleware could not do its work for this task (no data, a lookup failed, ...): the next
 * member of its fallback group runs, or the task fails with 503. Any other error means the same,
 * but is logged with its stack as unexpected; this one is an expected outcome.
 */
export class MiddlewareError extends Error {
  override readonly name = 'MiddlewareError';
}

/** One setting a middleware cannot use: its path within the settings, and why. */
export interface SettingsProblem {
  field: string;
  reason: string;
}

/**
 * A middleware's settings are not usable, thrown by its `prepare`: `errors` name each offending
 * setting by its path within the settings (`rules[0].region`), and the gateway reports them under
 * the chain entry (`chain[1].settings.rules[0].region`): the chain is refused.
 */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
  readonly errors: SettingsProblem[];

  constructor(field: string, reason: string);
  constructor(errors: SettingsProblem[]);
  constructor(fieldOrErrors: string | SettingsProblem[], reason = '') {
    const errors =
      typeof fieldOrErrors === 'string' ? [{ field: fieldOrErrors, reason }] : fieldOrErrors;
    super(errors.map((e) => `${e.field} ${e.reason}`).join('; '));
    this.errors = errors;
  }
}
