import { BunitIdParams } from '../../schemas/common';
import { BillingWindowList, BillingWindowQuery } from '../../schemas/billing-window';
import {
  RunCreate,
  RunList,
  RunListQuery,
  RunParams,
  SettlementDryRun,
  SettlementRun,
  StatementList,
  StatementListQuery,
  StatementParams,
  StatementWithLines,
} from '../../schemas/settlement';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { presentRun, presentStatement, statementCsv } from '../../representations/settlement';

const CSV_EXAMPLE =
  'id,revenueLineId,referralId,contractId,periodStart,periodEnd,periodDays,billableDays,revenueAmount,exactAmount,amount\r\n' +
  '5001,901,17,42,2026-10-01,2026-10-31,31,20,3000.00,241.93548387096774193548,241.94\r\n' +
  '5002,902,17,42,2026-10-15,2026-10-15,1,1,-100.00,-12.5,-12.50\r\n';

/** The worked example of the spec (§10): one EUR contract, two referrals, a 3000.00 line and a -100.00 credit note. */
const party = {
  owner: { id: 1, code: 'DACH', name: 'DACH Enterprise' },
  nordics: { id: 2, code: 'NORDICS', name: 'Nordic Sales' },
  benelux: { id: 3, code: 'BENELUX', name: 'Benelux Partners' },
};
const linesToNordics = [
  {
    id: 5001,
    revenueLineId: 901,
    referralId: 17,
    contractId: 42,
    periodStart: '2026-10-01',
    periodEnd: '2026-10-31',
    periodDays: 31,
    billableDays: 20,
    revenueAmount: '3000.00',
    exactAmount: '241.93548387096774193548',
    amount: '241.94',
  },
  {
    id: 5002,
    revenueLineId: 902,
    referralId: 17,
    contractId: 42,
    periodStart: '2026-10-15',
    periodEnd: '2026-10-15',
    periodDays: 1,
    billableDays: 1,
    revenueAmount: '-100.00',
    exactAmount: '-12.5',
    amount: '-12.50',
  },
];
const statementToNordics = {
  id: 88,
  runId: 12,
  payer: party.owner,
  referrer: party.nordics,
  currency: 'EUR',
  total: '229.44',
  lineCount: 2,
  createdDate: '2026-11-01T02:00:03.118Z',
};
const statementToBenelux = {
  ...statementToNordics,
  id: 89,
  referrer: party.benelux,
  total: '290.00',
};
const runExample = {
  id: 12,
  through: '2026-10-31',
  dryRun: false,
  createdDate: '2026-11-01T02:00:03.118Z',
  statementCount: 2,
  lineCount: 4,
  totals: [{ currency: 'EUR', amount: '519.44' }],
};
const dryRunLines = (lines: typeof linesToNordics) => lines.map((l) => ({ ...l, id: null }));

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
      201: { description: 'The run, committed.', schema: SettlementRun, example: runExample, headers: ['Location'] },
      200: {
        description: 'A dry run: what the run would settle, with the statements; nothing was written.',
        schema: SettlementDryRun,
        example: {
          ...runExample,
          id: null,
          dryRun: true,
          statements: [
            { ...statementToNordics, id: null, runId: null, lines: dryRunLines(linesToNordics) },
            {
              ...statementToBenelux,
              id: null,
              runId: null,
              lines: [
                { ...linesToNordics[0]!, id: null, referralId: 18, billableDays: 31, exactAmount: '300', amount: '300.00' },
                { ...linesToNordics[1]!, id: null, referralId: 18, exactAmount: '-10', amount: '-10.00' },
              ],
            },
          ],
        },
      },
    },
    problems: [],
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
    description: 'Committed runs (dry runs are not stored). Needs an admin key.',
    tags: ['Settlement'],
    access: 'admin',
    query: RunListQuery,
    responses: {
      200: { description: 'A page of runs.', schema: RunList, example: { data: [runExample], meta: { total: 1, limit: 50, offset: 0 } } },
    },
    problems: [],
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
    description: 'Needs an admin key. The statements of the run are read per business unit (listStatements with `runId`).',
    tags: ['Settlement'],
    access: 'admin',
    params: RunParams,
    responses: { 200: { description: 'The run.', schema: SettlementRun, example: runExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: presentRun(await services.settlement.getRun(params.runId), false) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/statements',
    operationId: 'listStatements',
    summary: 'List statements',
    description:
      'Statements the business unit pays (`role=payer`: it owns the contracts), earns (`role=referrer`), or both. Each statement is what one payer owes one referrer in one currency for one run. Lists leave out the lines.',
    tags: ['Statements'],
    access: 'read',
    params: BunitIdParams,
    query: StatementListQuery,
    responses: {
      200: {
        description: 'A page of statements.',
        schema: StatementList,
        example: { data: [statementToNordics, statementToBenelux], meta: { total: 2, limit: 50, offset: 0 } },
      },
    },
    problems: [],
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
    description:
      'Visible to the payer and to the referrer. Each line is the share of one revenue line earned through one referral: `exactAmount` is the exact share (amount / periodDays × the percentage of each billable day / 100, summed), `amount` that share rounded for the statement. The total is the exact sum rounded once, half to even, to the currency’s minor unit; the lines are rounded down and the ones with the largest remainders get one more minor unit, so they always add up to the total.\n\nWith `Accept: text/csv`: a header row and one row per line, amounts exactly as in JSON.',
    tags: ['Statements'],
    access: 'read',
    params: StatementParams,
    responses: {
      200: {
        description: 'The statement with its lines.',
        schema: StatementWithLines,
        example: { ...statementToNordics, lines: linesToNordics },
        alternatives: { 'text/csv': { schema: { type: 'string' }, example: CSV_EXAMPLE } },
        headers: ['Content-Disposition'],
      },
    },
    problems: [],
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
      'For each referral visible to the business unit (as owner or referrer) and billable on at least one day of `from`..`to` (both inclusive, at most 366 days): the maximal runs of billable days with one percentage, clipped to the range. A referral is billable on a day inside its billing window (`billingStartDate` to `billingEndDate`) before the day it is archived; a percentage change splits a run. Future ranges are allowed. For invoicing jobs that compute shares themselves: the share of a revenue line is amount / days of its period × Σ over the billable days of percentage / 100.',
    tags: ['Settlement'],
    access: 'read',
    params: BunitIdParams,
    query: BillingWindowQuery,
    responses: {
      200: {
        description: 'A page of billing windows.',
        schema: BillingWindowList,
        example: {
          data: [
            {
              referral: { id: 17 },
              contract: { id: 42, number: 'C-2026-001', currency: 'EUR', bunitId: 1 },
              referrer: { id: 3, code: 'NORDICS', name: 'Nordic Sales' },
              segments: [
                { from: '2026-11-01', to: '2026-11-22', days: 22, percentage: '12.5' },
                { from: '2026-11-23', to: '2026-11-30', days: 8, percentage: '15' },
              ],
            },
          ],
          meta: { total: 1, limit: 50, offset: 0 },
        },
      },
    },
    problems: [],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.billingWindows.windows(params.bunitId, query);
      return { status: 200, body: { data: page.rows, meta: { total: page.total, limit: query.limit, offset: query.offset } } };
    },
  }),
];
