/** A pino-compatible logger; any subset of methods may be given. */
export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

const noop = (): void => undefined;

/** Warnings and errors to the console, prefixed so operators know where they come from. */
export const consoleLogger: Logger = {
  debug: noop,
  info: noop,
  warn: (message, ...args) => {
    console.warn(`[express-cern-sso] ${message}`, ...args);
  },
  error: (message, ...args) => {
    console.error(`[express-cern-sso] ${message}`, ...args);
  },
};

export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/** Fills in missing methods so the library can call any level. */
export function normalizeLogger(logger: Partial<Logger> | undefined): Logger {
  if (!logger) return consoleLogger;
  const bind = (level: keyof Logger): Logger[keyof Logger] => {
    const fn = logger[level];
    return typeof fn === 'function' ? fn.bind(logger) : noop;
  };
  return { debug: bind('debug'), info: bind('info'), warn: bind('warn'), error: bind('error') };
}

/** Short description of an error for logs: never the request/response bodies or headers. */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string'
      ? `${error.name} ${code}: ${error.message}`
      : `${error.name}: ${error.message}`;
  }
  return String(error);
}
