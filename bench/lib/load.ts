import autocannon from 'autocannon';

/** Load settings; both sides of a comparison always use the same ones. */
export interface LoadOptions {
  connections: number;
  durationSec: number;
  headers?: Record<string, string>;
  /**
   * `Cookie` headers taken in turn, one per request across all connections (many signed-in users,
   * each request for another one than the previous few); overrides a `cookie` in `headers`.
   */
  cookies?: readonly string[];
}

/** One autocannon run, reduced to what the reports need. */
export interface LoadSample {
  reqPerSec: number;
  /** Latency percentiles in ms. */
  p50: number;
  p99: number;
  requests: number;
}

/**
 * Runs autocannon against `url` (in this process: the server is in a child process) and fails
 * when any response was not a 2xx or any connection failed, so a redirect to the login page or
 * a 403 can never pass for a fast answer.
 */
export async function measure(url: string, options: LoadOptions): Promise<LoadSample> {
  const result = await autocannon({
    url,
    connections: options.connections,
    pipelining: 1,
    duration: options.durationSec,
    headers: options.headers ?? {},
    ...(options.cookies?.length ? { requests: [{ setupRequest: rotateCookies(options.cookies) }] } : {}),
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(
      `${url}: ${result.non2xx} non-2xx answers (3xx ${result['3xx']}, 4xx ${result['4xx']}, ` +
        `5xx ${result['5xx']}), ${result.errors} errors, ${result.timeouts} timeouts`,
    );
  }
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result['2xx'],
  };
}

/** An autocannon `setupRequest` giving each request the next cookie of `cookies` (shared counter). */
function rotateCookies(cookies: readonly string[]): (request: autocannon.Request) => autocannon.Request {
  let next = 0;
  return (request) => {
    const cookie = cookies[next++ % cookies.length]!;
    return { ...request, headers: { ...request.headers, cookie } };
  };
}
