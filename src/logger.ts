import { sanitizeLogText } from './untrusted-text.js';

/** A pino-compatible logger; any subset of methods may be given. */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

const noop = (): void => undefined;

/** Marks loggers made by {@link normalizeLogger}, so wrapping twice costs nothing. */
const kSanitized = Symbol('express-cern-sso.sanitizedLogger');

/**
 * What the library hands to a logger: strings (the message and string arguments) cut to
 * 4096 characters (`MAX_LOG_TEXT`), control characters (CR, LF, other C0/C1, U+2028/9, bidi
 * overrides) escaped and tokens redacted; `Error` arguments as {@link describeError} text.
 * Anything else is passed on as it is (the library passes only strings).
 */
function sanitizeArgument(arg: unknown): unknown {
  if (typeof arg === 'string') return sanitizeLogText(arg);
  if (arg instanceof Error) return describeError(arg);
  return arg;
}

function sanitizing(fn: (message: string, ...args: unknown[]) => void): Logger[keyof Logger] {
  return (message, ...args) => {
    fn(
      sanitizeLogText(typeof message === 'string' ? message : String(message)),
      ...args.map(sanitizeArgument),
    );
  };
}

const rawConsole = {
  warn: (message: string, ...args: unknown[]): void => {
    console.warn(`[express-cern-sso] ${message}`, ...args);
  },
  error: (message: string, ...args: unknown[]): void => {
    console.error(`[express-cern-sso] ${message}`, ...args);
  },
};

/** Warnings and errors to the console, prefixed so operators know where they come from. */
export const consoleLogger: Logger = Object.assign(
  {
    debug: noop,
    info: noop,
    warn: sanitizing(rawConsole.warn),
    error: sanitizing(rawConsole.error),
  },
  { [kSanitized]: true },
);

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * Fills in missing methods so the library can call any level, and makes every call safe to
 * write to a line-oriented log: see {@link sanitizeLogText} (bounded length, no control
 * characters, no tokens), whatever text from clients or upstream servers the message carries.
 */
export function normalizeLogger(logger: Partial<Logger> | undefined): Logger {
  if (!logger) return consoleLogger;
  if ((logger as { [kSanitized]?: unknown })[kSanitized] === true) return logger as Logger;
  const bind = (level: keyof Logger): Logger[keyof Logger] => {
    const fn = logger[level];
    return typeof fn === 'function' ? sanitizing(fn.bind(logger)) : noop;
  };
  return Object.assign(
    { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') },
    { [kSanitized]: true },
  );
}

/** Longest {@link describeError} text; the rest of a long upstream message is cut. */
const MAX_ERROR_TEXT = 2048;

function errorText(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? `${error.name} ${code}: ${error.message}`
      : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/**
 * Short description of an error for logs: never the request/response bodies or headers. Cut to
 * 2048 characters, control characters escaped, tokens redacted. Never throws (an object whose
 * `toString` throws is described as such).
 */
export function describeError(error: unknown): string {
  let text: string;
  try {
    text = errorText(error);
  } catch {
    text = `${typeof error} (not printable)`;
  }
  return sanitizeLogText(text, MAX_ERROR_TEXT);
}
