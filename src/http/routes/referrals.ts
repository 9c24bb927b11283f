import { referralEtag } from '../../domain/etag';
import { BunitIdParams } from '../../schemas/common';
import {
  ArchiveQuery,
  Referral,
  ReferralCreate,
  ReferralList,
  ReferralListQuery,
  ReferralParams,
  ReferralUpdate,
} from '../../schemas/referral';
import type { ChangeRequestRecord } from '../../repositories/change-request.repository';
import type { ReferralRecord } from '../../repositories/referral.repository';
import { presentChangeRequest } from '../../representations/change-request';
import { AmendmentCreate, ChangeRequest } from '../../schemas/change-request';
import type { Services } from '../../services';
import { AuditList, AuditListQuery } from '../../schemas/audit';
import { presentReferral } from '../../representations/referral';
import { presentPage } from '../pages';
import { defineRoute, type Reply } from '../route';
import { ifMatchOf, noContent } from './headers';
import { changeRequestExample } from './change-requests';

const tags = ['Referrals'];

const example = {
  id: 17,
  contract: { id: 42, number: 'C-2026-001', currency: 'EUR' },
  referrer: { id: 3, code: 'NORDICS', name: 'Nordic Sales' },
  percentage: '12.5',
  billingStartDate: '2026-11-01',
  billingEndDate: null,
  createdDate: '2026-10-20T10:15:00.000Z',
  archivedDate: null,
  percentageHistory: [{ from: '2026-11-01', to: null, percentage: '12.5' }],
  status: 'approved',
  updatedDate: '2026-10-20T10:15:00.000Z',
  pendingChange: null,
};
/** After a change from 12.5 to 15 % on 2026-11-23: earlier days keep 12.5 % (R8). */
const changed = {
  ...example,
  percentage: '15',
  billingEndDate: '2027-10-31',
  updatedDate: '2026-11-23T09:00:00.000Z',
  percentageHistory: [
    { from: '2026-11-01', to: '2026-11-22', percentage: '12.5' },
    { from: '2026-11-23', to: null, percentage: '15' },
  ],
};

/** A change request the PUT or DELETE opened (APPROVAL_MODE maker-checker): 202, with where to follow it. */
const accepted = (bunitId: number, cr: ChangeRequestRecord): Reply => ({
  status: 202,
  body: presentChangeRequest(cr),
  headers: { Location: `/v1/bunits/${bunitId}/change-requests/${cr.id}` },
});


const reply = (status: number, r: ReferralRecord, services: Services, extra: Record<string, string> = {}): Reply => ({
  status,
  body: presentReferral(r, services.ctx.calendar.today()),
  headers: { ETag: referralEtag(r), ...extra },
});

