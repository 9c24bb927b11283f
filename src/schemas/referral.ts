import { z } from 'zod';
import {
  ArchivedFilter,
  BunitIdParam,
  DateRange,
  InstantRange,
  DecimalInput,
  DecimalString,
  IdParam,
  IdValue,
  IsoDate,
  Limit,
  ListOf,
  Offset,
  SortParam,
  Timestamp,
  TimestampInput,
  whenFieldsValid,
} from './common';

export const Percentage = DecimalInput({
  maxScale: 4,
  greaterThan: '0',
  atMost: '100',
  example: '12.5',
  description: 'Share of the contract revenue the referrer earns, in percent: > 0 and ≤ 100, at most 4 decimals.',
});

const PercentageOut = DecimalString('Percentage, canonical decimal string.', '12.5');

export const PercentageSegment = z
  .object({
    from: IsoDate,
    to: IsoDate.nullable().openapi({
      description: 'Last day of the segment (inclusive); null for the last segment, which runs to the end of the billing window (billingEndDate, or without end).',
    }),
    percentage: PercentageOut,
  })
  .openapi('PercentageSegment');

export const Referral = z
  .object({
    id: z.number().int().openapi({ example: 17 }),
    contract: z
      .object({ id: z.number().int(), number: z.string(), currency: z.string() })
      .openapi({ example: { id: 42, number: 'C-2026-001', currency: 'EUR' } }),
    referrer: z
      .object({ id: z.number().int(), code: z.string(), name: z.string() })
      .openapi({ example: { id: 3, code: 'NORDICS', name: 'Nordic Sales' } }),
    percentage: PercentageOut.openapi({
      description: 'The percentage in effect today (before the start: the one that will apply).',
    }),
    billingStartDate: IsoDate.openapi({ description: 'No revenue before this day is shared.' }),
    billingEndDate: IsoDate.nullable().openapi({ description: 'Last day (inclusive) revenue is shared; null = open-ended.' }),
    createdDate: Timestamp,
    archivedDate: Timestamp.nullable().openapi({
      description: 'When the referral was, or is going to be, archived. It earns nothing from that calendar day on.',
    }),
    percentageHistory: z.array(PercentageSegment).openapi({
      description: 'The percentage over time, in order: what was earned on any past day can be answered from it.',
    }),
    status: z.enum(['pending', 'approved', 'denied']).openapi({
      description:
        '`approved`: it earns. `pending`: its creation waits for an approver (APPROVAL_MODE=maker-checker); it earns nothing yet but already counts for R4 and R5. `denied`: its creation was denied; final and read-only, it counts for nothing.',
      example: 'approved',
    }),
    updatedDate: Timestamp.openapi({
      description: 'The last change of anything the referral shows (a change, an archive, a change request, a decision, an amendment); for clients that sync with `updatedSince`.',
    }),
    pendingChange: z
      .object({
        id: z.number().int().openapi({ example: 31 }),
        kind: z.enum(['create', 'update', 'archive', 'amend']),
        requestedDate: Timestamp,
      })
      .nullable()
      .openapi('PendingChange', { description: 'The change request this referral waits for, if any (one at a time).' }),
  })
  .openapi('Referral', {
    description: 'A business unit (the referrer) earns a share of a contract’s revenue inside a billing window.',
  });
export type Referral = z.infer<typeof Referral>;

/** The relations as a client may send them back: the id decides, the other fields are ignored. */
const ContractRef = z
  .strictObject({ id: IdValue, number: z.unknown().optional(), currency: z.unknown().optional() })
  .openapi('ContractRef', { description: 'The contract, by id (other fields as read are accepted and ignored).' });
const ReferrerRef = z
  .strictObject({ id: IdValue, code: z.unknown().optional(), name: z.unknown().optional() })
  .openapi('ReferrerRef', { description: 'The referring business unit, by id (other fields as read are accepted and ignored).' });

