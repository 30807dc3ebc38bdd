import { LOG_LEVELS, type LoggerService, type LogLevel } from '@nestjs/common';
import { currentRequestId } from './request-context';

/** Nest's levels from `level` up to the most severe; `silent` turns logging off. */
export function logLevelsFrom(level: LogLevel | 'silent'): LogLevel[] | false {
  if (level === 'silent') return false;
  return LOG_LEVELS.slice(LOG_LEVELS.indexOf(level));
}

/** Fields a log line may carry besides its message. */
export type LogFields = Record<string, unknown>;

/** What replaces a secret in a log line. */
export const REDACTED = '[redacted]';

/**
 * Keys whose values are secrets wherever they appear in a logged object: HTTP credentials,
 * node credentials in the configuration, tokens of any kind.
 */
const SECRET_KEY = /authorization|cookie|password|passwd|secret|token|credential|api[-_]?key/i;

/**
 * Secrets inside free text: an HTTP authorization value (`Bearer x`, `Basic x`), credentials in a
 * URL (`amqp://user:pass@host`), a `key=value` or `"key":"value"` pair of a secret key.
 */
const SECRET_TEXT: readonly [RegExp, string][] = [
  [/\b(Bearer|Basic|Digest)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/(\b[a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*:[^\s/@]*@/gi, `$1${REDACTED}@`],
  [
    /((?:authorization|cookie|password|secret|token|credential|api[-_]?key)[a-z_-]*["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
    `$1${REDACTED}`,
  ],
];

export function redactText(text: string): string {
  return SECRET_TEXT.reduce(
    (out, [pattern, replacement]) => out.replace(pattern, replacement),
    text,
  );
}

/** A copy of `value` fit for a log: secret keys' values replaced, secrets in strings masked. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  // Deeper than any field a log line needs; a cyclic object stops here too.
  if (depth > 8) return '[…]';
  if (value instanceof Error) return redactText(value.stack ?? value.message);
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, inner]) => [
      key,
      SECRET_KEY.test(key) && inner !== undefined ? REDACTED : redact(inner, depth + 1),
    ]),
  );
}

/** Level names as log processors know them; Nest's `log` is `info`. */
const LEVEL_NAMES: Record<LogLevel, string> = {
  verbose: 'verbose',
  debug: 'debug',
  log: 'info',
  warn: 'warn',
  error: 'error',
  fatal: 'fatal',
};

export interface ProcessLoggerOptions {
  /** One JSON object per line (for log collectors), else one readable line. */
  json: boolean;
  level: LogLevel | 'silent';
  /** Where lines go; stdout, and stderr for error and fatal, unless told (tests). */
  write?: (line: string, level: LogLevel) => void;
}

const writeToConsole = (line: string, level: LogLevel): void => {
  (level === 'error' || level === 'fatal' ? process.stderr : process.stdout).write(line);
};

/**
 * The logger of every proTES process. Each line has an ISO 8601 time, the level, the process name
 * and pid, the context (the Nest class that logged), the message, the id of the request being
 * served (when there is one) and the fields the caller gave: Nest's `logger.log(message)` with a
 * string, or `logger.log({ msg, ...fields })` with an object. Every line is redacted first (see
 * `redact`), so that credentials that reach a message by accident (an error quoting a URL, a
 * header) are not written out.
 */
export class ProtesLogger implements LoggerService {
  private readonly levels: Set<LogLevel>;
  private readonly write: (line: string, level: LogLevel) => void;

  constructor(
    private readonly name: string,
    private readonly options: ProcessLoggerOptions,
  ) {
    this.levels = new Set(logLevelsFrom(options.level) || []);
    this.write = options.write ?? writeToConsole;
  }

  log(message: unknown, ...rest: unknown[]): void {
    this.print('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.print('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.print('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.print('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.print('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.print('fatal', message, rest);
  }

  setLogLevels(levels: LogLevel[]): void {
    this.levels.clear();
    for (const level of levels) this.levels.add(level);
  }

  /**
   * Nest passes the context last (a string), and for errors a stack before it; anything else given
   * is kept as `extra`.
   */
  private print(level: LogLevel, message: unknown, rest: unknown[]): void {
    if (!this.levels.has(level)) return;
    const args = [...rest];
    const context = typeof args.at(-1) === 'string' ? (args.pop() as string) : undefined;
    const fields: LogFields =
      typeof message === 'object' && message !== null && !(message instanceof Error)
        ? { ...(message as LogFields) }
        : { msg: message instanceof Error ? message.message : String(message) };
    if (message instanceof Error && message.stack) fields.stack = message.stack;
    if (level === 'error' && typeof args[0] === 'string') fields.stack ??= args.shift();
    const extra = args.filter((arg) => arg !== undefined);
    const requestId = currentRequestId();
    const { msg, ...other } = redact({
      ...(requestId && { requestId }),
      ...fields,
      ...(extra.length > 0 && { extra }),
    }) as LogFields;
    const head = { time: new Date().toISOString(), level: LEVEL_NAMES[level], context };
    const text = typeof msg === 'string' ? msg : JSON.stringify(msg ?? '');
    this.write(
      this.options.json
        ? `${JSON.stringify({ ...head, process: this.name, pid: process.pid, msg: text, ...other })}\n`
        : readable(head, text, other),
      level,
    );
  }
}

/** `time LEVEL [context] msg key=value …`, for a terminal. */
function readable(
  { time, level, context }: { time: string; level: string; context?: string },
  msg: string,
  fields: LogFields,
): string {
  const pairs = Object.entries(fields).map(
    ([key, value]) => ` ${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  return `${time} ${level.toUpperCase()}${context ? ` [${context}]` : ''} ${msg}${pairs.join('')}\n`;
}

/** The logger of a proTES process (JSON lines unless told otherwise), or false for none. */
export function processLogger(name: string, options: ProcessLoggerOptions): LoggerService | false {
  return options.level === 'silent' ? false : new ProtesLogger(name, options);
}
