import { z } from 'zod';
import { BunitIdParam, DecimalInput, DecimalString, ExternalText, IdParam, IsoDate, Limit, ListOf, Offset, Timestamp } from './common';

/** SPEC §16: periods, their close, nettings, payments, accounts and journals. */

export const PeriodText = z
  .string('must be a month in the form yyyy-MM')
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'must be a month in the form yyyy-MM')
  .openapi({ example: '2026-10', description: 'A calendar month, `yyyy-MM`.' });

export const Period = z
  .object({
    period: PeriodText,
    status: z.enum(['open', 'closed']).openapi({ description: '`closed` once its close is done, for good; `open` until then (also while a close is under way).' }),
    closedDate: Timestamp.nullable().openapi({ description: 'When the close completed; null while open.' }),
    closedBy: z.string().nullable().openapi({ example: 'month-end', description: 'The key (by name) that closed it; null while open.' }),
    statementCount: z.number().int().openapi({ example: 4 }),
    issuedCount: z.number().int().openapi({ example: 0, description: 'Statements still `issued` (neither accepted nor closed): each stands in the way of the close.' }),
    openDisputeCount: z.number().int().openapi({ example: 1, description: 'Open disputes on the period’s statements: they do not stop the close; their lines stay held.' }),
  })
  .openapi('Period', { description: 'A month that has statements, or whose only nettable lines are lines released in it (their dispute ended in it), or that was closed.' });

export const PeriodList = ListOf(Period, 'PeriodList');
export const PeriodListQuery = z.strictObject({ limit: Limit, offset: Offset });
export const PeriodParams = z.strictObject({ period: PeriodText });
export const CloseBody = z.strictObject({}).openapi('PeriodCloseRequest', { description: 'No fields: the period is in the path.' });

const bunitRefShape = { id: z.number().int(), code: z.string(), name: z.string() };
const BunitRef = z.object(bunitRefShape).openapi('NettingParty');
/** Inline, not a reference: a nullable reference loses its null in the generated document. */
const OptionalBunitRef = z.object(bunitRefShape).nullable();

export const NettingStatus = z.enum(['open', 'partially-paid', 'paid']);

export const Netting = z
  .object({
    id: z.number().int().openapi({ example: 31 }),
    period: PeriodText,
    currency: z.string().openapi({ example: 'EUR' }),
    parties: z
      .array(z.object({ bunit: BunitRef, owes: DecimalString('What this unit owes the other in the period: its statements’ totals less the lines held at the close, plus the lines released into the period.', '229.44') }))
      .openapi({ description: 'The two units, the lower id first.' }),
    payer: OptionalBunitRef.openapi({ description: 'The unit that owes more and pays the difference; null when both owe the same.' }),
    payee: OptionalBunitRef.openapi({ description: 'The unit paid; null when both owe the same.' }),
    amount: DecimalString('|owes of the first − owes of the second|: what the payer pays.', '129.44'),
    paidAmount: DecimalString('Σ of the payments recorded.', '0.00'),
    status: NettingStatus.openapi({ description: '`open`, `partially-paid`, `paid` (from the payments; a zero amount is paid at once).' }),
    statementIds: z.array(z.number().int()).openapi({ example: [88, 90] }),
    releasedLineIds: z.array(z.number().int()).openapi({ example: [], description: 'Lines held at the close of an earlier period whose dispute ended in this one.' }),
    createdDate: Timestamp,
  })
  .openapi('Netting', { description: 'What one pair of business units owes each other in one currency for one period, netted into one amount.' });

export const NettingList = ListOf(Netting, 'NettingList');
export const PeriodNettingsQuery = z.strictObject({ limit: Limit, offset: Offset });
export const NettingListQuery = z.strictObject({
  period: PeriodText.optional().openapi({ description: 'Only nettings of this month.' }),
  status: z
    .enum(['open', 'partially-paid', 'paid'], 'must be one of open, partially-paid, paid')
    .optional()
    .openapi({ description: 'Only nettings in this status (it follows from their payments).' }),
  limit: Limit,
  offset: Offset,
});
export type NettingListQuery = z.infer<typeof NettingListQuery>;

