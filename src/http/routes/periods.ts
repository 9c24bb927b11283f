import { BunitIdParams } from '../../schemas/common';
import {
  Accounts,
  CloseBody,
  Journal,
  JournalList,
  JournalListQuery,
  JournalParams,
  JournalPost,
  Netting,
  NettingList,
  NettingListQuery,
  NettingParams,
  Payment,
  PaymentCreate,
  PaymentList,
  Period,
  PeriodList,
  PeriodListQuery,
  PeriodNettingsQuery,
  PeriodParams,
} from '../../schemas/period';
import { journalCsvHeader, journalCsvRows, presentJournal, presentNetting, presentPayment, presentPeriod } from '../../representations/period';
import { presentPage } from '../pages';
import { defineRoute } from '../route';

/** SPEC §16: the worked example of the README (two BUs referring each other in EUR). */
const dach = { id: 1, code: 'DACH', name: 'DACH Enterprise' };
const nordics = { id: 2, code: 'NORDICS', name: 'Nordic Sales' };
const periodExample = {
  period: '2026-10',
  status: 'closed' as const,
  closedDate: '2026-11-03T09:12:44.301Z',
  closedBy: 'month-end',
  statementCount: 2,
  issuedCount: 0,
  openDisputeCount: 1,
};
const nettingExample = {
  id: 31,
  period: '2026-10',
  currency: 'EUR',
  parties: [
    { bunit: dach, owes: '229.44' },
    { bunit: nordics, owes: '90.00' },
  ],
  payer: dach,
  payee: nordics,
  amount: '139.44',
  paidAmount: '0.00',
  status: 'open' as const,
  statementIds: [88, 90],
  releasedLineIds: [],
  createdDate: '2026-11-03T09:12:44.118Z',
};
const paymentExample = {
  id: 5,
  nettingId: 31,
  amount: '100.00',
  paidDate: '2026-11-05',
  reference: 'PAY-2026-11-0042',
  recordedBy: 'dach-treasury',
  createdDate: '2026-11-05T14:01:09.552Z',
};
const entry = (account: string, debit: string | null, credit: string | null, memo: string) => ({
  account,
  tradingPartner: { id: 2, code: 'NORDICS' },
  debit,
  credit,
  memo,
  nettingId: 31,
});
const journalExample = {
  id: 61,
  bunit: dach,
  kind: 'close' as const,
  period: '2026-10',
  currency: 'EUR',
  date: '2026-10-31',
  entries: [
    entry('revenue-share-expense', '229.44', null, 'revenue share owed'),
    entry('intercompany-payable', null, '229.44', 'revenue share owed'),
    entry('intercompany-receivable', '90.00', null, 'revenue share earned'),
    entry('revenue-share-income', null, '90.00', 'revenue share earned'),
    entry('intercompany-payable', '90.00', null, 'netting'),
    entry('intercompany-receivable', null, '90.00', 'netting'),
  ],
  totalDebit: '409.44',
  totalCredit: '409.44',
  postedDate: null,
  externalId: null,
  createdDate: '2026-11-03T09:12:44.118Z',
};
const JOURNAL_CSV_EXAMPLE =
  'journalId,bunitCode,kind,date,currency,period,line,account,tradingPartnerId,tradingPartnerCode,debit,credit,memo,nettingId\r\n' +
  '61,DACH,close,2026-10-31,EUR,2026-10,1,revenue-share-expense,2,NORDICS,229.44,,revenue share owed,31\r\n' +
  '61,DACH,close,2026-10-31,EUR,2026-10,2,intercompany-payable,2,NORDICS,,229.44,revenue share owed,31\r\n';
const accountsExample = {
  receivable: 'intercompany-receivable',
  payable: 'intercompany-payable',
  income: 'revenue-share-income',
  expense: 'revenue-share-expense',
  clearing: 'intercompany-clearing',
};

