import { presentDispute } from '../../representations/dispute';
import { presentIssuedStatement } from '../../representations/settlement';
import { BunitIdParams } from '../../schemas/common';
import { AcceptBody, Dispute, DisputeCreate, DisputeList, DisputeListQuery, DisputeParams, DisputeResolve, DisputeWithdraw } from '../../schemas/dispute';
import { Statement, StatementParams } from '../../schemas/settlement';
import { presentPage } from '../pages';
import { defineRoute } from '../route';

/** Statements after the run (SPEC §15): the payer accepts; either party disputes lines; the other party resolves. */

const tags = ['Statements'];

const party = {
  dach: { id: 1, code: 'DACH', name: 'DACH Enterprise' },
  benelux: { id: 3, code: 'BENELUX', name: 'Benelux Partners' },
};
const acceptedExample = {
  id: 89,
  runId: 12,
  payer: party.dach,
  referrer: party.benelux,
  currency: 'EUR',
  total: '290.00',
  lineCount: 2,
  createdDate: '2026-11-01T02:00:03.118Z',
  period: '2026-10',
  status: 'accepted',
  acceptedBy: 'dach-finance',
  acceptedDate: '2026-11-03',
  heldAmount: '-10.00',
};
const openExample = {
  id: 7,
  statementId: 89,
  bunitId: 1,
  raisedBy: 'dach-billing',
  lineIds: [5004],
  amount: '-10.00',
  currency: 'EUR',
  reasonCode: 'wrong-revenue',
  comment: 'The credit note of 2026-10-15 was cancelled; the share of it should not be deducted.',
  status: 'open',
  resolution: null,
  createdDate: '2026-11-02T09:30:00.000Z',
};
const upheldExample = {
  ...openExample,
  status: 'upheld',
  resolution: {
    by: 'benelux-finance',
    date: '2026-11-04',
    outcome: 'upheld',
    reason: 'Agreed: the cancellation is booked as revenue line 977.',
    correction: { changeRequestId: null, revenueLineId: 977 },
  },
};
const withdrawnExample = {
  ...openExample,
  status: 'withdrawn',
  resolution: { by: 'dach-billing', date: '2026-11-02', outcome: 'withdrawn', reason: 'Raised on the wrong statement.', correction: null },
};

const HOLDS =
  'While a dispute is open its lines are **held**: they count in the statement’s `heldAmount` and in no netting (§16). When it ends — rejected, upheld or withdrawn — they are released and netted in the period in which it ended; a settled line never changes, so an upheld dispute is fixed by its correction, which settles as the difference in a later run.';

