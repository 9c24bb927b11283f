import { z } from 'zod';
import { BunitIdParam, DecimalString, IdParam, IsoDate, Limit, ListOf, Offset, Period, SortParam, Timestamp } from './common';
import { STATEMENT_STATUSES } from '../domain/statement-lifecycle';
import { CurrencyCode } from './contract';

export const RunCreate = z
  .strictObject({
    through: IsoDate.optional().openapi({
      description: 'Settle revenue lines whose period ends on or before this day. Default and latest: yesterday (today’s percentage may still change, R8).',
    }),
    dryRun: z.boolean('must be true or false').optional().openapi({ description: 'Compute and return the statements without writing anything.' }),
  })
  .openapi('SettlementRunCreate');
export type RunCreate = z.infer<typeof RunCreate>;

const Party = z.object({ id: z.number().int(), code: z.string(), name: z.string() }).openapi('Party');

const CurrencyTotal = z
  .object({ currency: z.string().openapi({ example: 'EUR' }), amount: DecimalString('Sum of the statement totals in this currency.', '519.44') })
  .openapi('CurrencyTotal');

const Adjusts = z
  .object({
    statementId: z.number().int().openapi({ example: 88 }),
    lineId: z.number().int().openapi({ example: 5001 }),
  })
  .openapi('AdjustedLine', { description: 'The first statement line of the pair this adjustment corrects.' });

const lineFields = {
  kind: z.enum(['share', 'adjustment']).openapi({
    description:
      '`share`: the pair’s share, settled once. `adjustment`: a later correction of a settled pair after an amendment of its referral’s terms (SPEC §12): its exactAmount is the difference between the share under the corrected terms and what the pair’s lines settled before.',
    example: 'share',
  }),
  revenueLineId: z.number().int().openapi({ example: 901 }),
  referralId: z.number().int().openapi({ example: 17 }),
  contractId: z.number().int().openapi({ example: 42 }),
  periodStart: IsoDate.openapi({ description: 'First day of the revenue line’s period.' }),
  periodEnd: IsoDate.openapi({ description: 'Last day (inclusive) of the revenue line’s period.' }),
  periodDays: z.number().int().openapi({ example: 31, description: 'Days in the revenue line’s period (N): the line’s amount is spread evenly over them.' }),
  billableDays: z.number().int().openapi({ example: 20, description: 'Days of the period on which the referral was billable.' }),
  revenueAmount: DecimalString('The revenue line’s amount, in the statement currency.', '3000.00'),
  exactAmount: DecimalString(
    'The exact share, revenueAmount / periodDays × Σ percentage(d) / 100 over the billable days d, shown to at most 20 decimals (rounded half to even). The service keeps the exact rational and rounds `amount` from it, not from this display.',
    '241.93548387096774193548',
  ),
  amount: DecimalString(
    'The share as paid: exactAmount rounded down to the currency’s minor unit, plus one minor unit for the lines with the largest remainders, so that the lines add up to the statement total.',
    '241.94',
  ),
  adjusts: Adjusts.nullable().openapi({
    description: 'For an adjustment: the pair’s first statement line (null when the pair had no line before, e.g. no billable day). Null for a share.',
  }),
};

export const StatementLine = z
  .object({
    id: z.number().int().openapi({ example: 5001 }),
    ...lineFields,
    disputeId: z.number().int().nullable().openapi({
      example: null,
      description: 'The line’s open dispute, or its last one once that has ended (SPEC §15); null when it was never disputed.',
    }),
    held: z.boolean().openapi({
      example: false,
      description: 'True while the dispute `disputeId` is open: the line is held, counted in the statement’s heldAmount, and netted only once the dispute ends.',
    }),
  })
  .openapi('StatementLine', { description: 'The share of one revenue line earned through one referral.' });

const DryRunStatementLine = z
  .object({ id: z.null().openapi({ description: 'Null: a dry run stores nothing.' }), ...lineFields })
  .openapi('DryRunStatementLine', { description: 'A statement line as a dry run computes it; nothing is stored.' });

const statementFields = {
  payer: Party.openapi({ description: 'The business unit that owns the contracts and pays the share.' }),
  referrer: Party.openapi({ description: 'The business unit that earns the share.' }),
  currency: z.string().openapi({ example: 'EUR', description: 'ISO 4217 code; the currency of the contracts.' }),
  total: DecimalString(
    'What the payer owes the referrer: the exact sum of the lines’ shares, rounded once, half to even, to the currency’s minor unit. Negative when credit notes outweigh revenue.',
    '229.44',
  ),
  lineCount: z.number().int().openapi({ example: 2 }),
  createdDate: Timestamp,
};
const statementDescription =
  'What one business unit (payer) owes another (referrer) in one currency for one settlement run. The lines always add up to the total.';

export const StatementStatus = z.enum(STATEMENT_STATUSES, `must be one of ${STATEMENT_STATUSES.join(', ')}`);

/** Where a statement is after the run (SPEC §15). */
const lifecycleFields = {
  period: Period.openapi({ description: 'The calendar month (yyyy-MM) of the run’s `through`: the period the statement belongs to.' }),
  status: StatementStatus.openapi({
    example: 'issued',
    description:
      '`issued` when the run wrote it; `accepted` once the payer confirmed it (or automatically, STATEMENT_ACCEPT_DAYS days after its creation); `closed` once its period is closed (§16).',
  }),
  acceptedBy: z.string().nullable().openapi({ example: null, description: 'The name of the key that accepted it, `auto` when it was accepted automatically; null while issued.' }),
  acceptedDate: IsoDate.nullable().openapi({ example: null, description: 'The day (BUSINESS_TIMEZONE) it was accepted; null while issued.' }),
  heldAmount: DecimalString('Σ of the amounts of its lines held by an open dispute, in the currency’s minor units; "0.00" (EUR) when none is.', '0.00'),
};

