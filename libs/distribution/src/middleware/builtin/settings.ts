import { MiddlewareError } from '../middleware';

/** A middleware's settings as the chain hands them over: unvalidated configuration. */
export type Settings = Readonly<Record<string, unknown>>;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function settingError(setting: string, problem: string): MiddlewareError {
  return new MiddlewareError(`setting "${setting}" ${problem}`);
}

/** Refuses unknown keys, so that a misspelt setting fails loudly instead of being ignored. */
export function checkKeys(
  value: Readonly<Record<string, unknown>>,
  known: readonly string[],
  at = '',
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw settingError(
        `${at}${key}`,
        `is unknown (known: ${known.length ? known.join(', ') : 'none'})`,
      );
    }
  }
}

export function booleanSetting(settings: Settings, key: string, fallback: boolean): boolean {
  const value = settings[key] ?? fallback;
  if (typeof value !== 'boolean') throw settingError(key, 'must be true or false');
  return value;
}
