import type { z } from 'zod';
import type { FieldError } from '../domain/errors';
import { validationFailed } from '../domain/errors';

type Where = 'params' | 'query' | 'body';

function issuesToErrors(where: Where, issues: z.core.$ZodIssue[]): FieldError[] {
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
    } else {
      errors.push({ path: base, message: issue.message });
    }
  }
  return errors;
}

export interface RequestSchemas {
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
    else errors.push(...issuesToErrors(where, result.error.issues));
  }
  if (errors.length > 0) throw validationFailed(errors);
  return out;
}
