/**
 * Whether the tests run in CI, where a missing redis-server or Chromium must fail the run instead
 * of skipping tests. Any non-empty `CI` counts (`true`, `1`, `yes`, a CI system's name), except
 * `false` and `0`.
 */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = (env.CI ?? '').trim().toLowerCase();
  return value !== '' && value !== 'false' && value !== '0';
}
