import autocannon from 'autocannon';

/** Load settings; both sides of a comparison always use the same ones. */
export interface LoadOptions {
  connections: number;
  durationSec: number;
  headers?: Record<string, string>;
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
