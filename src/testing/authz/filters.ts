import { badRequest } from './errors.js';
import { fieldOf, type ApiRecord, type FieldKind, type FieldSchema } from './fields.js';

/** The operators of the AuthZ API's `filter=field:op:value` language. There is no OR. */
export const FILTER_OPS = ['eq', 'contains', 'startswith', 'gt'] as const;

/** One of {@link FILTER_OPS}. */
export type FilterOp = (typeof FILTER_OPS)[number];

/** A compiled filter list: true when a record matches every filter. */
export type RecordPredicate = (record: ApiRecord) => boolean;

/**
 * Parses and compiles the repeatable `filter=` query parameter against a resource's fields.
 * Filters are AND-ed. `eq`, `contains` and `startswith` compare case-insensitively as strings
 * (numbers and booleans by their JSON text); `gt` compares instants for `date` fields, numerically
 * for `number` fields and case-insensitively as strings otherwise. A record without the field
 * never matches. Malformed filters, unknown fields or operators and values that `gt` cannot
 * compare are a 400 with a message naming the culprit.
 */
export function compileFilters(raw: readonly string[], schema: FieldSchema): RecordPredicate {
  const tests = raw.map((filter) => compileOne(filter, schema));
  if (tests.length === 0) return () => true;
  return (record) => tests.every((test) => test(record));
}

function compileOne(filter: string, schema: FieldSchema): RecordPredicate {
  // Split on the first two colons only: values may contain colons (ISO timestamps, URLs).
  const first = filter.indexOf(':');
  const second = first < 0 ? -1 : filter.indexOf(':', first + 1);
  if (first <= 0 || second <= first + 1) {
    throw badRequest(`Malformed filter '${filter}': expected field:operator:value, e.g. upn:eq:jdoe`);
  }
  const field = filter.slice(0, first);
  const op = filter.slice(first + 1, second);
  const value = filter.slice(second + 1);
  const kind = Object.hasOwn(schema, field) ? schema[field] : undefined;
  if (kind === undefined) {
    throw badRequest(
      `Unknown field '${field}' in filter '${filter}'; supported: ${Object.keys(schema).join(', ')}`,
    );
  }
  if (!isFilterOp(op)) {
    throw badRequest(`Unknown operator '${op}' in filter '${filter}'; supported: ${FILTER_OPS.join(', ')}`);
  }
  const test = op === 'gt' ? greaterThan(kind, value, filter) : stringTest(op, value);
  return (record) => {
    const actual = fieldOf(record, field);
    return actual !== undefined && actual !== null && test(actual);
  };
}

function isFilterOp(op: string): op is FilterOp {
  return (FILTER_OPS as readonly string[]).includes(op);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function stringTest(op: Exclude<FilterOp, 'gt'>, value: string): (actual: unknown) => boolean {
  const needle = value.toLowerCase();
  switch (op) {
    case 'eq':
      return (actual) => text(actual).toLowerCase() === needle;
    case 'contains':
      return (actual) => text(actual).toLowerCase().includes(needle);
    case 'startswith':
      return (actual) => text(actual).toLowerCase().startsWith(needle);
  }
}

function greaterThan(kind: FieldKind, value: string, filter: string): (actual: unknown) => boolean {
  switch (kind) {
    case 'date': {
      const bound = Date.parse(value);
      if (Number.isNaN(bound))
        throw badRequest(`Invalid date '${value}' in filter '${filter}'; use ISO 8601`);
      return (actual) => {
        const time = typeof actual === 'string' ? Date.parse(actual) : Number.NaN;
        return !Number.isNaN(time) && time > bound;
      };
    }
    case 'number': {
      const bound = value.trim() === '' ? Number.NaN : Number(value);
      if (Number.isNaN(bound)) throw badRequest(`Invalid number '${value}' in filter '${filter}'`);
      return (actual) => typeof actual === 'number' && actual > bound;
    }
    case 'string':
    case 'boolean': {
      const bound = value.toLowerCase();
      return (actual) => text(actual).toLowerCase() > bound;
    }
  }
}
