import { z } from 'zod';
import { daysInclusive } from '../domain/dates';
import { BunitIdParam, DecimalInput, DecimalString, ExternalText, IdParam, IsoDate, Limit, Offset, SortParam, Timestamp, whenFieldsValid } from './common';
import { CurrencyCode } from './contract';

export const MAX_PERIOD_DAYS = 366;
export const MAX_LINES_PER_REQUEST = 1000;

export const RevenueLine = z
  .object({
    id: z.number().int().openapi({ example: 901 }),
    contractId: z.number().int().openapi({ example: 42 }),
    externalId: z.string().openapi({ example: 'INV-2026-10-0042/1', description: 'The billing system’s id of the line; unique per contract.' }),
    amount: DecimalString('Revenue amount in the contract currency; negative for a credit note.', '3000.00'),
    currency: z.string().openapi({ example: 'EUR' }),
    periodStart: IsoDate,
    periodEnd: IsoDate.openapi({ description: 'Last day of the period (inclusive). The amount is spread evenly over the days.' }),
    createdDate: Timestamp,
    settled: z.boolean().openapi({ description: 'True once a settlement run has settled this line for some referral; it can no longer be deleted.' }),
  })
  .openapi('RevenueLine', { description: 'Revenue a contract generated (an invoice line). Lines are never edited; a correction is a new, negative line.' });
export type RevenueLine = z.infer<typeof RevenueLine>;

/** The amount column holds 18 digits before the point (NUMERIC(24, 6)); a larger amount is a 400, not a 500. */
export const MAX_AMOUNT = '999999999999999999.999999';

const Amount = DecimalInput({
  maxScale: 6,
  greaterThan: `-1${'0'.repeat(18)}`,
  atMost: MAX_AMOUNT,
  nonZero: true,
  example: '3000.00',
  description:
    'Amount in the contract currency, at most 6 decimals and less than 10^18 in absolute value; negative for a credit note; not zero.',
});

export const RevenueLineInput = z
  .strictObject({
    externalId: ExternalText(128).openapi({ example: 'INV-2026-10-0042/1' }),
    amount: Amount,
    currency: CurrencyCode.optional().openapi({ description: 'If given, must equal the contract currency.' }),
    date: IsoDate.optional().openapi({ description: 'A one-day line: the same as periodStart = periodEnd = date.' }),
    periodStart: IsoDate.optional(),
    periodEnd: IsoDate.optional(),
  })
  .superRefine((line, ctx) => {
    if (line.date !== undefined) {
      if (line.periodStart !== undefined || line.periodEnd !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['date'], message: 'give either date or periodStart and periodEnd, not both' });
      }
      return;
    }
    if (line.periodStart === undefined) ctx.addIssue({ code: 'custom', path: ['periodStart'], message: 'is required (or give date)' });
    if (line.periodEnd === undefined) ctx.addIssue({ code: 'custom', path: ['periodEnd'], message: 'is required (or give date)' });
  })
  .superRefine((line, ctx) => {
    if (line.date !== undefined || line.periodStart === undefined || line.periodEnd === undefined) return;
    if (line.periodEnd < line.periodStart) {
      ctx.addIssue({ code: 'custom', path: ['periodEnd'], message: 'must not be before periodStart' });
    } else if (daysInclusive(line.periodStart, line.periodEnd) > MAX_PERIOD_DAYS) {
      ctx.addIssue({ code: 'custom', path: ['periodEnd'], message: `the period may span at most ${MAX_PERIOD_DAYS} days` });
    }
  }, whenFieldsValid('periodStart', 'periodEnd'))
  .openapi('RevenueLineInput');
export type RevenueLineInput = z.infer<typeof RevenueLineInput>;

export const RevenueIngest = z
  .strictObject({
    lines: z
      .array(RevenueLineInput, 'must be an array of revenue lines')
      .min(1, 'must hold at least one line')
      .max(MAX_LINES_PER_REQUEST, `must hold at most ${MAX_LINES_PER_REQUEST} lines`),
  })
  .superRefine((body, ctx) => {
    const seen = new Map<string, number>();
    body.lines.forEach((line, i) => {
      const first = seen.get(line.externalId);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['lines', i, 'externalId'], message: `repeats the externalId of line ${first}` });
      } else {
        seen.set(line.externalId, i);
      }
    });
  })
  .openapi('RevenueIngest', { description: '1 to 1000 lines, accepted all or nothing.' });
export type RevenueIngest = z.infer<typeof RevenueIngest>;

export const RevenueIngestResult = z
  .object({
    created: z.number().int().openapi({ example: 2 }),
    existing: z.number().int().openapi({ example: 0, description: 'Lines whose externalId already existed with identical content (not duplicated).' }),
    data: z.array(RevenueLine).openapi({ description: 'Every line of the request, in request order, as stored.' }),
  })
  .openapi('RevenueIngestResult');

export const RevenueListQuery = z.strictObject({
  settled: z
    .enum(['true', 'false'], 'must be true or false')
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true'))
    .openapi({ type: 'string', enum: ['true', 'false'], description: 'Only settled (true) or unsettled (false) lines.' }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'periodStart', 'periodEnd', 'createdDate']),
});
export type RevenueListQuery = z.infer<typeof RevenueListQuery>;

export const RevenueList = z
  .object({ data: z.array(RevenueLine), meta: z.object({ total: z.number().int(), limit: z.number().int(), offset: z.number().int() }) })
  .openapi('RevenueLineList');

export const RevenueLineParams = z.strictObject({
  bunitId: BunitIdParam,
  contractId: IdParam.openapi({ description: 'Id of a contract owned by the business unit in the path.', example: 42 }),
  lineId: IdParam.openapi({ description: 'Id of a revenue line of the contract.', example: 901 }),
});