export const statementDisputeRoutes = [
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/statements/{statementId}/accept',
    operationId: 'acceptStatement',
    summary: 'Accept a statement (the payer)',
    description: `The payer confirms what it owes: the statement becomes \`accepted\`, with the key’s name as \`acceptedBy\` and today (BUSINESS_TIMEZONE) as \`acceptedDate\`. \`bunitId\` is the payer; an \`approver\` key of the payer, or an admin key (the referrer: 403 forbidden). Accepting an accepted statement changes nothing (200, no event); a closed one (its period is closed, §16): 409 period-closed. Open disputes stay open: their lines stay held.

A statement nobody accepts is accepted automatically, with \`acceptedBy: "auto"\`, STATEMENT_ACCEPT_DAYS (default 5) days after the day of its creation.

Answers the statement without its lines (read them with getStatement).`,
    tags,
    access: 'decide',
    params: StatementParams,
    body: AcceptBody,
    bodyOptional: true,
    bodyExample: { reason: 'Checked against the October billing report.' },
    responses: { 200: { description: 'The statement, accepted.', schema: Statement, example: acceptedExample } },
    problems: ['period-closed'],
    async handler({ params, body, services, actor }) {
      const statement = await services.statementAcceptance.accept(params.bunitId, params.statementId, body.reason, actor);
      return { status: 200, body: presentIssuedStatement(statement) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/statements/{statementId}/disputes',
    operationId: 'openDispute',
    summary: 'Dispute lines of a statement',
    description: `Either party (\`bunitId\`: the payer or the referrer, the one raising it), by a \`write\` or \`approver\` key, or an admin, disputes 1 to 1000 lines of a statement that is \`issued\` or \`accepted\`, with a reason code and a comment. All or nothing: a line id that is not a line of this statement is 422 invalid-reference (every such id named in \`errors\`), a line that is in an open dispute already is 409 line-disputed (a line is in one open dispute at most; of two disputes over one line made at once, exactly one is opened). A statement whose period is closed: 409 period-closed.

${HOLDS}

The other party resolves the dispute (resolveDispute); the key that raised it may withdraw it.`,
    tags,
    access: 'dispute',
    params: StatementParams,
    body: DisputeCreate,
    bodyExample: { lineIds: [5004], reasonCode: 'wrong-revenue', comment: openExample.comment },
    responses: { 201: { description: 'The dispute, open; its lines are held.', schema: Dispute, example: openExample, headers: ['Location'] } },
    problems: ['invalid-reference', 'line-disputed', 'period-closed'],
    async handler({ params, body, services, actor }) {
      const { dispute, lineIds } = await services.disputes.open(params.bunitId, params.statementId, body, actor);
      return { status: 201, body: presentDispute(dispute, lineIds), headers: { Location: `/v1/bunits/${params.bunitId}/disputes/${dispute.id}` } };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/disputes',
    operationId: 'listDisputes',
    summary: 'List disputes',
    description:
      'The disputes over the statements the business unit pays or earns, whichever party raised them; `status=open` is the work list. Oldest first by default (`sort=-createdDate` for the newest first).',
    tags,
    access: 'read',
    params: BunitIdParams,
    query: DisputeListQuery,
    responses: {
      200: { description: 'A page of disputes.', schema: DisputeList, example: { data: [upheldExample], meta: { total: 1, limit: 50, offset: 0 } } },
    },
    problems: [],
    async handler({ params, query, services }) {
      await services.bunits.get(params.bunitId);
      const page = await services.disputes.list(params.bunitId, query);
      return { status: 200, body: presentPage(page, query, (v) => presentDispute(v.dispute, v.lineIds)) };
    },
  }),
  defineRoute({
    method: 'get',
    path: '/v1/bunits/{bunitId}/disputes/{disputeId}',
    operationId: 'getDispute',
    summary: 'Read a dispute',
    description: 'Visible to both parties of its statement.',
    tags,
    access: 'read',
    params: DisputeParams,
    responses: { 200: { description: 'The dispute.', schema: Dispute, example: openExample } },
    problems: [],
    async handler({ params, services }) {
      const { dispute, lineIds } = await services.disputes.get(params.bunitId, params.disputeId);
      return { status: 200, body: presentDispute(dispute, lineIds) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/disputes/{disputeId}/resolve',
    operationId: 'resolveDispute',
    summary: 'Resolve a dispute (the other party)',
    description: `\`bunitId\` is the deciding party: the other party of the statement than the one that raised the dispute. An \`approver\` key of that party, or an admin key; never the key that raised it (403 four-eyes), nor a key that may act for the party that raised it (403 forbidden), whatever else it may act for.

\`rejected\`: the lines were right. \`upheld\`: they were wrong, and the resolution names the correction that fixes them, else 422 correction-required: \`changeRequestId\`, an amendment (§12), pending or approved, of a referral of the disputed lines, or \`revenueLineId\`, a revenue line with a negative amount (a credit note, §6.1) on a contract of the disputed lines, either created after the dispute was opened. The correction settles as the difference in a later run; the statement itself never changes.

${HOLDS}

A dispute that is no longer open (resolved or withdrawn, perhaps a moment ago): 409 not-open.`,
    tags,
    access: 'decide',
    params: DisputeParams,
    body: DisputeResolve,
    bodyExample: { outcome: 'upheld', reason: 'Agreed: the cancellation is booked as revenue line 977.', revenueLineId: 977 },
    responses: { 200: { description: 'The dispute, resolved; its lines are released.', schema: Dispute, example: upheldExample } },
    problems: ['four-eyes', 'not-open', 'correction-required'],
    async handler({ params, body, services, actor }) {
      const { dispute, lineIds } = await services.disputes.resolve(params.bunitId, params.disputeId, body, actor);
      return { status: 200, body: presentDispute(dispute, lineIds) };
    },
  }),
  defineRoute({
    method: 'post',
    path: '/v1/bunits/{bunitId}/disputes/{disputeId}/withdraw',
    operationId: 'withdrawDispute',
    summary: 'Withdraw a dispute',
    description: `The key that raised it, or an admin key, takes it back (another key: 403 forbidden); its lines are released. A dispute that is no longer open: 409 not-open.`,
    tags,
    access: 'dispute',
    params: DisputeParams,
    body: DisputeWithdraw,
    bodyOptional: true,
    bodyExample: { reason: 'Raised on the wrong statement.' },
    responses: { 200: { description: 'The dispute, withdrawn; its lines are released.', schema: Dispute, example: withdrawnExample } },
    problems: ['not-open'],
    async handler({ params, body, services, actor }) {
      const { dispute, lineIds } = await services.disputes.withdraw(params.bunitId, params.disputeId, body.reason, actor);
      return { status: 200, body: presentDispute(dispute, lineIds) };
    },
  }),
];
