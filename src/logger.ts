import { sanitizeLogText } from './untrusted-text.js';

/**
 * Structured fields of a log line, pino style: `logger.warn({ err, code, url }, message)`.
 * `err` is an error (described as `{ type, message, code?, cause? }`, never its stack or the
 * request/response it carries); other values are strings, numbers or booleans.
 */
export interface LogFields {
  /** The error behind the line, if any. */
  err?: unknown;
  /** The library's `ERR_*` code, when the line is about one. */
  code?: string;
  /** The upstream URL involved (never with credentials or tokens: they are redacted anyway). */
  url?: string;
  readonly [field: string]: unknown;
}

/** One log method: pino's two call shapes, `(fields, message)` and `(message)`. */
export interface LogMethod {
  (fields: LogFields, message: string): void;
  (message: string): void;
}

/**
 * A pino-compatible logger, as the library calls it: `logger.warn({ err, code, url }, message)`.
 * Any subset of methods may be given (`pino()`, `console`, your own); missing ones are no-ops.
 */
export interface Logger {
  debug: LogMethod;
  info: LogMethod;
  warn: LogMethod;
  error: LogMethod;
}

/** What an application may pass as `logger`: any object with some of the four methods. */
export type LoggerOption = Partial<Record<keyof Logger, (...args: never[]) => unknown>>;

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const noop = (): void => undefined;

/** Marks loggers made by {@link normalizeLogger}, so wrapping twice costs nothing. */
const kSanitized = Symbol('express-cern-sso.sanitizedLogger');

/** Longest {@link describeError} text; the rest of a long upstream message is cut. */
const MAX_ERROR_TEXT = 2048;

/** How deep an error's `cause` chain is described (fetch: TypeError → SocketError, say). */
const MAX_CAUSE_DEPTH = 3;

/** An error as a log field: name, code, message (sanitised) and its causes, never the stack. */
export interface LoggedError {
  type: string;
  message: string;
  code?: string;
  cause?: LoggedError;
}

function errorCode(error: object): string | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? sanitizeLogText(code, 64) : undefined;
}

/** An error (or anything thrown) as a {@link LoggedError}; never throws. */
export function serializeError(error: unknown, depth = 0): LoggedError {
  try {
    if (!(error instanceof Error))
      return { type: typeof error, message: sanitizeLogText(String(error), MAX_ERROR_TEXT) };
    const logged: LoggedError = { type: error.name, message: sanitizeLogText(error.message, MAX_ERROR_TEXT) };
    const code = errorCode(error);
    if (code !== undefined) logged.code = code;
    // A cause that is neither an error nor a primitive (a Response, a parsed body) says nothing
    // printable: `[object Object]` would only be noise.
    const { cause } = error;
    const printable = cause instanceof Error || (typeof cause !== 'object' && typeof cause !== 'function');
    if (cause !== undefined && cause !== error && printable && depth < MAX_CAUSE_DEPTH) {
      logged.cause = serializeError(cause, depth + 1);
    }
    return logged;
  } catch {
    return { type: typeof error, message: '(not printable)' };
  }
}

/**
 * Short description of an error for a log line: `Name CODE: message (cause: Name CODE: message)`,
 * never the request/response bodies or headers. Cut to 2048 characters, control characters
 * escaped, tokens redacted. Never throws.
 */
export function describeError(error: unknown): string {
  return sanitizeLogText(describeLogged(serializeError(error)), MAX_ERROR_TEXT);
}

/**
 * The fields as handed to a logger: `err` serialised, strings sanitised (bounded, no control
 * characters, no tokens), numbers and booleans kept, anything else dropped.
 */
export function sanitizeFields(fields: LogFields): Record<string, unknown> {
  const clean: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const [key, value] of Object.entries(fields)) {
    if (key === 'err') clean.err = serializeError(value);
    else if (typeof value === 'string') clean[key] = sanitizeLogText(value);
    else if (typeof value === 'number' || typeof value === 'boolean') clean[key] = value;
  }
  return { ...clean };
}

type RawMethod = (...args: unknown[]) => unknown;

/** One method of a normalised logger: sanitise, then call the application's method. */
function sanitizing(fn: RawMethod): LogMethod {
  return (first: LogFields | string, message?: string): void => {
    if (typeof first === 'string') {
      fn(sanitizeLogText(first));
      return;
    }
    fn(sanitizeFields(first), sanitizeLogText(typeof message === 'string' ? message : ''));
  };
}

function fieldText(value: unknown): string {
  if (typeof value === 'object' && value !== null) return describeLogged(value as LoggedError);
  return String(value);
}

function describeLogged(logged: LoggedError): string {
  const head = `${logged.type}${logged.code === undefined ? '' : ` ${logged.code}`}: ${logged.message}`;
  return logged.cause ? `${head} (cause: ${describeLogged(logged.cause)})` : head;
}

/**
 * One line for line-oriented sinks (the console, test recorders): `message: err (key=value ...)`.
 * `fields` are already sanitised ({@link sanitizeFields}).
 */
export function formatLogLine(fields: Record<string, unknown>, message: string): string {
  const { err, ...rest } = fields;
  const error = err === undefined ? '' : `: ${fieldText(err)}`;
  const pairs = Object.entries(rest).map(([key, value]) => `${key}=${fieldText(value)}`);
  return `${message}${error}${pairs.length > 0 ? ` (${pairs.join(' ')})` : ''}`;
}

function consoleMethod(write: (line: string) => void): RawMethod {
  return (first, message) => {
    const line =
      typeof first === 'string'
        ? first
        : formatLogLine(first as Record<string, unknown>, typeof message === 'string' ? message : '');
    write(`[express-cern-sso] ${line}`);
  };
}

/** Warnings and errors to the console, one line each, prefixed so operators know the source. */
export const consoleLogger: Logger = Object.assign(
  {
    debug: noop,
    info: noop,
    warn: sanitizing(
      consoleMethod((line) => {
        console.warn(line);
      }),
    ),
    error: sanitizing(
      consoleMethod((line) => {
        console.error(line);
      }),
    ),
  },
  { [kSanitized]: true },
);

export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
};

/**
 * Fills in missing methods so the library can call any level, and makes every call safe to
 * write to a log: see {@link sanitizeLogText} (bounded length, no control characters, no
 * tokens) for the message and string fields, {@link serializeError} for `err`. The
 * application's methods receive pino's call shapes: `(fields, message)` or `(message)`.
 */
export function normalizeLogger(logger: LoggerOption | Partial<Logger> | undefined): Logger {
  if (!logger) return consoleLogger;
  if ((logger as { [kSanitized]?: unknown })[kSanitized] === true) return logger as Logger;
  const methods = Object.fromEntries(
    LEVELS.map((level) => {
      const fn = (logger as Record<string, unknown>)[level];
      return [level, typeof fn === 'function' ? sanitizing((fn as RawMethod).bind(logger)) : noop];
    }),
  ) as unknown as Logger;
  return Object.assign(methods, { [kSanitized]: true });
}