export const periodRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/periods',
    operationId: 'listPeriods',
    summary: 'List periods',
    description: 'Every month that has statements or was closed (a month whose only nettable lines were released in it shows once closed), newest first, with whether it is closed and what would stand in the way of its close. Needs an admin key.',
    tags: ['Month-end close'],
    access: 'admin',
    query: PeriodListQuery,
    responses: { 200: { description: 'A page of periods.', schema: PeriodList, example: { data: [periodExample], meta: { total: 1, limit: 50, offset: 0 } } } },
    problems: [],
    async handler({ query, services }) {
      return { status: 200, body: presentPage(await services.periods.list(query), query, presentPeriod) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/periods/{period}/close',
    operationId: 'closePeriod',
    summary: 'Close a period',
    description: `Closes the month: every statement of it becomes \`closed\`, what each pair of business units owes the other in each currency is netted into one amount, and each unit gets one balanced close journal per currency, dated the period's last day. For good: there is no reopening (a later correction is an adjustment in an open period).

409 period-not-ready, naming everything that stands in the way, while: the period's last day is not before today; an earlier period with statements is still open; a settlement run through a day of it is running; a statement of it is still \`issued\`. Open disputes do not stop it: their lines stay held, count in no netting now, and are netted in the period in which their dispute ends.

The close runs as many short transactions (the API is never stalled by it); nobody sees half of it: its nettings and journals appear when the period is \`closed\`. A close that was interrupted is finished by the next one, with the same result; closing a closed period answers it as it is (200). The same as \`npm run close -- --period yyyy-MM\`.`,
    tags: ['Month-end close'],
    access: 'admin',
    params: PeriodParams,
    body: CloseBody,
    bodyOptional: true,
    bodyExample: {},
    responses: { 200: { description: 'The period, closed.', schema: Period, example: periodExample } },
    problems: ['period-not-ready'],
    async handler({ params, services, actor }) {
      return { status: 200, body: presentPeriod(await services.periods.close(params.period, actor)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/periods/{period}/nettings',
    operationId: 'listPeriodNettings',
    summary: 'Every netting of a period',
    description: 'Needs an admin key. Empty until the period is closed.',
    tags: ['Month-end close'],
    access: 'admin',
    params: PeriodParams,
    query: PeriodNettingsQuery,
    responses: { 200: { description: 'A page of nettings.', schema: NettingList, example: { data: [nettingExample], meta: { total: 1, limit: 50, offset: 0 } } } },
    problems: [],
    async handler({ params, query, services }) {
      return { status: 200, body: presentPage(await services.nettings.ofPeriod(params.period, query), query, presentNetting) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/nettings',
    operationId: 'listNettings',
    summary: 'List the nettings of a business unit',
    description: 'The nettings of closed periods the unit is a party of, newest period first. `status` follows from the payments.',
    tags: ['Month-end close'],
    access: 'read',
    params: BunitIdParams,
    query: NettingListQuery,
    responses: { 200: { description: 'A page of nettings.', schema: NettingList, example: { data: [nettingExample], meta: { total: 1, limit: 50, offset: 0 } } } },
    problems: [],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      return { status: 200, body: presentPage(await services.nettings.list(params.bunitId, query), query, presentNetting) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/nettings/{nettingId}',
    operationId: 'getNetting',
    summary: 'Read a netting',
    description: 'Visible to both parties.',
    tags: ['Month-end close'],
    access: 'read',
    params: NettingParams,
    responses: { 200: { description: 'The netting.', schema: Netting, example: nettingExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: presentNetting(await services.nettings.get(params.bunitId, params.nettingId)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/nettings/{nettingId}/payments',
    operationId: 'listPayments',
    summary: 'List the payments of a netting',
    description: 'Visible to both parties, oldest first.',
    tags: ['Month-end close'],
    access: 'read',
    params: NettingParams,
    responses: { 200: { description: 'The payments.', schema: PaymentList, example: { data: [paymentExample], meta: { total: 1, limit: 1, offset: 0 } } } },
    problems: [],
    async handler({ params, services }) {
      const { netting, payments } = await services.nettings.payments(params.bunitId, params.nettingId);
      return {
        status: 200,
        body: { data: payments.map((p) => presentPayment(p, netting.currency)), meta: { total: payments.length, limit: payments.length, offset: 0 } },
      };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/nettings/{nettingId}/payments',
    operationId: 'recordPayment',
    summary: 'Record a payment of a netting',
    description: `By a \`write\` key of the payer (\`bunitId\`), or an admin. A netting may be paid in parts; the payments may not add up to more than its amount (422 overpayment). \`reference\` is unique per netting: sending the same reference with the same amount and date again answers 200 with the payment recorded before; with another amount or date, 409 duplicate-reference.

Each payment writes a \`payment\` journal for the payer (Dr payable / Cr clearing) and one for the payee (Dr clearing / Cr payable), dated \`paidDate\`. The netting's \`paidAmount\` and \`status\` follow.`,
    tags: ['Month-end close'],
    access: 'write',
    params: NettingParams,
    body: PaymentCreate,
    bodyExample: { amount: '100.00', paidDate: '2026-11-05', reference: 'PAY-2026-11-0042' },
    responses: {
      201: { description: 'The payment, recorded.', schema: Payment, example: paymentExample, headers: ['Location'] },
      200: { description: 'The payment with this reference, recorded before with the same amount and date.', schema: Payment, example: paymentExample },
    },
    problems: ['duplicate-reference', 'overpayment'],
    async handler({ params, body, services, actor }) {
      const { payment, netting, created } = await services.nettings.pay(params.bunitId, params.nettingId, body, actor);
      const shown = presentPayment(payment, netting.currency);
      if (!created) return { status: 200, body: shown };
      return { status: 201, body: shown, headers: { Location: `/v1/bunits/${params.bunitId}/nettings/${params.nettingId}/payments` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/accounts',
    operationId: 'getAccounts',
    summary: 'Read a business unit’s accounts',
    description: 'The accounts the unit’s journals book on.',
    tags: ['Month-end close'],
    access: 'read',
    params: BunitIdParams,
    responses: { 200: { description: 'The accounts.', schema: Accounts, example: accountsExample } },
    problems: [],
    async handler({ params, services }) {
      return { status: 200, body: await services.journals.accounts(params.bunitId) };
    },
  }),
  defineRoute({
    method: 'put',
    path: '/v1/bunits/{bunitId}/accounts',
    operationId: 'setAccounts',
    summary: 'Change a business unit’s accounts',
    description: 'Needs an admin key. All five accounts; the change applies to journals written afterwards (those written before keep theirs).',
    tags: ['Month-end close'],
    access: 'admin',
    params: BunitIdParams,
    body: Accounts,
    bodyExample: { ...accountsExample, receivable: '1410-ic-receivable' },
    responses: { 200: { description: 'The accounts, changed.', schema: Accounts, example: { ...accountsExample, receivable: '1410-ic-receivable' } } },
    problems: [],
    async handler({ params, body, services, actor }) {
      return { status: 200, body: await services.journals.setAccounts(params.bunitId, body, actor) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/journals',
    operationId: 'listJournals',
    summary: 'List the journals of a business unit',
    description:
      'Close journals (of closed periods) and payment journals, oldest first. `posted=false`: those the ERP has not acknowledged yet, for its pick-up.\n\nWith `Accept: text/csv`: the journals of this page as the file the ERP imports: a header row, then one row per entry, the journal’s id, the unit’s code, kind, date and currency first; an entry has either a debit or a credit, the other column empty.',
    tags: ['Month-end close'],
    access: 'read',
    params: BunitIdParams,
    query: JournalListQuery,
    responses: {
      200: {
        description: 'A page of journals (JSON), or their entries (CSV).',
        schema: JournalList,
        example: { data: [journalExample], meta: { total: 1, limit: 50, offset: 0 } },
        alternatives: { 'text/csv': { schema: { type: 'string' }, example: JOURNAL_CSV_EXAMPLE } },
        headers: ['Content-Disposition'],
      },
    },
    problems: [],
    async handler({ params, query, services, mediaType }) {
      await services.bunits.get(params.bunitId);
      const page = await services.journals.list(params.bunitId, query);
      if (mediaType === 'text/csv') {
        return {
          status: 200,
          body: journalCsvHeader() + page.rows.map(journalCsvRows).join(''),
          contentType: 'text/csv; charset=utf-8',
          headers: { 'Content-Disposition': `attachment; filename="journals-${params.bunitId}.csv"` },
        };
      }
      return { status: 200, body: presentPage(page, query, presentJournal) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/journals/{journalId}',
    operationId: 'getJournal',
    summary: 'Read a journal',
    description: 'With `Accept: text/csv`: a header row and one row per entry (as the list’s CSV).',
    tags: ['Month-end close'],
    access: 'read',
    params: JournalParams,
    responses: {
      200: {
        description: 'The journal.',
        schema: Journal,
        example: journalExample,
        alternatives: { 'text/csv': { schema: { type: 'string' }, example: JOURNAL_CSV_EXAMPLE } },
        headers: ['Content-Disposition'],
      },
    },
    problems: [],
    async handler({ params, services, mediaType }) {
      const journal = await services.journals.get(params.bunitId, params.journalId);
      if (mediaType === 'text/csv') {
        return {
          status: 200,
          body: journalCsvHeader() + journalCsvRows(journal),
          contentType: 'text/csv; charset=utf-8',
          headers: { 'Content-Disposition': `attachment; filename="journal-${journal.id}.csv"` },
        };
      }
      return { status: 200, body: presentJournal(journal) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/journals/{journalId}/post',
    operationId: 'postJournal',
    summary: 'Acknowledge a journal as posted in the ERP',
    description: 'By a `write` key of the unit, or an admin. Again with the same `externalId`: 200, unchanged; with another, 409 already-posted.',
    tags: ['Month-end close'],
    access: 'write',
    params: JournalParams,
    body: JournalPost,
    bodyExample: { externalId: 'ERP-JE-2026-004711' },
    responses: {
      200: {
        description: 'The journal, posted.',
        schema: Journal,
        example: { ...journalExample, postedDate: '2026-11-04T07:30:00.000Z', externalId: 'ERP-JE-2026-004711' },
      },
    },
    problems: ['already-posted'],
    async handler({ params, body, services, actor }) {
      const { journal } = await services.journals.post(params.bunitId, params.journalId, body.externalId, actor);
      return { status: 200, body: presentJournal(journal) };
    },
  }),
];
