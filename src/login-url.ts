/**
 * The URL of the login route with its query: `returnTo` and any authorization parameters, in the
 * order given, each value percent-encoded; entries without a value are left out. The one builder
 * of the redirects that send a browser to the login (guards, step-up, silent login).
 */
export function loginUrl(
  loginPath: string,
  query: readonly (readonly [string, string | undefined])[],
): string {
  const pairs = query.flatMap(([name, value]) =>
    value === undefined ? [] : [`${name}=${encodeURIComponent(value)}`],
  );
  return pairs.length === 0 ? loginPath : `${loginPath}?${pairs.join('&')}`;
}
