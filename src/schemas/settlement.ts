import { z } from 'zod';
import { DecimalString, IdParam, IsoDate, Limit, ListOf, Offset, SortParam, Timestamp } from './common';
import { CurrencyCode } from './contract';

export const RunCreate = z
  .strictObject({
    through: IsoDate.optional().openapi({ description: 'Settle revenue lines whose period ends on or before this day. Default: yesterday; later than today is rejected.' }),
    dryRun: z.boolean('must be true or false').optional().openapi({ description: 'Compute and return the statements without writing anything.' }),
  })
  .openapi('SettlementRunCreate');
export type RunCreate = z.infer<typeof RunCreate>;

const Party = z.object({ id: z.number().int(), code: z.string(), name: z.string() }).openapi('Party');

const CurrencyTotal = z
  .object({ currency: z.string().openapi({ example: 'EUR' }), amount: DecimalString('Sum of the statement totals in this currency.', '519.44') })
  .openapi('CurrencyTotal');

export const StatementLine = z
  .object({
    id: z.number().int().nullable().openapi({ example: 5001, description: 'Null in a dry run.' }),
    revenueLineId: z.number().int().openapi({ example: 901 }),
    referralId: z.number().int().openapi({ example: 17 }),
    contractId: z.number().int().openapi({ example: 42 }),
    periodStart: IsoDate,
    periodEnd: IsoDate,
    periodDays: z.number().int().openapi({ example: 31, description: 'Days in the revenue line’s period (N).' }),
    billableDays: z.number().int().openapi({ example: 20, description: 'Days of the period on which the referral was billable.' }),
    revenueAmount: DecimalString('The revenue line’s amount.', '3000.00'),
    exactAmount: DecimalString(
      'The exact share, amount / N × Σ percentage(d) / 100 over the billable days, shown to 20 decimals.',
      '241.93548387096774193548',
    ),
    amount: DecimalString('The share rounded for this statement (largest-remainder), in the currency’s minor units.', '241.94'),
  })
  .openapi('StatementLine');

export const Statement = z
  .object({
    id: z.number().int().nullable().openapi({ example: 88, description: 'Null in a dry run.' }),
    runId: z.number().int().nullable().openapi({ example: 12, description: 'Null in a dry run.' }),
    payer: Party.openapi({ description: 'The business unit that owns the contracts and pays the share.' }),
    referrer: Party.openapi({ description: 'The business unit that earns the share.' }),
    currency: z.string().openapi({ example: 'EUR' }),
    total: DecimalString('The exact sum of the lines’ shares, rounded once (half to even) to the currency’s minor units.', '229.44'),
    lineCount: z.number().int().openapi({ example: 2 }),
    createdDate: Timestamp,
    lines: z.array(StatementLine).optional().openapi({ description: 'Present on a single statement and in dry runs, not in lists.' }),
  })
  .openapi('Statement', {
    description:
      'What one business unit owes another in one currency for one settlement run. The lines always add up to the total.',
  });

export const SettlementRun = z
  .object({
    id: z.number().int().nullable().openapi({ example: 12, description: 'Null for a dry run.' }),
    through: IsoDate,
    dryRun: z.boolean(),
    createdDate: Timestamp,
    statementCount: z.number().int().openapi({ example: 2 }),
    lineCount: z.number().int().openapi({ example: 4 }),
    totals: z.array(CurrencyTotal),
    statements: z.array(Statement).optional().openapi({ description: 'Only in the answer to a dry run: the would-be statements with their lines.' }),
  })
  .openapi('SettlementRun');

export const RunList = ListOf(SettlementRun, 'SettlementRunList');

export const RunListQuery = z.strictObject({
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'through', 'createdDate']),
});

export const RunParams = z.strictObject({ runId: IdParam });

export const StatementList = ListOf(Statement, 'StatementList');

export const StatementListQuery = z.strictObject({
  role: z
    .enum(['payer', 'referrer', 'any'], 'must be one of payer, referrer, any')
    .optional()
    .default('any')
    .openapi({ description: '`payer`: statements this unit pays; `referrer`: statements it earns; `any`: both.' }),
  runId: IdParam.optional(),
  currency: CurrencyCode.optional(),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'runId', 'createdDate']),
});
export type StatementListQuery = z.infer<typeof StatementListQuery>;

export const StatementParams = z.strictObject({ bunitId: IdParam, statementId: IdParam });
