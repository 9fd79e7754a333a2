import type { z } from 'zod';
import { CernSsoError } from './errors.js';

/** One line per zod issue, led by the option's name (`routes.login: ...`). */
function formatIssues(error: z.ZodError): string[] {
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
 * `details`), so a user fixes them all in one go.
 */
export function parseOptions<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  if (input !== undefined && (typeof input !== 'object' || input === null || Array.isArray(input))) {
    throw new CernSsoError('ERR_CONFIG', `${what}: options must be an object`, { details: [] });
  }
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = formatIssues(result.error);
  throw new CernSsoError('ERR_CONFIG', `${what}: invalid configuration:\n  - ${problems.join('\n  - ')}`, {
    details: problems,
  });
}
