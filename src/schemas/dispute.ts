import { z } from 'zod';
import { DISPUTE_REASON_CODES, DISPUTE_STATUSES, MAX_DISPUTE_LINES } from '../domain/statement-lifecycle';
import { BunitIdParam, DecimalString, IdParam, IdValue, IsoDate, Limit, ListOf, Offset, SortParam, Text, Timestamp } from './common';

/** Statements after the run (SPEC §15): acceptance, and disputes over statement lines. */

export const AcceptBody = z
  .strictObject({ reason: Text(500).optional().openapi({ example: 'Checked against the October billing report.' }) })
  .openapi('StatementAcceptance', { description: 'Why (optional): kept in the audit trail.' });

export const DisputeReasonCode = z
  .enum(DISPUTE_REASON_CODES, `must be one of ${DISPUTE_REASON_CODES.join(', ')}`)
  .openapi('DisputeReasonCode', {
    description:
      '`wrong-percentage`: the referral’s percentage on those days was not the agreed one; `wrong-revenue`: the revenue line is wrong (amount, period, contract); `wrong-window`: the days are outside the agreed billing window; `duplicate`: the revenue was invoiced twice; `other`: say what in the comment.',
    example: 'wrong-percentage',
  });

export const DisputeStatus = z
  .enum(DISPUTE_STATUSES, `must be one of ${DISPUTE_STATUSES.join(', ')}`)
  .openapi('DisputeStatus', {
    description: '`open` while its lines are held; `rejected` (the lines were right), `upheld` (they were wrong; a correction fixes them) or `withdrawn` once it has ended.',
  });

/** Free text people write: line breaks and tabs allowed, no other control characters, not blank. */
const Comment = z
  .string('must be a string')
  .min(1, 'must not be empty')
  .max(2000, 'must be at most 2000 characters')
  .regex(/^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$/, 'must not contain control characters other than line breaks and tabs')
  .refine((v) => v.trim().length > 0, 'must not be blank')
  .openapi({ example: 'October’s percentage is 15 % from the amendment signed on 2026-09-28, not 12.5 %.' });

const LineIds = z
  .array(IdValue, 'must be an array of statement line ids')
  .min(1, 'must name at least one line')
  .max(MAX_DISPUTE_LINES, `must name at most ${MAX_DISPUTE_LINES} lines`)
  .superRefine((ids, ctx) => {
    const seen = new Set<number>();
    ids.forEach((id, i) => {
      if (seen.has(id)) ctx.addIssue({ code: 'custom', path: [i], message: `line ${id} is named twice` });
      seen.add(id);
    });
  })
  .openapi({ example: [5001, 5002], description: `1 to ${MAX_DISPUTE_LINES} ids of lines of this statement, each once.` });

export const DisputeCreate = z
  .strictObject({
    lineIds: LineIds,
    reasonCode: DisputeReasonCode,
    comment: Comment,
  })
  .openapi('DisputeCreate');
export type DisputeCreate = z.infer<typeof DisputeCreate>;

const Reason = Text(500).openapi({ example: 'The amendment of 2026-09-28 applies from October.' });

export const DisputeResolve = z
  .strictObject({
    outcome: z.enum(['rejected', 'upheld'], 'must be one of rejected, upheld').openapi({
      description: '`rejected`: the lines were right. `upheld`: they were wrong, and the correction named here fixes them.',
    }),
    reason: Reason,
    changeRequestId: IdValue.optional().openapi({
      example: 31,
      description: 'The correction (upheld only): an amendment (SPEC §12), pending or approved, of a referral of the disputed lines, asked for after the dispute was opened.',
    }),
    revenueLineId: IdValue.optional().openapi({
      example: 977,
      description: 'The correction (upheld only): a revenue line with a negative amount (a credit note) on a contract of the disputed lines, created after the dispute was opened.',
    }),
  })
  .superRefine((body, ctx) => {
    if (body.outcome !== 'rejected') return;
    for (const field of ['changeRequestId', 'revenueLineId'] as const) {
      if (body[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only an upheld dispute names a correction' });
    }
  })
  .openapi('DisputeResolution');
export type DisputeResolve = z.infer<typeof DisputeResolve>;

export const DisputeWithdraw = z
  .strictObject({ reason: Reason.optional() })
  .openapi('DisputeWithdrawal', { description: 'Why (optional): kept with the dispute and in the audit trail.' });

export const Dispute = z
  .object({
    id: z.number().int().openapi({ example: 7 }),
    statementId: z.number().int().openapi({ example: 89 }),
    bunitId: z.number().int().openapi({ example: 1, description: 'The party that raised it: the statement’s payer or its referrer.' }),
    raisedBy: z.string().openapi({ example: 'dach-billing', description: 'The name of the key that raised it.' }),
    lineIds: z.array(z.number().int()).openapi({ example: [5004], description: 'The disputed lines of the statement, in id order.' }),
    amount: DecimalString('Σ of the disputed lines’ amounts, in the statement’s currency: what the dispute holds while it is open.', '-10.00'),
    currency: z.string().openapi({ example: 'EUR', description: 'The statement’s currency.' }),
    reasonCode: DisputeReasonCode,
    comment: z.string().openapi({ example: 'The credit note of 2026-10-15 was cancelled; the share of it should not be deducted.' }),
    status: DisputeStatus,
    resolution: z
      .object({
        by: z.string().openapi({ example: 'benelux-finance', description: 'The name of the key that resolved or withdrew it.' }),
        date: IsoDate.openapi({ description: 'The day (BUSINESS_TIMEZONE) it ended: its lines are netted in the period of this day (§16).' }),
        outcome: z.enum(['rejected', 'upheld', 'withdrawn']).openapi({ example: 'upheld' }),
        reason: z.string().nullable().openapi({ example: 'The credit note was cancelled; see revenue line 977.' }),
        correction: z
          .object({
            changeRequestId: z.number().int().nullable().openapi({ example: null }),
            revenueLineId: z.number().int().nullable().openapi({ example: 977 }),
          })
          .nullable()
          .openapi({ description: 'What fixes the lines of an upheld dispute; it settles as the difference in a later run. Null otherwise.' }),
      })
      .nullable()
      .openapi('DisputeResolutionRecord', { description: 'How the dispute ended; null while it is open.' }),
    createdDate: Timestamp,
  })
  .openapi('Dispute', { description: 'A dispute over lines of a statement (SPEC §15).' });

export const DisputeList = ListOf(Dispute, 'DisputeList');

export const DisputeListQuery = z.strictObject({
  status: DisputeStatus.optional().openapi({ description: 'Only disputes in this status (`open`: the work list).' }),
  statementId: IdParam.optional().openapi({ description: 'Only the disputes of this statement.' }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'createdDate']),
});
export type DisputeListQuery = z.infer<typeof DisputeListQuery>;

export const DisputeParams = z.strictObject({
  bunitId: BunitIdParam,
  disputeId: IdParam.openapi({ description: 'Id of a dispute over a statement the business unit pays or earns.', example: 7 }),
});
