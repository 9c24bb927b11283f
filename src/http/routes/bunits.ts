import { etagOf } from '../../domain/etag';
import {
  BunitParams,
  BusinessUnit,
  BusinessUnitCreate,
  BusinessUnitList,
  BusinessUnitListQuery,
  BusinessUnitUpdate,
} from '../../schemas/bunit';
import { presentBunit } from '../../representations/bunit';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { ifMatchOf, noContent } from './headers';

const tags = ['Business units'];
const example = {
  id: 3,
  code: 'NORDICS',
  name: 'Nordic Sales',
  createdDate: '2026-01-05T09:30:00.000Z',
  archivedDate: null,
  accounts: {
    receivable: 'intercompany-receivable',
    payable: 'intercompany-payable',
    income: 'revenue-share-income',
    expense: 'revenue-share-expense',
    clearing: 'intercompany-clearing',
  },
};

export const bunitRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits',
    operationId: 'listBusinessUnits',
    summary: 'List business units',
    description: 'Lists the business units the API key may act for (all of them for an admin key).',
    tags,
    access: 'read',
    query: BusinessUnitListQuery,
    responses: {
      200: {
        description: 'A page of business units.',
        schema: BusinessUnitList,
        example: {
          data: [{ ...example, id: 1, code: 'DACH', name: 'DACH Enterprise' }, example],
          meta: { total: 2, limit: 50, offset: 0 },
        },
      },
    },
    problems: [],
    async handler({ query, actor, services }) {
      const page = await services.bunits.list(actor, query);
      return { status: 200, body: presentPage(page, query, presentBunit) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits',
    operationId: 'createBusinessUnit',
    summary: 'Create a business unit',
    description: 'Needs an admin key. `code` is unique across the company.',
    tags,
    access: 'admin',
    body: BusinessUnitCreate,
    bodyExample: { code: 'NORDICS', name: 'Nordic Sales' },
    responses: { 201: { description: 'Created.', schema: BusinessUnit, example, headers: ['Location', 'ETag'] } },
    problems: ['duplicate-code'],
    async handler({ body, services, actor }) {
      const bunit = await services.bunits.create(body, actor);
      return {
        status: 201,
        body: presentBunit(bunit),
        headers: { Location: `/v1/bunits/${bunit.id}`, ETag: etagOf('bunit', bunit.id, bunit.version) },
      };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}',
    operationId: 'getBusinessUnit',
    summary: 'Read a business unit',
    description: 'Archived business units stay readable.',
    tags,
    access: 'read',
    params: BunitParams,
    responses: { 200: { description: 'The business unit.', schema: BusinessUnit, example, headers: ['ETag'] } },
    problems: [],
    async handler({ params, services }) {
      const bunit = await services.bunits.get(params.bunitId);
      return { status: 200, body: presentBunit(bunit), headers: { ETag: etagOf('bunit', bunit.id, bunit.version) } };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/bunits/{bunitId}',
    operationId: 'updateBusinessUnit',
    summary: 'Save changes to a business unit',
    description:
      'Needs an admin key. Replaces `code` and `name`; the read-only fields (`id`, `createdDate`, `archivedDate`) may be sent back as read and are ignored. An archived business unit is read-only.',
    tags,
    access: 'admin',
    params: BunitParams,
    body: BusinessUnitUpdate,
    bodyExample: { code: 'NORDICS', name: 'Nordic Sales & Services' },
    responses: {
      200: { description: 'The saved business unit.', schema: BusinessUnit, example: { ...example, name: 'Nordic Sales & Services' }, headers: ['ETag'] },
    },
    problems: ['duplicate-code', 'archived', 'precondition-failed'],
    async handler({ params, body, services, req, actor }) {
      const bunit = await services.bunits.update(params.bunitId, body, actor, ifMatchOf(req));
      return { status: 200, body: presentBunit(bunit), headers: { ETag: etagOf('bunit', bunit.id, bunit.version) } };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/bunits/{bunitId}',
    operationId: 'archiveBusinessUnit',
    summary: 'Archive a business unit',
    description:
      'Needs an admin key. Archives the business unit now; nothing is deleted. It stays readable and can no longer be named as the referrer of a new referral. Its existing contracts and referrals are not changed. Archiving an archived unit again changes nothing (204).',
    tags,
    access: 'admin',
    params: BunitParams,
    responses: { 204: noContent('Archived (or already archived).') },
    problems: ['precondition-failed'],
    async handler({ params, services, req, actor }) {
      await services.bunits.archive(params.bunitId, actor, ifMatchOf(req));
      return { status: 204 };
    },
  }),
];
