import { BunitIdParams } from '../../schemas/common';
import { BillingWindowList, BillingWindowQuery } from '../../schemas/billing-window';
import {
  RunCreate,
  RunList,
  RunListQuery,
  RunParams,
  RunStatementsQuery,
  SettlementDryRun,
  SettlementRun,
  StatementList,
  StatementListQuery,
  StatementParams,
  StatementQuery,
  StatementWithLines,
} from '../../schemas/settlement';
import { presentPage } from '../pages';
import { defineRoute } from '../route';
import { presentIssuedStatement, presentRun, STATEMENT_CSV_COLUMNS, statementCsv } from '../../representations/settlement';

const CSV_HEADER = `${STATEMENT_CSV_COLUMNS.join(',')}\r\n`;
const CSV_EXAMPLE =
  CSV_HEADER +
  '88,1,DACH,2,NORDICS,EUR,5001,share,42,C-2026-001,901,INV-2026-10-001,17,2026-10-01,2026-10-31,31,20,3000.00,241.93548387096774193548,241.94,,,,false\r\n' +
  '88,1,DACH,2,NORDICS,EUR,5002,share,42,C-2026-001,902,CN-2026-10-001,17,2026-10-15,2026-10-15,1,1,-100.00,-12.5,-12.50,,,,false\r\n';
const EXPORT_EXAMPLE =
  CSV_EXAMPLE +
  '89,1,DACH,3,BENELUX,EUR,5003,share,42,C-2026-001,901,INV-2026-10-001,18,2026-10-01,2026-10-31,31,31,3000.00,300,300.00,,,,false\r\n' +
  '89,1,DACH,3,BENELUX,EUR,5004,share,42,C-2026-001,902,CN-2026-10-001,18,2026-10-15,2026-10-15,1,1,-100.00,-10,-10.00,,,7,true\r\n';
/** The columns of the statement CSV, for the operations' descriptions (SPEC §6.3). */
const CSV_COLUMNS_DOC = `The CSV has a header row and one row per line; every row names its statement and what a reader reconciles it with, so that a spreadsheet needs no other look-up. Columns, in this order:

| column | what |
| --- | --- |
| \`statementId\` | the statement |
| \`payerId\`, \`payerCode\` | the business unit that pays (it owns the contract) |
| \`referrerId\`, \`referrerCode\` | the business unit that earns |
| \`currency\` | the statement's currency (ISO 4217); every amount of the row is in it |
| \`lineId\`, \`kind\` | the line; \`share\`, or \`adjustment\` (a correction of an earlier line, SPEC §12) |
| \`contractId\`, \`contractNumber\` | the contract, by id and by its number |
| \`revenueLineId\`, \`externalId\` | the revenue line, by id and by the billing system's \`externalId\` |
| \`referralId\` | the referral that earns the share |
| \`periodStart\`, \`periodEnd\`, \`periodDays\`, \`billableDays\` | the revenue line's period, its days, and the days of it the referral was billable |
| \`revenueAmount\` | the revenue line's amount |
| \`exactAmount\` | the exact share: up to 20 decimals (rounded half to even at the 20th when it has more), trailing zeros dropped |
| \`amount\` | the share rounded for the statement; a statement's amounts add up to its total |
| \`adjustsStatementId\`, \`adjustsLineId\` | for an adjustment, the line it corrects (else empty) |

Amounts are exactly as in JSON (a dot as the decimal separator, no thousands separator). Text is UTF-8; \`?bom=true\` begins the file with the byte-order mark that spreadsheet programs need to read non-ASCII text right. Rows end with CRLF; a cell with a comma, a quote or a line break is quoted (RFC 4180).`;

/** Where a statement stands after the run (SPEC §15), for its operations' descriptions. */
const STATUS_DOC = '\n\nThe statement’s `status` says where it stands after the run: `issued`, `accepted` by the payer (acceptStatement, or automatically after STATEMENT_ACCEPT_DAYS days), `closed` with its period. `heldAmount` is what open disputes hold of it (openDispute).';

