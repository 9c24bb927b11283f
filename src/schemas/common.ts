import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import type Decimal from 'decimal.js';
import { z } from 'zod';
import { LAST_INSTANT, isValidIsoDate } from '../domain/dates';
import { Dec, PLAIN_DECIMAL, writtenScale } from '../domain/decimal';

extendZodWithOpenApi(z);

/**
 * A JSON number exactly as written in the request body. The body parser keeps non-integer
 * numbers in this form so that `12.123456789012345678` never passes through a float.
 */
export class JsonNumber {
  constructor(readonly raw: string) {}
}

/**
 * Ids are the database's 32-bit integer keys (PostgreSQL `integer`): a larger id cannot exist, and
 * is refused as invalid rather than sent to the database (which would refuse it with an error).
 */
const MAX_ID = 2_147_483_647;

/** An id as text in the path or the query ("17"): its number, or what is wrong with it. */
export function parseIdText(text: string): number | { message: string } {
  if (!/^[1-9]\d{0,15}$/.test(text)) return { message: 'must be a positive integer' };
  const id = Number(text);
  return id <= MAX_ID ? id : { message: `must be at most ${MAX_ID}` };
}

/**
 * A positive integer id in the path or the query ("17"). Path parameters that are all ids are
 * checked with parseIdText directly, without Zod (src/http/validate.ts): the same rule and words.
 */
export const IdParam = z
  .string()
  .transform((text, ctx) => {
    const id = parseIdText(text);
    if (typeof id === 'number') return id;
    ctx.issues.push({ code: 'custom', message: id.message, input: text });
    return z.NEVER;
  })
  .openapi({ type: 'integer', minimum: 1, maximum: MAX_ID, example: 17 });

/** A positive integer id in a JSON body. */
export const IdValue = z
  .preprocess((v) => (v instanceof JsonNumber ? Number(v.raw) : v), z.number('must be an integer').int('must be an integer').min(1, 'must be a positive integer').max(MAX_ID, `must be at most ${MAX_ID}`))
  .openapi({ type: 'integer', minimum: 1, maximum: MAX_ID, example: 17 });

/** No control characters (tabs, line breaks, NUL …) in names and ids: PostgreSQL refuses NUL in text, and none belongs there. */
const NO_CONTROL_CHARACTERS = /^[^\u0000-\u001f\u007f-\u009f]*$/;

/** An id given by another system (an invoice line's id): exactly as sent, 1 to `max` characters. */
export const ExternalText = (max: number) =>
  z
    .string('must be a string')
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(NO_CONTROL_CHARACTERS, 'must not contain control characters');

/** A name or a number people type: trimmed, 1 to `max` characters. */
export const Text = (max: number) =>
  z
    .string('must be a string')
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .regex(NO_CONTROL_CHARACTERS, 'must not contain control characters');

export const IsoDate = z
  .string('must be a date in the form yyyy-MM-dd')
  .refine(isValidIsoDate, 'must be a real calendar date in the form yyyy-MM-dd')
  // no `type` here: an explicit type would hide the `null` of IsoDate.nullable() in the document
  .openapi({ format: 'date', example: '2026-11-01', description: 'A calendar date, yyyy-MM-dd, with no time or zone.' });

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
  .openapi({ format: 'date-time', example: '2026-11-23T10:15:00.000Z', description: 'An instant, ISO 8601 UTC with milliseconds.' });

/** An instant in a query string: ISO 8601 with a zone (Z or ±hh:mm). */
export const TimestampInput = z
  .string()
  .regex(
    /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/,
    // abort: one message for text that is not a timestamp at all, not a second one from the check below
    { message: 'must be an ISO 8601 timestamp with a zone, e.g. 2026-12-01T00:00:00Z', abort: true },
  )
  .refine((v) => isValidIsoDate(v.slice(0, 10)) && !Number.isNaN(Date.parse(v)), 'must be a real point in time')
  .refine((v) => !(Date.parse(v) > Date.parse(LAST_INSTANT)), `must not lie after ${LAST_INSTANT}`)
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
  .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))
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

/** The business unit a request acts for: the key must be allowed to act for it (403 otherwise). */
export const BunitIdParam = IdParam.openapi({
  description: 'Id of the business unit the request acts for; the API key must be allowed to act for it.',
  example: 1,
});

export const BunitIdParams = z.strictObject({ bunitId: BunitIdParam });

