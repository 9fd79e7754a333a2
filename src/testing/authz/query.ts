import type { Request } from 'express';
import { badRequest } from './errors.js';

/**
 * The request's query string as `URLSearchParams`, read from the raw URL. Why not `req.query`:
 * its shape depends on the app's `query parser` setting (arrays vs. strings, nested objects),
 * while the AuthZ API's repeatable `filter=`/`field=` parameters need a predictable list.
 */
export function queryParams(req: Request): URLSearchParams {
  const url = req.originalUrl;
  const start = url.indexOf('?');
  return new URLSearchParams(start < 0 ? '' : url.slice(start + 1));
}

/** A parameter that may appear at most once; repeating it is a 400. */
export function singleParam(params: URLSearchParams, name: string): string | undefined {
  const values = params.getAll(name);
  if (values.length > 1) throw badRequest(`Query parameter '${name}' may be given only once`);
  return values[0];
}
