import { isLoopbackHost } from '../config.js';

/** A JSON answer: the status and the parsed body (`undefined` when it was not JSON). */
export interface JsonAnswer {
  status: number;
  body: unknown;
}

/** Thrown for an answer that is not what the issuer should send (5xx, HTML error page…). */
export class UnexpectedAnswerError extends Error {
  override readonly name = 'UnexpectedAnswerError';
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${url} answered HTTP ${status}: ${detail}`);
  }
}

/** https, or plain http on a loopback host (the local emulator): the URLs we may call. */
export function isAllowedEndpoint(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
  } catch {
    return false;
  }
}

/**
 * A request with a deadline that answers JSON. Redirects are refused (an endpoint that moved is
 * a configuration problem, and a redirect could leave https). Network failures and timeouts
 * reject as `fetch` does; the caller turns them into 503s.
 */
export async function fetchJson(
  url: string,
  options: { timeoutMs: number; method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
): Promise<JsonAnswer> {
  const init: RequestInit = {
    method: options.method ?? 'GET',
    headers: { accept: 'application/json', ...options.headers },
    redirect: 'error',
    signal: AbortSignal.timeout(options.timeoutMs),
  };
  if (options.body !== undefined) init.body = options.body;
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, body };
}

/** A JSON object body, or `undefined`. */
export function jsonObject(body: unknown): Record<string, unknown> | undefined {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : undefined;
}