const content = {
  contract: ContractRef,
  referrer: ReferrerRef,
  percentage: Percentage,
  billingStartDate: IsoDate.optional(),
  billingEndDate: IsoDate.nullable().optional(),
};

function endNotBeforeStart<T extends { billingStartDate?: string | undefined; billingEndDate?: string | null | undefined }>(
  v: T,
  ctx: z.core.$RefinementCtx<T>,
) {
  if (v.billingStartDate && v.billingEndDate && v.billingEndDate < v.billingStartDate) {
    ctx.addIssue({ code: 'custom', path: ['billingEndDate'], message: 'must not be before billingStartDate' });
  }
}

export const ReferralCreate = z
  .strictObject(content)
  .superRefine(endNotBeforeStart, whenFieldsValid('billingStartDate', 'billingEndDate'))
  .openapi('ReferralCreate', {
    description: '`billingStartDate` defaults to today (in the business time zone); `billingEndDate` absent or null = open-ended.',
  });
export type ReferralCreate = z.infer<typeof ReferralCreate>;

export const ReferralUpdate = z
  .strictObject({
    ...content,
    id: z.unknown().optional(),
    createdDate: z.unknown().optional(),
    archivedDate: z.unknown().optional(),
    percentageHistory: z.unknown().optional(),
    status: z.unknown().optional(),
    updatedDate: z.unknown().optional(),
    pendingChange: z.unknown().optional(),
  })
  .superRefine(endNotBeforeStart, whenFieldsValid('billingStartDate', 'billingEndDate'))
  .openapi('ReferralUpdate', {
    description:
      'Replaces the content (R6): `percentage` required; `billingEndDate` absent or null = open-ended; `billingStartDate` absent = unchanged. `contract` and `referrer` must name the stored ones. Read-only fields are ignored.',
  });
export type ReferralUpdate = z.infer<typeof ReferralUpdate>;

export const ReferralList = ListOf(Referral, 'ReferralList');

export const ReferralListQuery = z.strictObject({
  contractId: IdParam.optional().openapi({ description: 'Only the referrals of this contract.' }),
  referrerId: IdParam.optional().openapi({ description: 'Only the referrals earning for this business unit.' }),
  activeOn: IsoDate.optional().openapi({ description: 'Only referrals billable on this day.' }),
  role: z
    .enum(['owner', 'referrer', 'any'], 'must be one of owner, referrer, any')
    .optional()
    .default('any')
    .openapi({ description: '`owner`: on this business unit’s contracts; `referrer`: this business unit earns; `any`: both.' }),
  archived: ArchivedFilter,
  status: z
    .enum(['pending', 'approved', 'denied'], 'must be one of pending, approved, denied')
    .optional()
    .openapi({ description: 'Only referrals in this approval status (default: all).' }),
  updatedSince: TimestampInput.optional().openapi({ description: 'Only referrals changed at or after this instant (for clients that sync).' }),
  createdDate: InstantRange.optional().openapi({
    description:
      'Only referrals created in this range, `from,to`, both inclusive; either side may be empty (`,2026-12-31`). A side is a date (a whole day in the business time zone) or a timestamp.',
    example: '2026-11-01,2026-11-30',
  }),
  billingEndDate: DateRange.optional().openapi({
    description: 'Only referrals whose billingEndDate lies in this range, `from,to`, both inclusive; either side may be empty. Open-ended referrals have no end date and are left out.',
    example: ',2026-12-31',
  }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'billingStartDate', 'createdDate', 'updatedDate', 'percentage']),
});
export type ReferralListQuery = z.infer<typeof ReferralListQuery>;

export const ReferralParams = z.strictObject({
  bunitId: BunitIdParam,
  referralId: IdParam.openapi({
    description: 'Id of a referral visible to the business unit in the path: on one of its contracts, or earning for it.',
    example: 17,
  }),
});

export const ArchiveQuery = z.strictObject({
  at: TimestampInput.optional().openapi({
    description: 'Archive at this future instant instead of now; DELETE again reschedules.',
  }),
});
