import { formatLogLine } from '../../src/logger.js';

/**
 * One log call as the one-line text a line-oriented sink writes: the library calls loggers
 * pino style, `(fields, message)` or `(message)`.
 */
export function logLine(args: readonly unknown[]): string {
  const [first, message] = args;
  if (typeof first === 'string') return first;
  return formatLogLine(first as Record<string, unknown>, typeof message === 'string' ? message : '');
}