export const ProblemSchema = z
  .object({
    type: z.string().openapi({
      example: 'urn:referral-service:problem:over-allocated',
      description: 'A URN naming the problem: `urn:referral-service:problem:` followed by `code`.',
    }),
    title: z.string().openapi({ example: 'Conflict', description: 'A short, human-readable summary of the kind of problem.' }),
    status: z.number().int().openapi({ example: 409, description: 'The HTTP status code.' }),
    detail: z.string().openapi({
      example: 'On 2026-11-01 the referrals of contract 42 would sum to 112.5 %, more than 100 %.',
      description: 'What went wrong with this request, for a person to read.',
    }),
    code: z.string().openapi({ example: 'over-allocated', description: 'A stable machine-readable code (the list per operation is in its responses).' }),
    requestId: z.string().optional().openapi({
      example: '5b0e7d1c-2f4a-4a57-9d8e-0c6c1f2b9a31',
      description: 'The request id (also in the `X-Request-Id` header); quote it when you report a problem.',
    }),
    errors: z
      .array(
        z.object({
          path: z.string().openapi({ example: 'body.percentage', description: 'Where: `params.`, `query.`, `header.` or `body.` and the field path.' }),
          message: z.string().openapi({ example: 'must have at most 4 decimal places' }),
        }),
      )
      .optional()
      .openapi({ description: 'Every invalid field, not just the first (validation-failed, and invalid-reference or self-referral to point at the field).' }),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details. `code` is a stable machine-readable string.' });

/** The two sides of `from,to` in a query, either of them empty; never both. */
function rangeSides(text: string, ctx: z.core.$RefinementCtx<string>): [string, string] | null {
  const sides = text.split(',');
  if (sides.length !== 2 || (sides[0] === '' && sides[1] === '')) {
    ctx.addIssue({ code: 'custom', message: 'must be a range from,to with at least one side (e.g. 2026-11-01,2026-11-30 or ,2026-12-31)' });
    return null;
  }
  return [sides[0]!, sides[1]!];
}

/** `from,to` of calendar dates, both inclusive, either side empty. */
export const DateRange = z
  .string()
  .transform((text, ctx) => {
    const sides = rangeSides(text, ctx);
    if (!sides) return z.NEVER;
    const [from, to] = sides;
    for (const side of [from, to]) {
      if (side !== '' && !isValidIsoDate(side)) {
        ctx.addIssue({ code: 'custom', message: `${side} is not a real calendar date in the form yyyy-MM-dd` });
        return z.NEVER;
      }
    }
    if (from !== '' && to !== '' && to < from) {
      ctx.addIssue({ code: 'custom', message: 'must not end before it starts' });
      return z.NEVER;
    }
    return { from: from || undefined, to: to || undefined };
  })
  .openapi({ type: 'string', pattern: '^(\\d{4}-\\d{2}-\\d{2})?,(\\d{4}-\\d{2}-\\d{2})?$' });

/** One side of an instant range: a calendar date (the whole day, in the business time zone) or a timestamp. */
export type RangeSide = { date: string } | { instant: Date };

/** `from,to` of dates or timestamps, both inclusive, either side empty. */
export const InstantRange = z
  .string()
  .transform((text, ctx) => {
    const sides = rangeSides(text, ctx);
    if (!sides) return z.NEVER;
    const parsed: (RangeSide | undefined)[] = [];
    for (const side of sides) {
      if (side === '') parsed.push(undefined);
      else if (isValidIsoDate(side)) parsed.push({ date: side });
      else {
        const instant = TimestampInput.safeParse(side);
        if (!instant.success) {
          ctx.addIssue({ code: 'custom', message: `${side} is neither a date yyyy-MM-dd nor an ISO 8601 timestamp with a zone` });
          return z.NEVER;
        }
        parsed.push({ instant: instant.data });
      }
    }
    return { from: parsed[0], to: parsed[1] };
  })
  .openapi({ type: 'string' });

/** A period (SPEC §15): a calendar month, yyyy-MM. */
export const Period = z
  .string('must be a month in the form yyyy-MM')
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a month in the form yyyy-MM')
  .refine((v) => v >= '0001-01', 'must be a month in the form yyyy-MM')
  .openapi({ example: '2026-10', pattern: '^\\d{4}-(0[1-9]|1[0-2])$', description: 'A calendar month, yyyy-MM.' });
