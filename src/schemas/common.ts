import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import type Decimal from 'decimal.js';
import { z } from 'zod';
import { isValidIsoDate } from '../domain/dates';
import { Dec, PLAIN_DECIMAL, writtenScale } from '../domain/decimal';

extendZodWithOpenApi(z);

/**
 * A JSON number exactly as written in the request body. The body parser keeps non-integer
 * numbers in this form so that `12.123456789012345678` never passes through a float.
 */
export class JsonNumber {
  constructor(readonly raw: string) {}
}

const MAX_ID = Number.MAX_SAFE_INTEGER;

/** A positive integer id in the path or the query ("17"). */
export const IdParam = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, 'must be a positive integer')
  .transform(Number)
  .pipe(z.number().max(MAX_ID))
  .openapi({ type: 'integer', minimum: 1, example: 17 });

/** A positive integer id in a JSON body. */
export const IdValue = z
  .preprocess((v) => (v instanceof JsonNumber ? Number(v.raw) : v), z.number('must be an integer').int('must be an integer').min(1, 'must be a positive integer').max(MAX_ID))
  .openapi({ type: 'integer', minimum: 1, example: 17 });

export const IsoDate = z
  .string('must be a date in the form yyyy-MM-dd')
  .refine(isValidIsoDate, 'must be a real calendar date in the form yyyy-MM-dd')
  .openapi({ type: 'string', format: 'date', example: '2026-11-01' });

/**
 * Options for an object-level check that compares some of its fields (an end date against a start
 * date): it runs whenever those fields parsed cleanly, even if other fields failed, so that every
 * bad field is listed; and it stays silent when one of them is itself invalid, so that it never
 * reports a comparison of values that are not dates.
 */
export function whenFieldsValid(...fields: string[]): { when: (payload: z.core.ParsePayload) => boolean } {
  return {
    when: (payload) => {
      const v = payload.value;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
      return !payload.issues.some((issue) => issue.path !== undefined && fields.includes(String(issue.path[0])));
    },
  };
}

export const Timestamp = z
  .string()
  .openapi({ type: 'string', format: 'date-time', example: '2026-11-23T10:15:00.000Z' });

/** An instant in a query string: ISO 8601 with a zone (Z or ±hh:mm). */
export const TimestampInput = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/,
    // abort: one message for text that is not a timestamp at all, not a second one from the check below
    { message: 'must be an ISO 8601 timestamp with a zone, e.g. 2026-12-01T00:00:00Z', abort: true },
  )
  .refine((v) => isValidIsoDate(v.slice(0, 10)) && !Number.isNaN(Date.parse(v)), 'must be a real point in time')
  .transform((v) => new Date(v))
  .openapi({ type: 'string', format: 'date-time', example: '2026-12-01T00:00:00.000Z' });

export interface DecimalRule {
  maxScale: number;
  /** Exclusive lower bound. */
  greaterThan?: string;
  /** Inclusive upper bound. */
  atMost?: string;
  nonZero?: boolean;
  example: string;
  description: string;
}

/**
 * A decimal input: a JSON number or a plain decimal string (no exponent, no spaces), with at most
 * `maxScale` decimals. More decimals are rejected, never rounded.
 */
export function DecimalInput(rule: DecimalRule) {
  return z
    .preprocess(
      (v) => (v instanceof JsonNumber ? v.raw : v),
      z.union([z.string(), z.number()], 'must be a decimal number or a decimal string'),
    )
    .openapi({
      description: rule.description,
      anyOf: [{ type: 'string', pattern: '^-?\\d+(\\.\\d+)?$' }, { type: 'number' }],
      example: rule.example,
    })
    .transform((value, ctx): Decimal => {
      const text = String(value);
      if (!PLAIN_DECIMAL.test(text)) {
        ctx.addIssue({ code: 'custom', message: 'must be a plain decimal such as "12.5" (no exponent, no spaces)' });
        return z.NEVER;
      }
      if (writtenScale(text) > rule.maxScale) {
        ctx.addIssue({ code: 'custom', message: `must have at most ${rule.maxScale} decimal places` });
        return z.NEVER;
      }
      const dec = new Dec(text);
      if (rule.greaterThan !== undefined && !dec.greaterThan(rule.greaterThan)) {
        ctx.addIssue({ code: 'custom', message: `must be greater than ${rule.greaterThan}` });
      }
      if (rule.atMost !== undefined && dec.greaterThan(rule.atMost)) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${rule.atMost}` });
      }
      if (rule.nonZero && dec.isZero()) {
        ctx.addIssue({ code: 'custom', message: 'must not be zero' });
      }
      return dec;
    });
}

/** A decimal in a response: canonical string. */
export const DecimalString = (description: string, example: string) =>
  z.string().openapi({ description, example, pattern: '^-?\\d+(\\.\\d+)?$' });

export const Limit = z
  .string()
  .regex(/^\d+$/, 'must be an integer from 1 to 200')
  .transform(Number)
  .pipe(z.number().int().min(1, 'must be an integer from 1 to 200').max(200, 'must be an integer from 1 to 200'))
  .optional()
  .default(50)
  .openapi({ type: 'integer', minimum: 1, maximum: 200, default: 50, description: 'Page size.' });

export const Offset = z
  .string()
  .regex(/^\d+$/, 'must be a non-negative integer')
  .transform(Number)
  .pipe(z.number().int().min(0).max(MAX_ID))
  .optional()
  .default(0)
  .openapi({ type: 'integer', minimum: 0, default: 0, description: 'Rows to skip.' });

/** `sort=field` or `sort=-field` over the given fields; default `id`. */
export function SortParam<const F extends readonly [string, ...string[]]>(fields: F) {
  const allowed = fields.flatMap((f) => [f, `-${f}`]) as [string, ...string[]];
  return z
    .enum(allowed, `must be one of ${allowed.join(', ')}`)
    .optional()
    .default('id')
    .transform((s) => ({ field: s.replace(/^-/, '') as F[number], descending: s.startsWith('-') }))
    .openapi({ type: 'string', enum: allowed, default: 'id', description: 'Sort field; prefix with - for descending.' });
}

export const ArchivedFilter = z
  .enum(['exclude', 'include', 'only'], 'must be one of exclude, include, only')
  .optional()
  .default('exclude')
  .openapi({ description: 'Whether archived objects are left out (default), included, or the only ones listed.' });

export const ListMeta = z
  .object({ total: z.number().int(), limit: z.number().int(), offset: z.number().int() })
  .openapi('ListMeta');

export function ListOf<T extends z.ZodType>(item: T, name: string) {
  return z.object({ data: z.array(item), meta: ListMeta }).openapi(name);
}

export const BunitIdParams = z.strictObject({ bunitId: IdParam });

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: 'https://referrals.example/problems/over-allocated' }),
    title: z.string().openapi({ example: 'Conflict' }),
    status: z.number().int().openapi({ example: 409 }),
    detail: z.string().openapi({ example: 'On 2026-11-01 the referrals of contract 42 would sum to 112.5 %.' }),
    code: z.string().openapi({ example: 'over-allocated' }),
    instance: z.string().optional(),
    requestId: z.string().optional(),
    errors: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({ description: 'Every invalid field, not just the first.' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details. `code` is a stable machine-readable string.' });
