import { z } from 'zod';
import { configError } from './errors.js';
import type { LoggerOption } from './logger.js';

/** A `logger` option: any object; its missing methods are filled in by `normalizeLogger`. */
export const loggerOption = z.custom<LoggerOption>(
  (value) => typeof value === 'object' && value !== null,
  'must be a logger object with debug/info/warn/error methods',
);

/** One line per zod issue, led by the option's name (`routes.login: ...`). */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const name = issue.path.length > 0 ? issue.path.map(String).join('.') : '(options)';
    if (issue.code === 'unrecognized_keys') return `${issue.keys.join(', ')}: unknown option`;
    const message =
      issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message;
    return `${name}: ${message}`;
  });
}

/**
 * Validates the options of a public factory (`cernSso`, `memoryCache`, ...) against `schema`:
 * the parsed value, or one `ERR_CONFIG` error listing every problem by option name (also in
 * `details`), so a user fixes them all in one go. `otherProblems`: ones the caller found in its
 * other arguments (`client: ...`), listed first.
 */
export function parseOptions<S extends z.ZodType>(
  schema: S,
  input: unknown,
  what: string,
  otherProblems: readonly string[] = [],
): z.output<S> {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    const problems = [...otherProblems, '(options): must be an object'];
    throw configError(`${what}: options must be an object`, problems);
  }
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success && otherProblems.length === 0) return result.data;
  const problems = [...otherProblems, ...(result.success ? [] : formatIssues(result.error))];
  throw configError(`${what}: invalid configuration:\n  - ${problems.join('\n  - ')}`, problems);
}
