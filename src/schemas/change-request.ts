import { z } from 'zod';
import { BunitIdParam, IdParam, IdValue, IsoDate, Limit, ListOf, Offset, SortParam, Text, Timestamp, whenFieldsValid } from './common';
import { Percentage } from './referral';

/** Change requests (SPEC §11): maker-checker approval of referral changes. */

export const ChangeKind = z.enum(['create', 'update', 'archive', 'amend'], 'must be one of create, update, archive, amend');
export const ChangeStatus = z.enum(['pending', 'approved', 'denied', 'withdrawn'], 'must be one of pending, approved, denied, withdrawn');

export const ChangeRequest = z
  .object({
    id: z.number().int().openapi({ example: 31 }),
    bunitId: z.number().int().openapi({ example: 1, description: 'The business unit that owns the referral’s contract: its keys ask, its approvers decide.' }),
    referralId: z.number().int().openapi({ example: 17 }),
    kind: ChangeKind.openapi({
      description: '`create`: a new referral; `update`: a PUT that changes its terms; `archive`: a DELETE; `amend`: a correction of settled terms (§12).',
    }),
    status: ChangeStatus.openapi({ description: 'Only a `pending` request can be decided or withdrawn.' }),
    proposed: z.record(z.string(), z.unknown()).openapi({
      description:
        'The terms asked for, as the API shows them: `create` and `update` carry `percentage`, `billingStartDate`, `billingEndDate` (create also `contract` and `referrer`); `archive` carries `archivedDate` (null: at the approval); `amend` carries the corrected terms.',
      example: { percentage: '15', billingStartDate: '2026-11-01', billingEndDate: '2027-10-31' },
    }),
    reason: z.string().nullable().openapi({ description: 'Why the change was asked for: the request’s X-Change-Reason header (for an amendment, its body).' }),
    requestedBy: z.string().openapi({ example: 'billing-hq', description: 'Name of the API key that asked.' }),
    requestedDate: Timestamp,
    decidedBy: z.string().nullable().openapi({ example: 'finance-approver', description: 'Name of the key that approved, denied or withdrew it.' }),
    decidedDate: Timestamp.nullable(),
    decisionReason: z.string().nullable().openapi({ example: 'Checked against the signed agreement.', description: 'The decision’s `reason` (its body’s); for an approval without one, the X-Change-Reason header of the approving request.' }),
  })
  .openapi('ChangeRequest', { description: 'A change to a referral that waits for another key’s decision (four eyes).' });

export const ChangeRequestList = ListOf(ChangeRequest, 'ChangeRequestList');

export const ChangeRequestListQuery = z.strictObject({
  status: ChangeStatus.optional().openapi({ description: 'Only requests in this status.' }),
  kind: ChangeKind.optional().openapi({ description: 'Only requests of this kind.' }),
  referralId: IdParam.optional().openapi({ description: 'Only the requests of this referral.' }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'requestedDate', 'decidedDate']),
});
export type ChangeRequestListQuery = z.infer<typeof ChangeRequestListQuery>;

export const ChangeRequestParams = z.strictObject({
  bunitId: BunitIdParam,
  changeRequestId: IdParam.openapi({ description: 'Id of a change request of a referral visible to the business unit.', example: 31 }),
});

const DecisionReason = Text(500).openapi({ example: 'Checked against the signed agreement.' });

export const ApproveBody = z.strictObject({ reason: DecisionReason.optional() }).openapi('ChangeRequestApproval');
export const DenyBody = z.strictObject({ reason: DecisionReason }).openapi('ChangeRequestDenial', { description: 'A denial says why.' });

const Ids = z.array(IdValue, 'must be an array of change request ids').max(1000, 'must hold at most 1000 ids');

export const ModerateBody = z
  .strictObject({
    approve: Ids.optional(),
    deny: Ids.optional(),
    reason: DecisionReason.optional().openapi({ description: 'The decision reason for all of them; required when any is denied.' }),
  })
  .superRefine((v, ctx) => {
    const all = [...(v.approve ?? []), ...(v.deny ?? [])];
    if (all.length === 0) ctx.addIssue({ code: 'custom', path: ['approve'], message: 'name at least one change request to approve or deny' });
    if (all.length > 1000) ctx.addIssue({ code: 'custom', path: ['approve'], message: 'at most 1000 change requests in all' });
    if (new Set(all).size !== all.length) ctx.addIssue({ code: 'custom', path: ['deny'], message: 'a change request may be named once only' });
    if ((v.deny ?? []).length > 0 && v.reason === undefined) ctx.addIssue({ code: 'custom', path: ['reason'], message: 'is required when change requests are denied' });
  })
  .openapi('ChangeRequestModeration', {
    description: 'Several decisions at once, all or nothing: 1 to 1000 ids in all.',
    example: { approve: [31, 32], deny: [33], reason: 'Weekly review' },
  });
export type ModerateBody = z.infer<typeof ModerateBody>;

export const ModerationResult = z
  .object({ data: z.array(ChangeRequest) })
  .openapi('ChangeRequestModerationResult', { description: 'Every request named, as decided.' });

/** An amendment (SPEC §12): a correction of a referral's terms, settled days included. */
export const AmendmentCreate = z
  .strictObject({
    effectiveFrom: IsoDate.optional().openapi({
      description: 'With `percentage`: the first day it applies (default: the billing start); every day from it to the end of the window gets it, replacing what the history says there.',
    }),
    percentage: Percentage.optional(),
    billingStartDate: IsoDate.optional().openapi({ description: 'The corrected first day of the window, earlier or later, into the past too.' }),
    billingEndDate: IsoDate.nullable().optional().openapi({ description: 'The corrected last day (inclusive); null: open-ended; absent: unchanged.' }),
    reason: Text(500).openapi({ description: 'Why the terms are corrected (required; kept in the change request and the audit trail).', example: 'Agreed at 15 % from October; entered as 12.5 %.' }),
  })
  .superRefine(
    (v, ctx) => {
      if (v.percentage === undefined && v.billingStartDate === undefined && v.billingEndDate === undefined) {
        ctx.addIssue({ code: 'custom', path: ['percentage'], message: 'name at least one term to correct: percentage, billingStartDate or billingEndDate' });
      }
      if (v.effectiveFrom !== undefined && v.percentage === undefined) {
        ctx.addIssue({ code: 'custom', path: ['effectiveFrom'], message: 'applies to a percentage: give percentage too' });
      }
      if (v.billingStartDate && v.billingEndDate && v.billingEndDate < v.billingStartDate) {
        ctx.addIssue({ code: 'custom', path: ['billingEndDate'], message: 'must not be before billingStartDate' });
      }
    },
    whenFieldsValid('effectiveFrom', 'percentage', 'billingStartDate', 'billingEndDate'),
  )
  .openapi('AmendmentCreate', {
    example: { effectiveFrom: '2026-10-01', percentage: '15', reason: 'Agreed at 15 % from October; entered as 12.5 %.' },
  });
export type AmendmentCreate = z.infer<typeof AmendmentCreate>;
