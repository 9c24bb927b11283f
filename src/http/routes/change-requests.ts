import { presentChangeRequest } from '../../representations/change-request';
import { BunitIdParams, EmptyBody } from '../../schemas/common';
import {
  ApproveBody,
  ChangeRequest,
  ChangeRequestList,
  ChangeRequestListQuery,
  ChangeRequestParams,
  DenyBody,
  ModerateBody,
  ModerationResult,
} from '../../schemas/change-request';
import { presentPage } from '../pages';
import { defineRoute } from '../route';

const tags = ['Approval'];

/** A pending change request, the example of the OpenAPI document (here and where a referral change answers 202). */
export const changeRequestExample = {
  id: 31,
  bunitId: 1,
  referralId: 17,
  kind: 'update',
  status: 'pending',
  proposed: { percentage: '15', billingStartDate: '2026-11-01', billingEndDate: '2027-10-31' },
  reason: 'Renegotiated referral terms, Q4 2026',
  requestedBy: 'billing-hq',
  requestedDate: '2026-11-23T09:00:00.000Z',
  decidedBy: null,
  decidedDate: null,
  decisionReason: null,
};
const approved = {
  ...changeRequestExample,
  status: 'approved',
  decidedBy: 'finance-approver',
  decidedDate: '2026-11-23T14:30:00.000Z',
  decisionReason: 'Checked against the signed agreement.',
};

const FOUR_EYES =
  'Decided by an `approver` key of the business unit that owns the referral’s contract (the path’s), or an admin key; never by the key that asked (403 four-eyes); a key that may act for the referrer sees the request but never decides it (403 forbidden), whatever other business units it may act for (the owner’s too).';

export const changeRequestRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/change-requests',
    operationId: 'listChangeRequests',
    summary: 'List change requests',
    description:
      'The change requests of the referrals visible to the business unit (it owns their contract, or it is their referrer), newest last by default (`sort=-requestedDate` for the newest first). `status=pending` is an approver’s work list.',
    tags,
    access: 'read',
    params: BunitIdParams,
    query: ChangeRequestListQuery,
    responses: {
      200: { description: 'A page of change requests.', schema: ChangeRequestList, example: { data: [changeRequestExample], meta: { total: 1, limit: 50, offset: 0 } } },
    },
    problems: [],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      return { status: 200, body: presentPage(await services.approval.list(params.bunitId, query), query, presentChangeRequest) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/change-requests/{changeRequestId}',
    operationId: 'getChangeRequest',
    summary: 'Read a change request',
    description: 'Visible where its referral is (R11).',
    tags,
    access: 'read',
    params: ChangeRequestParams,
    responses: { 200: { description: 'The change request.', schema: ChangeRequest, example: changeRequestExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: presentChangeRequest(await services.approval.get(params.bunitId, params.changeRequestId)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/change-requests/{changeRequestId}/approve',
    operationId: 'approveChangeRequest',
    summary: 'Approve a change request',
    description: `Applies the change now, as if it were made at this instant: a percentage change takes effect today (R8), a start date may change only while both dates are after today (R7), and R4, R5, R9 and R10 are checked again. A rule the change breaks now answers 409 with that rule's code, and the request stays pending (deny or withdraw it). An approved creation makes the referral \`approved\`: it earns from its billingStartDate, past days not yet settled included, at the next settlement run.

${FOUR_EYES}`,
    tags,
    access: 'decide',
    params: ChangeRequestParams,
    body: ApproveBody,
    bodyOptional: true,
    bodyExample: { reason: 'Checked against the signed agreement.' },
    responses: { 200: { description: 'The request, approved; the change is applied.', schema: ChangeRequest, example: approved } },
    problems: ['four-eyes', 'not-pending', 'archived', 'start-date-locked', 'settled-period-locked', 'overlapping-referral', 'over-allocated'],
    async handler({ params, body, services, actor }) {
      return { status: 200, body: presentChangeRequest(await services.approval.approve(params.bunitId, params.changeRequestId, body.reason, actor)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/change-requests/{changeRequestId}/deny',
    operationId: 'denyChangeRequest',
    summary: 'Deny a change request',
    description: `The referral stays as it was. A denied creation leaves the referral \`denied\`: final, read-only, it counts for nothing. A denial says why (\`reason\`, required).

${FOUR_EYES}`,
    tags,
    access: 'decide',
    params: ChangeRequestParams,
    body: DenyBody,
    bodyExample: { reason: 'The agreement says 12.5 %.' },
    responses: {
      200: {
        description: 'The request, denied.',
        schema: ChangeRequest,
        example: { ...approved, status: 'denied', decisionReason: 'The agreement says 12.5 %.' },
      },
    },
    problems: ['four-eyes', 'not-pending'],
    async handler({ params, body, services, actor }) {
      return { status: 200, body: presentChangeRequest(await services.approval.deny(params.bunitId, params.changeRequestId, body.reason, actor)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/change-requests/{changeRequestId}/withdraw',
    operationId: 'withdrawChangeRequest',
    summary: 'Withdraw a change request',
    description:
      'The key that asked for it, or an admin key, takes it back; the referral stays as it was (a withdrawn creation leaves the referral `denied`: it never came into force).',
    tags,
    access: 'write',
    params: ChangeRequestParams,
    body: EmptyBody,
    bodyOptional: true,
    bodyExample: {},
    responses: {
      200: { description: 'The request, withdrawn.', schema: ChangeRequest, example: { ...approved, status: 'withdrawn', decidedBy: 'billing-hq', decisionReason: null } },
    },
    problems: ['not-pending'],
    async handler({ params, services, actor }) {
      return { status: 200, body: presentChangeRequest(await services.approval.withdraw(params.bunitId, params.changeRequestId, actor)) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/change-requests/moderate',
    operationId: 'moderateChangeRequests',
    summary: 'Approve and deny several change requests at once',
    description: `1 to 1000 change requests in all, each approved or denied as an approval or a denial of it alone would be; all or nothing: the first that cannot be decided answers for all (its detail names it) and nothing is decided. \`reason\` is every decision's reason, and required when any is denied.

${FOUR_EYES}`,
    tags,
    access: 'decide',
    params: BunitIdParams,
    body: ModerateBody,
    bodyExample: { approve: [31, 32], deny: [33], reason: 'Weekly review' },
    responses: {
      200: {
        description: 'Every request named, as decided (approvals first, then denials, each in the order given).',
        schema: ModerationResult,
        example: { data: [approved, { ...approved, id: 32 }, { ...approved, id: 33, status: 'denied', decisionReason: 'Weekly review' }] },
      },
    },
    problems: ['four-eyes', 'not-pending', 'archived', 'start-date-locked', 'settled-period-locked', 'overlapping-referral', 'over-allocated'],
    async handler({ params, body, services, actor }) {
      await services.bunits.get(params.bunitId);
      return { status: 200, body: { data: (await services.approval.moderate(params.bunitId, body, actor)).map(presentChangeRequest) } };
    },
  }),
];
