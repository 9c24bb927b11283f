import { etagOf } from '../../domain/etag';
import { BunitIdParams } from '../../schemas/common';
import {
  Contract,
  ContractCreate,
  ContractList,
  ContractListQuery,
  ContractParams,
  ContractUpdate,
} from '../../schemas/contract';
import { presentContract, presentPage } from '../presenters';
import { defineRoute } from '../route';
import { ETAG_HEADER, LOCATION_HEADER, ifMatchOf, noContent } from './headers';

const tags = ['Contracts'];
const example = {
  number: 'C-2026-001',
  name: 'Fleet telematics, 3 years',
  customer: 'Acme Logistics AS',
  currency: 'EUR',
  startDate: '2026-10-01',
  endDate: null,
};

export const contractRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/contracts',
    operationId: 'listContracts',
    summary: 'List the contracts of a business unit',
    tags,
    access: 'read',
    params: BunitIdParams,
    query: ContractListQuery,
    responses: { 200: { description: 'A page of contracts.', schema: ContractList } },
    problems: [400, 404],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.contracts.list(params.bunitId, query);
      return { status: 200, body: presentPage(page, query, presentContract) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/contracts',
    operationId: 'createContract',
    summary: 'Create a contract',
    tags,
    access: 'write',
    params: BunitIdParams,
    body: ContractCreate,
    bodyExample: example,
    responses: { 201: { description: 'Created.', schema: Contract, headers: { ...LOCATION_HEADER, ...ETAG_HEADER } } },
    problems: [400, 404, 409],
    async handler({ params, body, services, actor }) {
      await services.bunits.get(params.bunitId);
      const contract = await services.contracts.create(params.bunitId, body, actor);
      return {
        status: 201,
        body: presentContract(contract),
        headers: {
          Location: `/v1/bunits/${params.bunitId}/contracts/${contract.id}`,
          ETag: etagOf('contract', contract.id, contract.version),
        },
      };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}',
    operationId: 'getContract',
    summary: 'Read a contract',
    tags,
    access: 'read',
    params: ContractParams,
    responses: { 200: { description: 'The contract.', schema: Contract, headers: ETAG_HEADER } },
    problems: [400, 404],
    async handler({ params, services }) {
      const contract = await services.contracts.get(params.bunitId, params.contractId);
      return { status: 200, body: presentContract(contract), headers: { ETag: etagOf('contract', contract.id, contract.version) } };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}',
    operationId: 'updateContract',
    summary: 'Save changes to a contract',
    description: 'Replaces the content. `currency` and the owning business unit never change (409 immutable-relation).',
    tags,
    access: 'write',
    params: ContractParams,
    body: ContractUpdate,
    bodyExample: { ...example, name: 'Fleet telematics, 4 years' },
    responses: { 200: { description: 'The saved contract.', schema: Contract, headers: ETAG_HEADER } },
    problems: [400, 404, 409, 412],
    async handler({ params, body, services, req, actor }) {
      const contract = await services.contracts.update(params.bunitId, params.contractId, body, actor, ifMatchOf(req));
      return { status: 200, body: presentContract(contract), headers: { ETag: etagOf('contract', contract.id, contract.version) } };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}',
    operationId: 'archiveContract',
    summary: 'Archive a contract',
    description: 'Archives the contract now and, in the same transaction, every referral of it that is not archived yet (R12).',
    tags,
    access: 'write',
    params: ContractParams,
    responses: { 204: noContent('Archived (or already archived).') },
    problems: [400, 404, 412],
    async handler({ params, services, req, actor }) {
      await services.contracts.archive(params.bunitId, params.contractId, actor, ifMatchOf(req));
      return { status: 204 };
    },
  }),
];
