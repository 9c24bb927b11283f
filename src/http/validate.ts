import type { z } from 'zod';
import type { FieldError } from '../domain/errors';
import { validationFailed } from '../domain/errors';
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
    const result = schema.safeParse(value);
    if (result.success) out[where] = result.data;
    else errors.push(...issuesToErrors(where, result.error.issues, value));
  }
  if (errors.length > 0) throw validationFailed(errors);
  return out;
}