export const referralRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/referrals',
    operationId: 'listReferrals',
    summary: 'List referrals',
    description:
      'Referrals visible to the business unit: on its contracts (`role=owner`), earning for it (`role=referrer`), or both (default). `activeOn` keeps the referrals billable on that day: inside their billing window and not archived on that day. Archived referrals are left out unless `archived` says otherwise.',
    tags,
    access: 'read',
    params: BunitIdParams,
    query: ReferralListQuery,
    responses: {
      200: {
        description: 'A page of referrals.',
        schema: ReferralList,
        example: { data: [example], meta: { total: 1, limit: 50, offset: 0 } },
      },
    },
    problems: [],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.referrals.list(params.bunitId, query);
      const today = services.ctx.calendar.today();
      return { status: 200, body: presentPage(page, query, (r) => presentReferral(r, today)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/referrals',
    operationId: 'createReferral',
    summary: 'Create a referral',
    description:
      'The business unit in the path owns the contract; `referrer` is the business unit that earns `percentage` % of the contract’s revenue on every day of the billing window, `billingStartDate` (default: today) to `billingEndDate` (inclusive; absent or null = open-ended). The start may lie in the past: revenue of those days not yet settled is shared at the next settlement run.\n\nThe contract must be an active contract of the business unit in the path, which must itself be active (R1); the referrer an active business unit other than the owner (R2). One referrer cannot hold two overlapping referrals of one contract (R4), and on no day may the percentages of a contract’s referrals add up to more than 100 (R5).',
    tags,
    access: 'write',
    params: BunitIdParams,
    body: ReferralCreate,
    bodyExample: {
      contract: { id: 42 },
      referrer: { id: 3 },
      percentage: '12.5',
      billingStartDate: '2026-11-01',
      billingEndDate: null,
    },
    responses: {
      201: {
        description:
          'Created. In APPROVAL_MODE maker-checker the referral is created `pending`, with its creation as a change request (`pendingChange`) that another key approves or denies: it earns nothing until then, but already counts for R4 and R5.',
        schema: Referral,
        example,
        headers: ['Location', 'ETag'],
      },
    },
    problems: ['overlapping-referral', 'over-allocated', 'invalid-reference', 'self-referral'],
    async handler({ params, body, services, actor }) {
      await services.bunits.get(params.bunitId);
      const r = await services.referrals.create(params.bunitId, body, actor);
      return reply(201, r, services, { Location: `/v1/bunits/${params.bunitId}/referrals/${r.id}` });
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/referrals/{referralId}',
    operationId: 'getReferral',
    summary: 'Read a referral',
    description: 'Visible to the owner of the contract and to the referrer (R11). Archived referrals stay readable.',
    tags,
    access: 'read',
    params: ReferralParams,
    responses: { 200: { description: 'The referral.', schema: Referral, example, headers: ['ETag'] } },
    problems: [],
    async handler({ params, services }) {
      return reply(200, await services.referrals.get(params.bunitId, params.referralId), services);
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/bunits/{bunitId}/referrals/{referralId}',
    operationId: 'updateReferral',
    summary: 'Save changes to a referral',
    description:
      'Replaces the content (R6): send the referral as read, with your changes. `percentage` is required; `billingEndDate` absent or null makes the referral open-ended; `billingStartDate` absent leaves it unchanged; `contract` and `referrer` must name the stored ones.\n\nA percentage change on a referral that has started takes effect today, and earlier days keep the percentage they had (R8: `percentageHistory` gains a segment), so revenue of past days is shared as agreed then. Before the start it simply replaces the percentage. `billingStartDate` may change only while both the stored and the new date are after today (R7). `billingEndDate` may not move before a day already settled (R9). The rules of creation (R4, R5) hold for the new content. Only the owner of the contract may change a referral (R11); an archived referral is read-only (R10).',
    tags,
    access: 'write',
    params: ReferralParams,
    body: ReferralUpdate,
    bodyExample: {
      contract: { id: 42, number: 'C-2026-001', currency: 'EUR' },
      referrer: { id: 3, code: 'NORDICS', name: 'Nordic Sales' },
      percentage: '15',
      billingStartDate: '2026-11-01',
      billingEndDate: '2027-10-31',
    },
    responses: {
      200: { description: 'The saved referral (also when the PUT changed nothing: the same ETag, no audit entry).', schema: Referral, example: changed, headers: ['ETag'] },
      202: {
        description:
          'APPROVAL_MODE maker-checker: the change is a change request now, checked against the rules as if made now; another key approves it (it applies then, as if made at that instant) or denies it. The referral is unchanged and shows it as `pendingChange`.',
        schema: ChangeRequest,
        example: changeRequestExample,
        headers: ['Location'],
      },
    },
    problems: [
      'archived',
      'change-pending',
      'immutable-relation',
      'start-date-locked',
      'settled-period-locked',
      'overlapping-referral',
      'over-allocated',
      'precondition-failed',
    ],
    async handler({ params, body, services, req, actor }) {
      const outcome = await services.referrals.update(params.bunitId, params.referralId, body, actor, ifMatchOf(req));
      return 'referral' in outcome ? reply(200, outcome.referral, services) : accepted(params.bunitId, outcome.changeRequest);
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/bunits/{bunitId}/referrals/{referralId}',
    operationId: 'archiveReferral',
    summary: 'Archive a referral',
    description:
      'Archives now, or at `at` in the future (DELETE again before then reschedules; a later date must still satisfy R4 and R5). An archived referral earns nothing from the calendar day of its archive date on (in the business time zone); days before are still settled. Once that instant has passed the referral is read-only, and DELETE again changes nothing (R10). Only the owner of the contract may archive a referral (R11).',
    tags,
    access: 'write',
    params: ReferralParams,
    query: ArchiveQuery,
    responses: {
      204: noContent('Archived, scheduled, or already archived.'),
      202: {
        description: 'APPROVAL_MODE maker-checker: the archive is a change request; it applies when another key approves it (at `at`, or at the approval if that instant has passed by then).',
        schema: ChangeRequest,
        example: { ...changeRequestExample, kind: 'archive', proposed: { archivedDate: null } },
        headers: ['Location'],
      },
    },
    problems: ['change-pending', 'overlapping-referral', 'over-allocated', 'precondition-failed'],
    async handler({ params, query, services, req, actor }) {
      const outcome = await services.referrals.archive(params.bunitId, params.referralId, query.at, actor, ifMatchOf(req));
      return outcome ? accepted(params.bunitId, outcome.changeRequest) : { status: 204 };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/referrals/{referralId}/amendments',
    operationId: 'amendReferral',
    summary: 'Correct a referral’s terms, settled days included',
    description: `For mistakes found after the money moved (SPEC §12): a percentage agreed at 15 % from October that was entered as 12.5 %, a referral that should have ended in September. \`percentage\` applies to every day from \`effectiveFrom\` (default: the billing start) to the end of the window, replacing what the history says there; \`billingStartDate\` and \`billingEndDate\` move the window either way, into the past too. The corrected terms must satisfy R3, R4 and R5 on every day; R7 and R9 do not apply (an amendment is the one way to change settled days). An archived referral can be corrected for the days before its archive day.

Always a change request of kind \`amend\` (in both approval modes), decided by another key like any other (four eyes). Once approved, the referral has the corrected terms (\`percentageHistory\` shows them; the audit trail keeps what they were), and the next settlement run settles the **difference**: for each pair (revenue line, referral) settled before whose exact share under the corrected terms differs from what its lines add up to, an adjustment line (\`kind: adjustment\`) of exactly that difference joins the run's statement for the same payer, referrer and currency. A statement may then total less than zero (a clawback).`,
    tags,
    access: 'write',
    params: ReferralParams,
    body: AmendmentCreate,
    bodyExample: { effectiveFrom: '2026-10-01', percentage: '15', reason: 'Agreed at 15 % from October; entered as 12.5 %.' },
    responses: {
      202: {
        description: 'The amendment as a change request, pending a decision; the referral shows it as `pendingChange`.',
        schema: ChangeRequest,
        example: {
          ...changeRequestExample,
          kind: 'amend',
          proposed: { effectiveFrom: '2026-10-01', percentage: '15' },
          reason: 'Agreed at 15 % from October; entered as 12.5 %.',
        },
        headers: ['Location'],
      },
    },
    problems: ['archived', 'change-pending', 'overlapping-referral', 'over-allocated'],
    async handler({ params, body, services, actor }) {
      return accepted(params.bunitId, await services.referrals.amend(params.bunitId, params.referralId, body, actor));
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/referrals/{referralId}/history',
    operationId: 'getReferralHistory',
    summary: 'Audit trail of a referral',
    description:
      'Every change to the referral, oldest first: when, by which API key (by name), what action, the fields changed (from → to) and the X-Change-Reason given.',
    tags,
    access: 'read',
    params: ReferralParams,
    query: AuditListQuery,
    responses: {
      200: {
        description: 'A page of audit entries, oldest first.',
        schema: AuditList,
        example: {
          data: [
            {
              id: 310,
              at: '2026-10-20T10:15:00.000Z',
              action: 'create',
              keyName: 'billing-hq',
              reason: null,
              changes: [
                { field: 'contract', from: null, to: 42 },
                { field: 'referrer', from: null, to: 3 },
                { field: 'percentage', from: null, to: '12.5' },
                { field: 'billingStartDate', from: null, to: '2026-11-01' },
                { field: 'percentageHistory', from: null, to: [{ from: '2026-11-01', to: null, percentage: '12.5' }] },
              ],
            },
            {
              id: 311,
              at: '2026-11-23T09:00:00.000Z',
              action: 'update',
              keyName: 'billing-hq',
              reason: 'Renegotiated referral terms, Q4 2026',
              changes: [
                { field: 'percentage', from: '12.5', to: '15' },
                {
                  field: 'percentageHistory',
                  from: [{ from: '2026-11-01', to: null, percentage: '12.5' }],
                  to: [
                    { from: '2026-11-01', to: '2026-11-22', percentage: '12.5' },
                    { from: '2026-11-23', to: null, percentage: '15' },
                  ],
                },
              ],
            },
          ],
          meta: { total: 2, limit: 50, offset: 0 },
        },
      },
    },
    problems: [],
    async handler({ params, query, services }) {
      const page = await services.referrals.history(params.bunitId, params.referralId, query);
      return {
        status: 200,
        body: presentPage(page, query, (e) => ({ id: e.id, at: e.at, action: e.action, keyName: e.keyName, reason: e.reason, changes: e.changes })),
      };
    },
  }),
];
