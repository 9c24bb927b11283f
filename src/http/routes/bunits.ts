import { etagOf } from '../../domain/etag';
import {
  BunitParams,
  BusinessUnit,
  BusinessUnitCreate,
  BusinessUnitList,
  BusinessUnitListQuery,
  BusinessUnitUpdate,
} from '../../schemas/bunit';
import { presentBunit, presentPage } from '../presenters';
import { defineRoute } from '../route';
import { ETAG_HEADER, LOCATION_HEADER, ifMatchOf, noContent } from './headers';

const tags = ['Business units'];

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
    responses: { 200: { description: 'A page of business units.', schema: BusinessUnitList } },
    problems: [400],
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
    tags,
    access: 'admin',
    body: BusinessUnitCreate,
    bodyExample: { code: 'NORDICS', name: 'Nordic Sales' },
    responses: { 201: { description: 'Created.', schema: BusinessUnit, headers: { ...LOCATION_HEADER, ...ETAG_HEADER } } },
    problems: [400, 409],
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
    tags,
    access: 'read',
    params: BunitParams,
    responses: { 200: { description: 'The business unit.', schema: BusinessUnit, headers: ETAG_HEADER } },
    problems: [400, 404],
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
    tags,
    access: 'admin',
    params: BunitParams,
    body: BusinessUnitUpdate,
    bodyExample: { code: 'NORDICS', name: 'Nordic Sales & Services' },
    responses: { 200: { description: 'The saved business unit.', schema: BusinessUnit, headers: ETAG_HEADER } },
    problems: [400, 404, 409, 412],
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
      'Archives the business unit now. It stays readable; it can no longer own new referrals or be named as a referrer. Its existing contracts and referrals are not changed.',
    tags,
    access: 'admin',
    params: BunitParams,
    responses: { 204: noContent('Archived (or already archived).') },
    problems: [400, 404, 412],
    async handler({ params, services, req, actor }) {
      await services.bunits.archive(params.bunitId, actor, ifMatchOf(req));
      return { status: 204 };
    },
  }),
];
