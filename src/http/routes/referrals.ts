import { etagOf } from '../../domain/etag';
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
import type { ReferralRecord } from '../../repositories/referral.repository';
import type { Services } from '../../services';
import { AuditList, AuditListQuery } from '../../schemas/audit';
import { presentPage, presentReferral } from '../presenters';
import { defineRoute, type Reply } from '../route';
import { ETAG_HEADER, LOCATION_HEADER, ifMatchOf, noContent } from './headers';

const tags = ['Referrals'];

const reply = (status: number, r: ReferralRecord, services: Services, extra: Record<string, string> = {}): Reply => ({
  status,
  body: presentReferral(r, services.ctx.calendar.today()),
  headers: { ETag: etagOf('referral', r.id, r.version), ...extra },
});

export const referralRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/referrals',
    operationId: 'listReferrals',
    summary: 'List referrals',
    description:
      'Referrals visible to the business unit: on its contracts (`role=owner`), earning for it (`role=referrer`), or both (default).',
    tags,
    access: 'read',
    params: BunitIdParams,
    query: ReferralListQuery,
    responses: { 200: { description: 'A page of referrals.', schema: ReferralList } },
    problems: [400, 404],
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
      'The contract must be an active contract of the business unit in the path (R1); the referrer an active business unit other than the owner (R2). One referrer cannot hold two overlapping referrals of one contract (R4), and on no day may the percentages of a contract’s referrals exceed 100 (R5).',
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
    responses: { 201: { description: 'Created.', schema: Referral, headers: { ...LOCATION_HEADER, ...ETAG_HEADER } } },
    problems: [400, 404, 409, 422],
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
    description: 'Visible to the owner of the contract and to the referrer (R11).',
    tags,
    access: 'read',
    params: ReferralParams,
    responses: { 200: { description: 'The referral.', schema: Referral, headers: ETAG_HEADER } },
    problems: [400, 404],
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
      'Replaces the content (R6). A percentage change on a started referral takes effect today; earlier days keep their percentage (R8). `billingStartDate` may change only while both the stored and the new date are after today (R7). `billingEndDate` may not move before a day already settled (R9). Only the owner of the contract may change a referral (R11).',
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
    responses: { 200: { description: 'The saved referral.', schema: Referral, headers: ETAG_HEADER } },
    problems: [400, 403, 404, 409, 412],
    async handler({ params, body, services, req, actor }) {
      return reply(200, await services.referrals.update(params.bunitId, params.referralId, body, actor, ifMatchOf(req)), services);
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/bunits/{bunitId}/referrals/{referralId}',
    operationId: 'archiveReferral',
    summary: 'Archive a referral',
    description:
      'Archives now, or at `at` in the future (DELETE again reschedules). An archived referral earns nothing from the calendar day of its archive date on; once that instant has passed it is read-only (R10).',
    tags,
    access: 'write',
    params: ReferralParams,
    query: ArchiveQuery,
    responses: { 204: noContent('Archived, scheduled, or already archived.') },
    problems: [400, 403, 404, 409, 412],
    async handler({ params, query, services, req, actor }) {
      await services.referrals.archive(params.bunitId, params.referralId, query.at, actor, ifMatchOf(req));
      return { status: 204 };
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
    responses: { 200: { description: 'A page of audit entries, oldest first.', schema: AuditList } },
    problems: [400, 404],
    async handler({ params, query, services }) {
      const page = await services.referrals.history(params.bunitId, params.referralId, query);
      return {
        status: 200,
        body: presentPage(page, query, (e) => ({ id: e.id, at: e.at, action: e.action, keyName: e.keyName, reason: e.reason, changes: e.changes })),
      };
    },
  }),
];
