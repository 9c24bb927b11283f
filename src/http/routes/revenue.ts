import { currencyDigits } from '../../domain/currency';
import { formatMoney, toDec } from '../../domain/decimal';
import type { RevenueLineRecord } from '../../repositories/revenue.repository';
import { ContractParams } from '../../schemas/contract';
import {
  RevenueIngest,
  RevenueIngestResult,
  RevenueLineParams,
  RevenueList,
  RevenueListQuery,
} from '../../schemas/revenue';
import { presentPage } from '../presenters';
import { defineRoute } from '../route';
import { LOCATION_HEADER, noContent } from './headers';

const tags = ['Revenue'];

export const presentRevenueLine = (l: RevenueLineRecord) => ({
  id: l.id,
  contractId: l.contractId,
  externalId: l.externalId,
  amount: formatMoney(toDec(l.amount), currencyDigits(l.currency)),
  currency: l.currency,
  periodStart: l.periodStart,
  periodEnd: l.periodEnd,
  createdDate: l.createdAt,
  settled: l.settled,
});

export const revenueRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/contracts/{contractId}/revenue',
    operationId: 'listRevenueLines',
    summary: 'List the revenue lines of a contract',
    tags,
    access: 'read',
    params: ContractParams,
    query: RevenueListQuery,
    responses: { 200: { description: 'A page of revenue lines.', schema: RevenueList } },
    problems: [400, 404],
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
      'Takes 1 to 1000 lines, all or nothing. A line whose `externalId` already exists with identical content is reported as existing and not duplicated; with different content the whole request fails with 409 duplicate-external-id. The revenue of a line is spread evenly over the days of its period (at most 366). `currency`, if given, must equal the contract’s.',
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
    responses: { 201: { description: 'Accepted: every line of the request as stored.', schema: RevenueIngestResult, headers: LOCATION_HEADER } },
    problems: [400, 404, 409],
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
    description: 'Only while no settlement run has settled the line (409 already-settled afterwards: book a negative line instead).',
    tags,
    access: 'write',
    params: RevenueLineParams,
    responses: { 204: noContent('Deleted.') },
    problems: [400, 404, 409],
    async handler({ params, services, actor }) {
      await services.revenue.remove(params.bunitId, params.contractId, params.lineId, actor);
      return { status: 204 };
    },
  }),
];
