import { BunitIdParams } from '../../schemas/common';
import { BillingWindowList, BillingWindowQuery } from '../../schemas/billing-window';
import {
  RunCreate,
  RunList,
  RunListQuery,
  RunParams,
  SettlementRun,
  Statement,
  StatementList,
  StatementListQuery,
  StatementParams,
} from '../../schemas/settlement';
import { presentPage } from '../presenters';
import { defineRoute } from '../route';
import { presentRun, presentStatement, statementCsv } from '../settlement-presenters';
import { LOCATION_HEADER } from './headers';

const CSV_EXAMPLE =
  'id,revenueLineId,referralId,contractId,periodStart,periodEnd,periodDays,billableDays,revenueAmount,exactAmount,amount\r\n' +
  '5001,901,17,42,2026-10-01,2026-10-31,31,20,3000.00,241.93548387096774193548,241.94\r\n';

export const settlementRoutes = [
  defineRoute({
    method: 'post',
    path: '/v1/settlement-runs',
    operationId: 'runSettlement',
    summary: 'Run the settlement',
    description: `Settles every (revenue line, referral) pair not yet settled whose revenue line ends on or before \`through\` (default: yesterday).

For a line of N days, the referral earns amount / N × percentage(d) / 100 for each day d of the line's period on which it is billable (inside its billing window, before its archive day, at the percentage of that day). This is computed exactly, with no rounding on the way.

The new lines of one (payer, referrer, currency) form one statement. Its total is the exact sum rounded once, half to even, to the currency's minor units (EUR 0.01, JPY 1, KWD 0.001); each line gets its share rounded down, and the lines with the largest remainders get one more minor unit, so the lines always add up to the total.

A pair is settled at most once, ever: a rerun adds nothing, revenue that arrives late is picked up by the next run, settled lines never change. With \`dryRun: true\` the run is computed and returned (200, \`id: null\`, with the statements) and nothing is written.`,
    tags: ['Settlement'],
    access: 'admin',
    body: RunCreate,
    bodyOptional: true,
    bodyExample: { through: '2026-10-31' },
    responses: {
      201: { description: 'The run, committed.', schema: SettlementRun, headers: LOCATION_HEADER },
      200: { description: 'A dry run: what the run would settle, with the statements; nothing was written.', schema: SettlementRun },
    },
    problems: [400],
    async handler({ body, services, actor }) {
      const result = await services.settlement.run(body, actor);
      const run = presentRun(result.run, result.dryRun);
      if (result.dryRun) {
        return {
          status: 200,
          body: { ...run, statements: result.statements.map((s) => presentStatement(s.statement, s.lines, true)) },
        };
      }
      return { status: 201, body: run, headers: { Location: `/v1/settlement-runs/${result.run.id}` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settlement-runs',
    operationId: 'listSettlementRuns',
    summary: 'List settlement runs',
    tags: ['Settlement'],
    access: 'admin',
    query: RunListQuery,
    responses: { 200: { description: 'A page of runs.', schema: RunList } },
    problems: [400],
    async handler({ query, services }) {
      const page = await services.settlement.listRuns(query);
      return { status: 200, body: presentPage(page, query, (r) => presentRun(r, false)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settlement-runs/{runId}',
    operationId: 'getSettlementRun',
    summary: 'Read a settlement run',
    tags: ['Settlement'],
    access: 'admin',
    params: RunParams,
    responses: { 200: { description: 'The run.', schema: SettlementRun } },
    problems: [400, 404],
    async handler({ params, services }) {
      return { status: 200, body: presentRun(await services.settlement.getRun(params.runId), false) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/statements',
    operationId: 'listStatements',
    summary: 'List statements',
    description: 'Statements the business unit pays (`role=payer`), earns (`role=referrer`), or both. Lists leave out the lines.',
    tags: ['Statements'],
    access: 'read',
    params: BunitIdParams,
    query: StatementListQuery,
    responses: { 200: { description: 'A page of statements.', schema: StatementList } },
    problems: [400, 404],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.statements.list(params.bunitId, query);
      return { status: 200, body: presentPage(page, query, (s) => presentStatement(s)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/statements/{statementId}',
    operationId: 'getStatement',
    summary: 'Read a statement with its lines',
    description: 'With `Accept: text/csv`: a header row and one row per line, amounts exactly as in JSON.',
    tags: ['Statements'],
    access: 'read',
    params: StatementParams,
    responses: {
      200: {
        description: 'The statement with its lines.',
        schema: Statement,
        alternatives: { 'text/csv': { schema: { type: 'string' }, example: CSV_EXAMPLE } },
      },
    },
    problems: [400, 404],
    async handler({ params, services, req }) {
      const { statement, lines } = await services.statements.get(params.bunitId, params.statementId);
      if (req.accepts(['application/json', 'text/csv']) === 'text/csv') {
        return {
          status: 200,
          body: statementCsv(statement, lines),
          contentType: 'text/csv; charset=utf-8',
          headers: { 'Content-Disposition': `attachment; filename="statement-${statement.id}.csv"` },
        };
      }
      return { status: 200, body: presentStatement(statement, lines) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/billing-windows',
    operationId: 'listBillingWindows',
    summary: 'Billable segments of the referrals in a date range',
    description:
      'For each referral visible to the business unit (as owner or referrer) and billable on at least one day of the range: the maximal runs of billable days with one percentage, clipped to the range. Future ranges are allowed. For invoicing jobs that compute shares themselves.',
    tags: ['Settlement'],
    access: 'read',
    params: BunitIdParams,
    query: BillingWindowQuery,
    responses: { 200: { description: 'A page of billing windows.', schema: BillingWindowList } },
    problems: [400, 404],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.billingWindows.windows(params.bunitId, query);
      return { status: 200, body: { data: page.rows, meta: { total: page.total, limit: query.limit, offset: query.offset } } };
    },
  }),
];
