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
import { presentContract } from '../../representations/contract';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { ifMatchOf, noContent } from './headers';

const tags = ['Contracts'];
const example = {
  number: 'C-2026-001',
  name: 'Fleet telematics, 3 years',
  customer: 'Acme Logistics AS',
  currency: 'EUR',
  startDate: '2026-10-01',
  endDate: null,
};
const stored = {
  id: 42,
  bunitId: 1,
  ...example,
  createdDate: '2026-09-14T08:02:11.000Z',
  archivedDate: null,
};

export const contractRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/contracts',
    operationId: 'listContracts',
    summary: 'List the contracts of a business unit',
    description: 'Contracts owned by the business unit in the path (not the ones it only refers).',
    tags,
    access: 'read',
    params: BunitIdParams,
    query: ContractListQuery,
    responses: {
      200: {
        description: 'A page of contracts.',
        schema: ContractList,
        example: { data: [stored], meta: { total: 1, limit: 50, offset: 0 } },
      },
    },
    problems: [],
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
    description:
      '`number` is unique within the business unit. `currency` (ISO 4217) is fixed for the life of the contract: revenue, shares and statements of the contract are all in it. An archived business unit takes no new contracts (409 `archived`); its existing contracts run on.',
    tags,
    access: 'write',
    params: BunitIdParams,
    body: ContractCreate,
    bodyExample: example,
    responses: { 201: { description: 'Created.', schema: Contract, example: stored, headers: ['Location', 'ETag'] } },
    problems: ['duplicate-contract-number', 'archived'],
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
    description: 'Archived contracts stay readable.',
    tags,
    access: 'read',
    params: ContractParams,
    responses: { 200: { description: 'The contract.', schema: Contract, example: stored, headers: ['ETag'] } },
    problems: [],
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
    description:
      'Replaces the content: `customer` and `endDate` absent or null are cleared. `currency` and the owning business unit (`bunitId`) must be sent as stored (409 immutable-relation otherwise); the read-only fields may be sent back as read and are ignored. An archived contract is read-only.',
    tags,
    access: 'write',
    params: ContractParams,
    body: ContractUpdate,
    bodyExample: { ...example, name: 'Fleet telematics, 4 years' },
    responses: {
      200: {
        description: 'The saved contract.',
        schema: Contract,
        example: { ...stored, name: 'Fleet telematics, 4 years' },
        headers: ['ETag'],
      },
    },
    problems: ['archived', 'immutable-relation', 'duplicate-contract-number', 'precondition-failed'],
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
    description:
      'Archives the contract now and, in the same transaction, every referral of it that is not archived yet (R12): from today on they earn nothing. Nothing is deleted; revenue already booked is still settled for the days before. Archiving again changes nothing (204).',
    tags,
    access: 'write',
    params: ContractParams,
    responses: { 204: noContent('Archived (or already archived).') },
    problems: ['precondition-failed'],
    async handler({ params, services, req, actor }) {
      await services.contracts.archive(params.bunitId, params.contractId, actor, ifMatchOf(req));
      return { status: 204 };
    },
  }),
];
