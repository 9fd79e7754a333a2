import { badRequest } from './errors.js';

/** How a field's values compare in filters (`gt` in particular). */
export type FieldKind = 'string' | 'number' | 'boolean' | 'date';

/** The fields a resource exposes, in output order, with their kinds. Must contain `id`. */
export type FieldSchema = Readonly<Record<string, FieldKind>>;

/**
 * A record as returned by the API (field name to JSON value). Typed as `object` so that plain
 * interfaces such as `AuthzIdentity` qualify; fields are read with {@link fieldOf}.
 */
export type ApiRecord = object;

/** The value of field `name` of `record` (undefined when absent). */
export function fieldOf(record: ApiRecord, name: string): unknown {
  return Object.hasOwn(record, name) ? (record as Record<string, unknown>)[name] : undefined;
}

/**
 * Parses the repeatable `field=` query parameter (`field=a&field=b`, or `field=a,b`).
 * Returns `undefined` when absent, meaning "all fields". `id` is always part of a selection,
 * as in the real API. An unknown field name is a 400, so that typos show up in tests.
 */
export function parseFieldSelection(
  raw: readonly string[],
  schema: FieldSchema,
): readonly string[] | undefined {
  const requested = raw
    .flatMap((value) => value.split(','))
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (requested.length === 0) return undefined;
  const unknown = requested.filter((name) => !Object.hasOwn(schema, name));
  if (unknown.length > 0) {
    throw badRequest(
      `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; ` +
        `supported: ${Object.keys(schema).join(', ')}`,
    );
  }
  const wanted = new Set(['id', ...requested]);
  // Schema order, not request order: output is stable whatever order the client asks in.
  return Object.keys(schema).filter((name) => wanted.has(name));
}

/** Copies the selected fields of `record` (all of them when `fields` is undefined), skipping absent ones. */
export function project(record: ApiRecord, fields: readonly string[] | undefined): Record<string, unknown> {
  if (fields === undefined) return { ...record };
  const out: Record<string, unknown> = {};
  for (const name of fields) {
    const value = fieldOf(record, name);
    if (value !== undefined) out[name] = value;
  }
  return out;
}