export const Statement = z
  .object({
    id: z.number().int().openapi({ example: 88 }),
    runId: z.number().int().openapi({ example: 12, description: 'The settlement run that produced the statement.' }),
    ...statementFields,
    ...lifecycleFields,
  })
  .openapi('Statement', { description: `${statementDescription} Lists leave out the lines.` });

export const StatementWithLines = z
  .object({ ...Statement.shape, lines: z.array(StatementLine) })
  .openapi('StatementWithLines', { description: statementDescription });

const DryRunStatement = z
  .object({
    id: z.null().openapi({ description: 'Null: a dry run stores nothing.' }),
    runId: z.null().openapi({ description: 'Null: a dry run stores nothing.' }),
    ...statementFields,
    lines: z.array(DryRunStatementLine),
  })
  .openapi('DryRunStatement', { description: `A statement as a dry run computes it. ${statementDescription}` });

const runFields = {
  through: IsoDate.openapi({ description: 'Revenue lines whose period ends on or before this day are settled.' }),
  createdDate: Timestamp,
  startedDate: Timestamp.openapi({ description: 'When the run began to work.' }),
  completedDate: Timestamp.nullable().openapi({ description: 'When finalize completed it; null while it is running.' }),
  statementCount: z.number().int().openapi({ example: 2, description: 'Statements of the run; 0 while it is running.' }),
  lineCount: z.number().int().openapi({ example: 4, description: 'Statement lines of the run; 0 while it is running.' }),
  totals: z.array(CurrencyTotal).openapi({ description: 'Per currency, the sum of the statement totals of the run (empty while it is running).' }),
  progress: z
    .object({
      partitionsDone: z.number().int().openapi({ example: 48 }),
      partitionsTotal: z.number().int().openapi({ example: 48 }),
      partitionsFailed: z.number().int().openapi({
        example: 0,
        description: 'Partitions left out after an unexpected error (counted in partitionsDone): their revenue stays unsettled and the next run tries it again.',
      }),
    })
    .openapi('SettlementRunProgress', { description: 'How far the run is: its partitions (groups of contracts), each committed on its own.' }),
};

export const SettlementRun = z
  .object({
    id: z.number().int().openapi({ example: 12 }),
    through: runFields.through,
    dryRun: z.literal(false),
    status: z.enum(['running', 'completed']).openapi({
      description: '`running` while partitions are being settled and finalize has not rounded the statements yet (they are listed nowhere until then); `completed` after.',
    }),
    createdDate: runFields.createdDate,
    startedDate: runFields.startedDate,
    completedDate: runFields.completedDate,
    statementCount: runFields.statementCount,
    lineCount: runFields.lineCount,
    totals: runFields.totals,
    progress: runFields.progress,
  })
  .openapi('SettlementRun', {
    description:
      'A settlement run. Its statements are listed with listRunStatements (admin) and per business unit (listStatements with `runId`), once it has completed.',
  });

export const SettlementDryRun = z
  .object({
    id: z.null().openapi({ description: 'Null: a dry run stores nothing.' }),
    through: runFields.through,
    dryRun: z.literal(true),
    statements: z.array(DryRunStatement).openapi({ description: 'The statements the run would produce, with their lines.' }),
    status: z.literal('completed'),
    createdDate: runFields.createdDate,
    startedDate: runFields.startedDate,
    completedDate: Timestamp,
    statementCount: runFields.statementCount,
    lineCount: runFields.lineCount,
    totals: runFields.totals,
    progress: runFields.progress,
  })
  .openapi('SettlementDryRun', { description: 'What a settlement run would settle now; nothing was written. The answer is streamed: the statements come first, the figures of the whole run after them.' });

export const RunList = ListOf(SettlementRun, 'SettlementRunList');

export const RunListQuery = z.strictObject({
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'through', 'createdDate']),
});

export const RunParams = z.strictObject({ runId: IdParam.openapi({ description: 'Id of a settlement run.', example: 12 }) });

export const RunStatementsQuery = z.strictObject({
  currency: CurrencyCode.optional().openapi({ description: 'Only the statements in this currency (ISO 4217).' }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'runId', 'createdDate']),
});

export const StatementList = ListOf(Statement, 'StatementList');

export const StatementListQuery = z.strictObject({
  role: z
    .enum(['payer', 'referrer', 'any'], 'must be one of payer, referrer, any')
    .optional()
    .default('any')
    .openapi({ description: '`payer`: statements this unit pays; `referrer`: statements it earns; `any`: both.' }),
  runId: IdParam.optional().openapi({ description: 'Only the statements of this settlement run.' }),
  currency: CurrencyCode.optional().openapi({ description: 'Only the statements in this currency (ISO 4217).' }),
  status: StatementStatus.optional().openapi({ description: 'Only the statements in this status (`issued`: still to be confirmed).' }),
  period: Period.optional().openapi({ description: 'Only the statements of this period (yyyy-MM).' }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'runId', 'createdDate']),
});
export type StatementListQuery = z.infer<typeof StatementListQuery>;

export const StatementParams = z.strictObject({
  bunitId: BunitIdParam,
  statementId: IdParam.openapi({ description: 'Id of a statement the business unit in the path pays or earns.', example: 88 }),
});
