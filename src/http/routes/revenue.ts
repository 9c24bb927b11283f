import { ContractParams } from '../../schemas/contract';
import {
  RevenueIngest,
  RevenueIngestResult,
  RevenueLineParams,
  RevenueList,
  RevenueListQuery,
} from '../../schemas/revenue';
import { presentRevenueLine } from '../../representations/revenue';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { noContent } from './headers';

const tags = ['Revenue'];

const lineExample = {
  id: 901,
  contractId: 42,
  externalId: 'INV-2026-10-0042/1',
  amount: '3000.00',
  currency: 'EUR',
  periodStart: '2026-10-01',
  periodEnd: '2026-10-31',
  createdDate: '2026-11-01T02:10:44.512Z',
  settled: false,
};
const creditExample = {
  ...lineExample,
  id: 902,
  externalId: 'CN-2026-10-0007/1',
  amount: '-100.00',
  periodStart: '2026-10-15',
  periodEnd: '2026-10-15',
};

export const revenueRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}/revenue',
    operationId: 'listRevenueLines',
    summary: 'List the revenue lines of a contract',
    description: '`settled=false` lists the lines no settlement run has shared out yet (the ones that may still be deleted).',
    tags,
    access: 'read',
    params: ContractParams,
    query: RevenueListQuery,
    responses: {
      200: {
        description: 'A page of revenue lines.',
        schema: RevenueList,
        example: { data: [{ ...lineExample, settled: true }, creditExample], meta: { total: 2, limit: 50, offset: 0 } },
      },
    },
    problems: [],
    async handler({ params, query, services }) {
      const page = await services.revenue.list(params.bunitId, params.contractId, query);
      return { status: 200, body: presentPage(page, query, presentRevenueLine) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}/revenue',
    operationId: 'ingestRevenue',
    summary: 'Add revenue lines to a contract',
    description:
      'Books revenue the contract generated, e.g. the lines of an invoice or a credit note, in the contract currency (`currency`, if given, must equal the contract’s). Takes 1 to 1000 lines, all or nothing.\n\n**Proration.** A line covers the days `periodStart` to `periodEnd` (inclusive, at most 366; `date` for a single day) and its amount is spread evenly over them: a referral billable on 20 of the 31 days of an October line earns 20/31 of the line times its percentage. The line is settled by the first settlement run whose `through` date is on or after `periodEnd`.\n\n**Retries.** `externalId` (the billing system’s id of the line) is unique per contract: a line sent again with identical content is reported as existing and not booked twice (`existing` counts them); with different content the whole request fails with 409 duplicate-external-id. Lines are never edited: a correction is a new, negative line.',
    tags,
    access: 'write',
    params: ContractParams,
    body: RevenueIngest,
    bodyExample: {
      lines: [
        { externalId: 'INV-2026-10-0042/1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
        { externalId: 'CN-2026-10-0007/1', amount: '-100.00', date: '2026-10-15' },
      ],
    },
    responses: {
      201: {
        description: 'Accepted: every line of the request as stored.',
        schema: RevenueIngestResult,
        example: { created: 2, existing: 0, data: [lineExample, creditExample] },
        headers: ['Location'],
      },
    },
    problems: ['duplicate-external-id'],
    async handler({ params, body, services, actor }) {
      const result = await services.revenue.ingest(params.bunitId, params.contractId, body, actor);
      return {
        status: 201,
        body: { created: result.created, existing: result.existing, data: result.lines.map(presentRevenueLine) },
        headers: { Location: `/v1/bunits/${params.bunitId}/contracts/${params.contractId}/revenue` },
      };
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}/revenue/{lineId}',
    operationId: 'deleteRevenueLine',
    summary: 'Delete an unsettled revenue line',
    description:
      'Removes a line booked by mistake, only while no settlement run has shared it out (409 already-settled afterwards: book a negative line instead). The only hard delete of the API; it is recorded in the audit trail.',
    tags,
    access: 'write',
    params: RevenueLineParams,
    responses: { 204: noContent('Deleted.') },
    problems: ['already-settled'],
    async handler({ params, services, actor }) {
      await services.revenue.remove(params.bunitId, params.contractId, params.lineId, actor);
      return { status: 204 };
    },
  }),
];
