import { z } from 'zod';
import { daysInclusive } from '../domain/dates';
import { DecimalString, IsoDate, Limit, ListOf, Offset, whenFieldsValid } from './common';

export const MAX_WINDOW_RANGE_DAYS = 366;

export const BillingWindowQuery = z
  .strictObject({
    from: IsoDate.openapi({ description: 'First day of the range (inclusive).' }),
    to: IsoDate.openapi({ description: `Last day of the range (inclusive); at most ${MAX_WINDOW_RANGE_DAYS} days after from.` }),
    limit: Limit,
    offset: Offset,
  })
  .superRefine((q, ctx) => {
    if (q.to < q.from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'must not be before from' });
    else if (daysInclusive(q.from, q.to) > MAX_WINDOW_RANGE_DAYS) {
      ctx.addIssue({ code: 'custom', path: ['to'], message: `the range may span at most ${MAX_WINDOW_RANGE_DAYS} days` });
    }
  }, whenFieldsValid('from', 'to'));
export type BillingWindowQuery = z.infer<typeof BillingWindowQuery>;

export const BillingWindow = z
  .object({
    referral: z.object({ id: z.number().int() }).openapi({ example: { id: 17 } }),
    contract: z
      .object({ id: z.number().int(), number: z.string(), currency: z.string(), bunitId: z.number().int() })
      .openapi({ example: { id: 42, number: 'C-2026-001', currency: 'EUR', bunitId: 1 } }),
    referrer: z
      .object({ id: z.number().int(), code: z.string(), name: z.string() })
      .openapi({ example: { id: 3, code: 'NORDICS', name: 'Nordic Sales' } }),
    segments: z
      .array(
        z.object({
          from: IsoDate,
          to: IsoDate.openapi({ description: 'Last day of the segment (inclusive).' }),
          days: z.number().int().openapi({ example: 20 }),
          percentage: DecimalString('The percentage on every day of the segment.', '12.5'),
        }),
      )
      .openapi({ description: 'The maximal runs of billable days with one percentage, clipped to the range.' }),
  })
  .openapi('BillingWindow', {
    description:
      'When a referral earns inside the range, and at which percentage: its billing window (start to end, inclusive) cut by its archive date, split where the percentage changed.',
  });

export const BillingWindowList = ListOf(BillingWindow, 'BillingWindowList');