/** The worked example of the spec (§10): one EUR contract, two referrals, a 3000.00 line and a -100.00 credit note. */
const party = {
  owner: { id: 1, code: 'DACH', name: 'DACH Enterprise' },
  nordics: { id: 2, code: 'NORDICS', name: 'Nordic Sales' },
  benelux: { id: 3, code: 'BENELUX', name: 'Benelux Partners' },
};
const linesToNordics = [
  {
    id: 5001,
    kind: 'share' as const,
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
    adjusts: null,
  },
  {
    id: 5002,
    kind: 'share' as const,
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
    adjusts: null,
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
/** What SPEC §15 adds to a stored statement and its lines: the statement to NORDICS is accepted, one line of the other is disputed. */
const issued = {
  toNordics: { ...statementToNordics, period: '2026-10', status: 'accepted', acceptedBy: 'dach-finance', acceptedDate: '2026-11-03', heldAmount: '0.00' },
  toBenelux: { ...statementToBenelux, period: '2026-10', status: 'issued', acceptedBy: null, acceptedDate: null, heldAmount: '-10.00' },
};
const issuedLines = linesToNordics.map((l) => ({ ...l, disputeId: null, held: false }));
const runExample = {
  id: 12,
  through: '2026-10-31',
  dryRun: false,
  status: 'completed',
  createdDate: '2026-11-01T02:00:03.118Z',
  startedDate: '2026-11-01T02:00:03.118Z',
  completedDate: '2026-11-01T02:00:04.902Z',
  statementCount: 2,
  lineCount: 4,
  totals: [{ currency: 'EUR', amount: '519.44' }],
  progress: { partitionsDone: 1, partitionsTotal: 1, partitionsFailed: 0 },
};
const runningExample = {
  ...runExample,
  id: 13,
  through: '2026-11-30',
  status: 'running',
  createdDate: '2026-12-01T02:00:01.004Z',
  startedDate: '2026-12-01T02:00:01.004Z',
  completedDate: null,
  statementCount: 0,
  lineCount: 0,
  totals: [],
  progress: { partitionsDone: 212, partitionsTotal: 480, partitionsFailed: 0 },
};
const dryRunLines = (lines: typeof linesToNordics) => lines.map((l) => ({ ...l, id: null }));

export const settlementRoutes = [
  defineRoute({
    method: 'post',
    path: '/v1/settlement-runs',
    operationId: 'runSettlement',
    summary: 'Run the settlement',
    description: `Settles every (revenue line, referral) pair not yet settled whose revenue line ends on or before \`through\` (default and latest: yesterday), and answers once the run has completed.

For a line of N days, the referral earns amount / N × percentage(d) / 100 for each day d of the line's period on which it is billable (inside its billing window, before its archive day, at the percentage of that day). This is computed exactly, with no rounding on the way.

The new lines of one (payer, referrer, currency) form one statement. Its total is the exact sum rounded once, half to even, to the currency's minor units (EUR 0.01, JPY 1, KWD 0.001); each line gets its share rounded down, and the lines with the largest remainders get one more minor unit, so the lines always add up to the total.

A pair is settled at most once, ever: a rerun adds nothing, revenue that arrives late is picked up by the next run, settled lines never change.

**How it runs.** The work is cut into partitions (groups of whole contracts), each committed in a short transaction of its own, so the rest of the API goes on while a run executes; then a short finalize rounds the statements and marks the run \`completed\`. One run is running at a time: while another settle works on one, this answers 409 run-in-progress. A run that was interrupted (a killed process, a lost database) is resumed first, with its own \`through\`, by the next settle, here or in the settle command, and gives exactly the lines it would have given uninterrupted. With an \`Idempotency-Key\`, a retry after a crash continues the run the first attempt began and answers it.

With \`dryRun: true\` the run is computed and returned (200, \`id: null\`, with the statements and their lines) and nothing is written; the answer is streamed and is not stored for an idempotent replay (repeating a dry run is safe).`,
    tags: ['Settlement'],
    access: 'admin',
    body: RunCreate,
    bodyOptional: true,
    bodyExample: { through: '2026-10-31' },
    responses: {
      201: { description: 'The run, completed.', schema: SettlementRun, example: runExample, headers: ['Location'] },
      200: {
        description: 'A dry run: what the run would settle, with the statements; nothing was written.',
        schema: SettlementDryRun,
        example: {
          id: null,
          through: runExample.through,
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
          status: 'completed',
          createdDate: runExample.createdDate,
          startedDate: runExample.startedDate,
          completedDate: runExample.completedDate,
          statementCount: 2,
          lineCount: 4,
          totals: runExample.totals,
          progress: runExample.progress,
        },
      },
    },
    problems: ['run-in-progress', 'period-closed'],
    async handler({ body, services, actor, idempotency }) {
      if (body.dryRun) {
        const dry = await services.settlement.dryRun(body);
        return { status: 200, stream: dry.json() };
      }
      const resource = idempotency?.resource?.match(/^settlement-run:(\d+)$/);
      const run = await services.settlement.run(body, actor, {
        resume: resource ? Number(resource[1]) : undefined,
        onRunCreated: (id) => idempotency?.remember(`settlement-run:${id}`) ?? Promise.resolve(),
        heartbeat: () => idempotency?.renew() ?? Promise.resolve(),
      });
      return { status: 201, body: presentRun(run), headers: { Location: `/v1/settlement-runs/${run.id}` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settlement-runs',
    operationId: 'listSettlementRuns',
    summary: 'List settlement runs',
    description: 'Runs, running ones included, so that an operator can watch one (dry runs are not stored). Needs an admin key.',
    tags: ['Settlement'],
    access: 'admin',
    query: RunListQuery,
    responses: {
      200: {
        description: 'A page of runs.',
        schema: RunList,
        example: { data: [runExample, runningExample], meta: { total: 2, limit: 50, offset: 0 } },
      },
    },
    problems: [],
    async handler({ query, services }) {
      const page = await services.settlement.listRuns(query);
      return { status: 200, body: presentPage(page, query, presentRun) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settlement-runs/{runId}',
    operationId: 'getSettlementRun',
    summary: 'Read a settlement run',
    description: 'Needs an admin key. While it runs, `progress` says how far it is.',
    tags: ['Settlement'],
    access: 'admin',
    params: RunParams,
    responses: { 200: { description: 'The run.', schema: SettlementRun, example: runExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: presentRun(await services.settlement.getRun(params.runId)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settlement-runs/{runId}/statements',
    operationId: 'listRunStatements',
    summary: 'Every statement of a run, or all its lines as CSV',
    description:
      `Needs an admin key. The statements of a completed run, paged, without their lines.\n\nWith \`Accept: text/csv\`: every line of the run, streamed, the statements in the order of payer, referrer and currency, the lines of each in the order of revenue line and referral. This is the file the invoicing job hands to the ERP. \`limit\`, \`offset\` and \`sort\` apply to the JSON list only.\n\n${CSV_COLUMNS_DOC}\n\nA run that is still running has no statements to show yet: 409 run-in-progress.`,
    tags: ['Settlement'],
    access: 'admin',
    params: RunParams,
    query: RunStatementsQuery,
    responses: {
      200: {
        description: 'A page of the run’s statements (JSON), or every line of the run (CSV).',
        schema: StatementList,
        example: { data: [issued.toNordics, issued.toBenelux], meta: { total: 2, limit: 50, offset: 0 } },
        alternatives: { 'text/csv': { schema: { type: 'string' }, example: EXPORT_EXAMPLE } },
        headers: ['Content-Disposition'],
      },
    },
    problems: ['run-in-progress'],
    async handler({ params, query, services, mediaType }) {
      if (mediaType === 'text/csv') {
        return {
          status: 200,
          stream: await services.settlement.exportRun(params.runId, { bom: query.bom }),
          contentType: 'text/csv; charset=utf-8',
          headers: { 'Content-Disposition': `attachment; filename="settlement-run-${params.runId}.csv"` },
        };
      }
      const page = await services.settlement.statementsOfRun(params.runId, query);
      return { status: 200, body: presentPage(page, query, (s) => presentIssuedStatement(s)) };
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
        example: { data: [issued.toNordics, issued.toBenelux], meta: { total: 2, limit: 50, offset: 0 } },
      },
    },
    problems: [],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.statements.list(params.bunitId, query);
      return { status: 200, body: presentPage(page, query, (s) => presentIssuedStatement(s)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/statements/{statementId}',
    operationId: 'getStatement',
    summary: 'Read a statement with its lines',
    description:
      'Visible to the payer and to the referrer. Each line is the share of one revenue line earned through one referral: `exactAmount` is the exact share (amount / periodDays × the percentage of each billable day / 100, summed), `amount` that share rounded for the statement. The total is the exact sum rounded once, half to even, to the currency’s minor unit; the lines are rounded down and the ones with the largest remainders get one more minor unit, so they always add up to the total.\n\nWith `Accept: text/csv`: the statement as CSV, in the layout of the run export (`GET /v1/settlement-runs/{runId}/statements`).\n\n' + CSV_COLUMNS_DOC + STATUS_DOC,
    tags: ['Statements'],
    access: 'read',
    params: StatementParams,
    query: StatementQuery,
    responses: {
      200: {
        description: 'The statement with its lines.',
        schema: StatementWithLines,
        example: { ...issued.toNordics, lines: issuedLines },
        alternatives: { 'text/csv': { schema: { type: 'string' }, example: CSV_EXAMPLE } },
        headers: ['Content-Disposition'],
      },
    },
    problems: [],
    async handler({ params, query, services, mediaType }) {
      const { statement, lines } = await services.statements.get(params.bunitId, params.statementId);
      if (mediaType === 'text/csv') {
        return {
          status: 200,
          body: statementCsv(statement, lines, query.bom),
          contentType: 'text/csv; charset=utf-8',
          headers: { 'Content-Disposition': `attachment; filename="statement-${statement.id}.csv"` },
        };
      }
      return { status: 200, body: presentIssuedStatement(statement, lines) };
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