export const NettingParams = z.strictObject({
  bunitId: BunitIdParam,
  nettingId: IdParam.openapi({ description: 'Id of a netting.', example: 31 }),
});

export const PaymentCreate = z
  .strictObject({
    amount: DecimalInput({ maxScale: 6, greaterThan: '0', example: '100.00', description: 'Greater than 0, in the netting’s currency, at most its minor units’ decimals.' }),
    paidDate: IsoDate.openapi({ description: 'The day the money moved.' }),
    reference: ExternalText(100).openapi({ example: 'PAY-2026-11-0042', description: 'The payment’s reference in the bank or ERP: unique per netting (1..100 characters).' }),
  })
  .openapi('PaymentCreate');
export type PaymentCreate = z.infer<typeof PaymentCreate>;

export const Payment = z
  .object({
    id: z.number().int().openapi({ example: 5 }),
    nettingId: z.number().int().openapi({ example: 31 }),
    amount: DecimalString('The amount paid.', '100.00'),
    paidDate: IsoDate,
    reference: z.string().openapi({ example: 'PAY-2026-11-0042' }),
    recordedBy: z.string().openapi({ example: 'dach-treasury' }),
    createdDate: Timestamp,
  })
  .openapi('Payment');
export const PaymentList = ListOf(Payment, 'PaymentList');

export { Accounts } from './bunit';

export const JournalEntry = z
  .object({
    account: z.string().openapi({ example: 'revenue-share-expense' }),
    tradingPartner: z.object({ id: z.number().int(), code: z.string() }).openapi({ example: { id: 2, code: 'NORDICS' } }),
    debit: DecimalString('The debit; null on a credit entry.', '229.44').nullable(),
    credit: DecimalString('The credit; null on a debit entry.', '229.44').nullable(),
    memo: z.string().openapi({ example: 'revenue share owed' }),
    nettingId: z.number().int().openapi({ example: 31 }),
  })
  .openapi('JournalEntry');

export const Journal = z
  .object({
    id: z.number().int().openapi({ example: 61 }),
    bunit: BunitRef,
    kind: z.enum(['close', 'payment']),
    period: PeriodText.openapi({ description: 'The closed period; for a payment journal, the month of its paidDate.' }),
    currency: z.string().openapi({ example: 'EUR' }),
    date: IsoDate.openapi({ description: 'The period’s last day (close) or the payment’s paidDate.' }),
    entries: z.array(JournalEntry),
    totalDebit: DecimalString('Σ debits; always equal to totalCredit.', '458.88'),
    totalCredit: DecimalString('Σ credits.', '458.88'),
    postedDate: Timestamp.nullable().openapi({ description: 'When the ERP acknowledged it; null until then.' }),
    externalId: z.string().nullable().openapi({ example: null, description: 'The ERP’s id of the posted journal.' }),
    createdDate: Timestamp,
  })
  .openapi('Journal', { description: 'A balanced double-entry journal of one business unit in one currency.' });

export const JournalList = ListOf(Journal, 'JournalList');
export const JournalListQuery = z.strictObject({
  period: PeriodText.optional().openapi({ description: 'Only journals of this month (a payment journal: the month of its paidDate).' }),
  kind: z.enum(['close', 'payment'], 'must be one of close, payment').optional().openapi({ description: 'Only close or only payment journals.' }),
  posted: z
    .enum(['true', 'false'], 'must be true or false')
    .optional()
    .transform((v) => (v === undefined ? undefined : v === 'true'))
    .openapi({ type: 'boolean', description: '`false`: only journals the ERP has not acknowledged yet (its pick-up); `true`: only acknowledged ones.' }),
  limit: Limit,
  offset: Offset,
});
export type JournalListQuery = z.infer<typeof JournalListQuery>;
export const JournalParams = z.strictObject({
  bunitId: BunitIdParam,
  journalId: IdParam.openapi({ description: 'Id of a journal.', example: 61 }),
});
export const JournalPost = z
  .strictObject({ externalId: ExternalText(200).openapi({ example: 'ERP-JE-2026-004711', description: 'The journal’s id in the ERP.' }) })
  .openapi('JournalPost');
