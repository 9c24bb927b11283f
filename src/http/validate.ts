import type { z } from 'zod';
import type { FieldError } from '../domain/errors';
import { validationFailed } from '../domain/errors';
import { IdParam, parseIdText } from '../schemas/common';
import { BODY_NOT_ALLOWED } from './json-body';

type Where = 'params' | 'query' | 'body';

/** What a field that was left out is told, whatever its schema says of a value of the wrong type. */
const REQUIRED = 'is required';

/**
 * Was the value at `path` left out of `input`? A missing field fails its schema's type check, and
 * the schema's message speaks of a wrong type ("must be a string"); the client left it out.
 */
function isMissing(input: unknown, path: readonly PropertyKey[]): boolean {
  if (path.length === 0) return false;
  let parent: unknown = input;
  for (const key of path.slice(0, -1)) {
    if (parent === null || typeof parent !== 'object') return false;
    parent = (parent as Record<PropertyKey, unknown>)[key];
  }
  if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) return false;
  return (parent as Record<PropertyKey, unknown>)[path[path.length - 1]!] === undefined;
}

function issuesToErrors(where: Where, issues: z.core.$ZodIssue[], input: unknown): FieldError[] {
  const errors: FieldError[] = [];
  for (const issue of issues) {
    const base = [where, ...issue.path.map(String)].join('.');
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        errors.push({
          path: `${base}.${key}`,
          message: where === 'query' ? 'unknown query parameter' : 'unknown field',
        });
      }
    } else if (issue.code !== 'custom' && isMissing(input, issue.path)) {
      errors.push({ path: base, message: REQUIRED });
    } else {
      errors.push({ path: base, message: issue.message });
    }
  }
  return errors;
}

export interface RequestSchemas {
  /** GET and DELETE take no body: one sent is refused. */
  method?: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  bodyOptional?: boolean;
}

export interface RawRequest {
  params: unknown;
  query: unknown;
  body: unknown;
}

/**
 * The field names of a params schema whose fields are all IdParam (as most paths' are: ids only),
 * or null. A copy made by `.openapi()` keeps IdParam's definition, so that is what is compared.
 */
const idFieldsBySchema = new WeakMap<z.ZodType, string[] | null>();

export function idFieldsOf(schema: z.ZodType): string[] | null {
  let fields = idFieldsBySchema.get(schema);
  if (fields === undefined) {
    const def = schema._zod.def as { type: string; shape?: Record<string, z.ZodType>; catchall?: z.ZodType };
    const shape = def.type === 'object' && def.catchall?._zod.def.type === 'never' ? def.shape : undefined;
    const all = shape && Object.entries(shape);
    fields = all && all.length > 0 && all.every(([, field]) => field._zod.def === IdParam._zod.def) ? all.map(([name]) => name) : null;
    idFieldsBySchema.set(schema, fields);
  }
  return fields;
}

/**
 * Path parameters that are all ids, checked with IdParam's own rule (parseIdText) without a Zod
 * parse: the same result and the same messages, for the parameters of almost every request. Null
 * when the values are not exactly those fields, as strings (never from a route's path, whose
 * parameters are its template's): then Zod decides.
 */
function parseIdParams(fields: string[], raw: unknown, errors: FieldError[]): Record<string, number> | null {
  if (raw === null || typeof raw !== 'object' || Object.keys(raw).length !== fields.length) return null;
  const out: Record<string, number> = {};
  const found: FieldError[] = [];
  for (const field of fields) {
    const text = (raw as Record<string, unknown>)[field];
    if (typeof text !== 'string') return null;
    const id = parseIdText(text);
    if (typeof id === 'number') out[field] = id;
    else found.push({ path: `params.${field}`, message: id.message });
  }
  errors.push(...found);
  return out;
}

/**
 * Parses params, query and body with the route's schemas (the same ones the OpenAPI document
 * shows) and reports every invalid field of all three at once.
 */
export function validateRequest(schemas: RequestSchemas, raw: RawRequest): { params: unknown; query: unknown; body: unknown } {
  const errors: FieldError[] = [];
  const out: Record<Where, unknown> = { params: {}, query: {}, body: undefined };
  for (const where of ['params', 'query', 'body'] as const) {
    const schema = schemas[where];
    const value = where === 'body' && raw.body === undefined && schemas.bodyOptional ? {} : raw[where];
    if (where === 'body' && (value === BODY_NOT_ALLOWED || ((schemas.method === 'get' || schemas.method === 'delete') && value !== undefined))) {
      errors.push({
        path: 'body',
        message: `must be absent: ${(schemas.method ?? 'this method').toUpperCase()} takes no body${schemas.method === 'delete' ? ' (its parameters go in the query, e.g. ?at=)' : ''}`,
      });
      continue;
    }
    if (!schema) {
      if (where === 'query' && value && Object.keys(value).length > 0) {
        errors.push(...Object.keys(value).map((k) => ({ path: `query.${k}`, message: 'unknown query parameter' })));
      }
      continue;
    }
    if (where === 'body' && value === undefined) {
      errors.push({ path: 'body', message: 'a JSON body is required' });
      continue;
    }
    const ids = where === 'params' ? idFieldsOf(schema) : null;
    const parsedIds = ids && parseIdParams(ids, value, errors);
    if (parsedIds) {
      out.params = parsedIds;
      continue;
    }
    const result = schema.safeParse(value);
    if (result.success) out[where] = result.data;
    else errors.push(...issuesToErrors(where, result.error.issues, value));
  }
  if (errors.length > 0) throw validationFailed(errors);
  return out;
}
