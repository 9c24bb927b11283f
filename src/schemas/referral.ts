import { z } from 'zod';
import {
  ArchivedFilter,
  BunitIdParam,
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
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'billingStartDate', 'createdDate', 'percentage']),
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
