import { expect } from 'chai';
import { acceptDueStatements } from '../../src/services/statement-acceptance.service';
import { describeApi, type ApiContext, type KeyedAgent } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem } from '../helpers/fixtures';

/**
 * Statements after the run (SPEC §15), sentence by sentence: the period and status of a
 * statement, acceptance by the payer and automatically, disputes over lines by either party,
 * held lines, resolution by the other party (four eyes, with a correction that fits), withdrawal,
 * the lists, and the races where exactly one may win. PAYER owns a EUR contract that EARNER refers
 * at 10 %; three October revenue lines are settled through 2026-10-31 into one statement. The
 * clock stands at 2026-11-23T12:00Z unless a test moves it.
 */

interface Line {
  id: number;
  amount: string;
  contractId: number;
  referralId: number;
  disputeId: number | null;
  held: boolean;
}
interface Statement {
  id: number;
  period: string;
  status: string;
  acceptedBy: string | null;
  acceptedDate: string | null;
  heldAmount: string;
  total: string;
  lines?: Line[];
}
interface Dispute {
  id: number;
  statementId: number;
  bunitId: number;
  raisedBy: string;
  lineIds: number[];
  amount: string;
  reasonCode: string;
  comment: string;
  status: string;
  resolution: { by: string; date: string; outcome: string; reason: string | null; correction: { changeRequestId: number | null; revenueLineId: number | null } | null } | null;
  createdDate: string;
}

type Agent = KeyedAgent & { name: string };

interface Scene {
  payer: number;
  earner: number;
  other: number;
  contract: number;
  referral: number;
  statement: number;
  lines: Line[];
  payerApprover: Agent;
  payerApprover2: Agent;
  payerWriter: Agent;
  earnerApprover: Agent;
  earnerWriter: Agent;
  reader: Agent;
  /** Approver keys that may act for both parties. */
  bothApprover: Agent;
  bothApprover2: Agent;
  otherApprover: Agent;
}

const statementPath = (bunit: number, id: number, action = '') => `/v1/bunits/${bunit}/statements/${id}${action}`;
const disputePath = (bunit: number, id: number, action = '') => `/v1/bunits/${bunit}/disputes/${id}${action}`;
const comment = 'The percentage in October was 12 %, not 10 %.';

async function ingest(ctx: ApiContext, bunit: number, contract: number, lines: object[]): Promise<number[]> {
  const res = await ctx.post(`/v1/bunits/${bunit}/contracts/${contract}/revenue`, { lines });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return (res.body.data as { id: number }[]).map((l) => l.id);
}

async function settle(ctx: ApiContext, through = '2026-10-31') {
  const res = await ctx.post('/v1/settlement-runs', { through });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
}

async function readStatement(ctx: ApiContext, bunit: number, id: number): Promise<Statement & { lines: Line[] }> {
  const res = await ctx.get(statementPath(bunit, id));
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as Statement & { lines: Line[] };
}

async function scene(ctx: ApiContext): Promise<Scene> {
  const payer = await createBunit(ctx, 'PAYER');
  const earner = await createBunit(ctx, 'EARNER');
  const other = await createBunit(ctx, 'OTHER');
  const contract = await createContract(ctx, payer, { number: 'C-1', startDate: '2026-01-01' });
  const referral = (await createReferral(ctx, payer, contract, earner, { percentage: '10', billingStartDate: '2026-10-01' })).id;
  await ingest(ctx, payer, contract, [
    { externalId: 'INV-1', amount: '1000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
    { externalId: 'INV-2', amount: '2000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
    { externalId: 'INV-3', amount: '-300.00', periodStart: '2026-10-15', periodEnd: '2026-10-15' },
  ]);
  await settle(ctx);
  const [listed] = (await ctx.get(`/v1/bunits/${payer}/statements`)).body.data as Statement[];
  const statement = await readStatement(ctx, payer, listed!.id);
  const agent = async (name: string, role: 'read' | 'write' | 'approver' | 'admin', bunitIds?: number[]) => ({ ...ctx.as((await ctx.key(name, role, bunitIds)).secret), name });
  return {
    payer,
    earner,
    other,
    contract,
    referral,
    statement: statement.id,
    lines: statement.lines,
    payerApprover: await agent('payer-approver', 'approver', [payer]),
    payerApprover2: await agent('payer-approver-2', 'approver', [payer]),
    payerWriter: await agent('payer-billing', 'write', [payer]),
    earnerApprover: await agent('earner-approver', 'approver', [earner]),
    earnerWriter: await agent('earner-billing', 'write', [earner]),
    reader: await agent('auditor', 'read', [payer, earner]),
    bothApprover: await agent('group-approver', 'approver', [payer, earner]),
    bothApprover2: await agent('group-approver-2', 'approver', [payer, earner]),
    otherApprover: await agent('other-approver', 'approver', [other]),
  };
}

async function openDispute(agent: KeyedAgent | ApiContext, bunit: number, statement: number, lineIds: number[], reasonCode = 'wrong-percentage'): Promise<Dispute> {
  const res = await agent.post(statementPath(bunit, statement, '/disputes'), { lineIds, reasonCode, comment });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as Dispute;
}

async function eventsOf(ctx: ApiContext, type: string) {
  return (await ctx.get(`/v1/events?limit=1000&type=${type}`)).body.data as { type: string; bunitIds: number[]; data: { id: number; status: string } }[];
}

async function auditOf(ctx: ApiContext, entity: 'statement' | 'dispute', id: number) {
  return (await ctx.db('audit_events').where({ entity_type: entity, entity_id: id }).orderBy('id')) as { action: string; key_name: string; reason: string | null; changes: string }[];
}

const sum = (amounts: string[]) => amounts.reduce((s, a) => s + Math.round(Number(a) * 100), 0);
const cents = (n: number) => (n / 100).toFixed(2);

describeApi('statements accepted or disputed (SPEC §15)', (ctx) => {
  describe('a statement after the run', () => {
    it('belongs to the period of its run’s through, is issued, holds nothing, and its lines are undisputed', async () => {
      const s = await scene(ctx);
      const statement = await readStatement(ctx, s.earner, s.statement);
      expect(statement).to.deep.include({ period: '2026-10', status: 'issued', acceptedBy: null, acceptedDate: null, heldAmount: '0.00' });
      expect(statement.lines).to.have.length(3);
      for (const line of statement.lines) expect(line).to.deep.include({ disputeId: null, held: false });
    });

    it('lists filter on status and period, together with the other filters', async () => {
      const s = await scene(ctx);
      const list = async (agent: KeyedAgent | ApiContext, query: string) => {
        const res = await agent.get(`/v1/bunits/${s.payer}/statements${query}`);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        return (res.body.data as Statement[]).map((x) => x.id);
      };
      expect(await list(ctx, '?status=issued&period=2026-10')).to.deep.equal([s.statement]);
      expect(await list(ctx, '?period=2026-09')).to.deep.equal([]);
      expect(await list(ctx, '?status=accepted')).to.deep.equal([]);
      await s.payerApprover.post(statementPath(s.payer, s.statement, '/accept')).expect(200);
      expect(await list(ctx, '?status=accepted&period=2026-10&role=payer&currency=EUR')).to.deep.equal([s.statement]);
      expect(await list(ctx, '?status=issued')).to.deep.equal([]);

      const bad = await ctx.get(`/v1/bunits/${s.payer}/statements?status=paid&period=2026-13`);
      expectProblem(bad, 400, 'validation-failed');
      expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).to.deep.equal(['query.period', 'query.status']);
    });
  });

  describe('accept', () => {
    it('is done by an approver of the payer: accepted, by its name, today; once (again: 200, nothing changes, no event)', async () => {
      const s = await scene(ctx);
      ctx.clock.set('2026-11-24T09:00:00.000Z');
      const res = await s.payerApprover.post(statementPath(s.payer, s.statement, '/accept'), { reason: 'Checked against the billing report.' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.include({ id: s.statement, status: 'accepted', acceptedBy: 'payer-approver', acceptedDate: '2026-11-24', period: '2026-10' });
      expect(res.body).not.to.have.property('lines');

      ctx.clock.set('2026-11-25T09:00:00.000Z');
      const again = await s.payerApprover2.post(statementPath(s.payer, s.statement, '/accept'));
      expect(again.status).to.equal(200);
      expect(again.body).to.deep.include({ status: 'accepted', acceptedBy: 'payer-approver', acceptedDate: '2026-11-24' });

      const events = await eventsOf(ctx, 'statement.accepted');
      expect(events).to.have.length(1);
      expect(events[0]!.bunitIds.sort()).to.deep.equal([s.payer, s.earner].sort());
      expect(events[0]!.data).to.deep.include({ id: s.statement, status: 'accepted' });
      const audit = await auditOf(ctx, 'statement', s.statement);
      expect(audit.map((a) => [a.action, a.key_name, a.reason])).to.deep.equal([['accept', 'payer-approver', 'Checked against the billing report.']]);
      expect(JSON.parse(audit[0]!.changes)).to.deep.include({ field: 'status', from: 'issued', to: 'accepted' });
    });

    it('is refused to the referrer (403), to write and read keys (403), to other business units (403 out of scope, 404 under their own)', async () => {
      const s = await scene(ctx);
      expectProblem(await s.earnerApprover.post(statementPath(s.earner, s.statement, '/accept')), 403, 'forbidden');
      expectProblem(await s.bothApprover.post(statementPath(s.earner, s.statement, '/accept')), 403, 'forbidden');
      expectProblem(await s.earnerApprover.post(statementPath(s.payer, s.statement, '/accept')), 403, 'forbidden');
      expectProblem(await s.payerWriter.post(statementPath(s.payer, s.statement, '/accept')), 403, 'forbidden');
      expectProblem(await s.reader.post(statementPath(s.payer, s.statement, '/accept')), 403, 'forbidden');
      expectProblem(await s.otherApprover.post(statementPath(s.other, s.statement, '/accept')), 404, 'not-found');
      expectProblem(await ctx.post(statementPath(s.payer, 9999, '/accept')), 404, 'not-found');
      expect((await readStatement(ctx, s.payer, s.statement)).status).to.equal('issued');
      expect(await eventsOf(ctx, 'statement.accepted')).to.have.length(0);
    });

    it('is done by a key scoped to both parties acting for the payer, and by an admin', async () => {
      const s = await scene(ctx);
      const res = await s.bothApprover.post(statementPath(s.payer, s.statement, '/accept'));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.acceptedBy).to.equal('group-approver');
      const other = await scene2(ctx, s);
      const byAdmin = await ctx.post(statementPath(s.payer, other, '/accept'));
      expect(byAdmin.status).to.equal(200);
      expect(byAdmin.body.acceptedBy).to.equal('ADMIN_API_KEY');
    });

    it('answers 409 period-closed for a closed statement, and disputes of it too', async () => {
      const s = await scene(ctx);
      // The close of its period (SPEC §16) sets the status.
      await ctx.db('statements').where({ id: s.statement }).update({ status: 'closed' });
      expectProblem(await s.payerApprover.post(statementPath(s.payer, s.statement, '/accept')), 409, 'period-closed');
      expectProblem(await s.earnerWriter.post(statementPath(s.earner, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id], reasonCode: 'other', comment }), 409, 'period-closed');
      expect(await ctx.db('disputes').count({ n: '*' }).first()).to.satisfy((r: { n: number | string }) => Number(r.n) === 0);
    });

    it('rejects unknown body fields and an over-long reason with 400', async () => {
      const s = await scene(ctx);
      const res = await s.payerApprover.post(statementPath(s.payer, s.statement, '/accept'), { reason: 'x'.repeat(501), by: 'me' });
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.map((e: { path: string }) => e.path).sort()).to.deep.equal(['body.by', 'body.reason']);
    });
  });

  describe('auto-acceptance', () => {
    it('accepts a statement still issued 5 days after the day of its creation, as auto, once; an accepted one is left as it is', async () => {
      const s = await scene(ctx);
      const second = await scene2(ctx, s);
      await s.payerApprover.post(statementPath(s.payer, second, '/accept')).expect(200);
      const job = () => acceptDueStatements(ctx.services.ctx, ctx.services.ctx.calendar.today());

      ctx.clock.set('2026-11-27T23:59:59.999Z');
      expect(await job()).to.equal(0);
      expect((await readStatement(ctx, s.payer, s.statement)).status).to.equal('issued');

      ctx.clock.set('2026-11-28T00:00:00.000Z');
      expect(await job()).to.equal(1);
      expect(await readStatement(ctx, s.payer, s.statement)).to.deep.include({ status: 'accepted', acceptedBy: 'auto', acceptedDate: '2026-11-28' });
      expect(await readStatement(ctx, s.payer, second)).to.deep.include({ status: 'accepted', acceptedBy: 'payer-approver' });
      expect(await job()).to.equal(0);

      const events = await eventsOf(ctx, 'statement.accepted');
      expect(events.map((e) => e.data.id).sort()).to.deep.equal([s.statement, second].sort());
      expect((await auditOf(ctx, 'statement', s.statement)).map((a) => [a.action, a.key_name])).to.deep.equal([['accept', 'auto']]);
    });

    it('run by several callers at once, accepts every due statement exactly once (one event each)', async () => {
      const s = await scene(ctx);
      const more = [await scene2(ctx, s), await scene2(ctx, s, 'THIRD')];
      ctx.clock.set('2026-12-01T12:00:00.000Z');
      const counts = await Promise.all([1, 2, 3, 4].map(() => acceptDueStatements(ctx.services.ctx, '2026-12-01')));
      expect(counts.reduce((a, b) => a + b, 0)).to.equal(3);
      const events = await eventsOf(ctx, 'statement.accepted');
      expect(events.map((e) => e.data.id).sort()).to.deep.equal([s.statement, ...more].sort());
    });
  });

  describe('dispute', () => {
    it('is opened by either party’s write or approver key over lines of the statement: 201, its amount, the lines held', async () => {
      const s = await scene(ctx);
      const [l1, l2, l3] = s.lines;
      const res = await s.earnerWriter.post(statementPath(s.earner, s.statement, '/disputes'), { lineIds: [l3!.id, l1!.id], reasonCode: 'wrong-percentage', comment });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const dispute = res.body as Dispute;
      expect(res.headers.location).to.equal(`/v1/bunits/${s.earner}/disputes/${dispute.id}`);
      expect(dispute).to.deep.include({
        statementId: s.statement,
        bunitId: s.earner,
        raisedBy: 'earner-billing',
        lineIds: [l1!.id, l3!.id].sort((a, b) => a - b),
        amount: cents(sum([l1!.amount, l3!.amount])),
        reasonCode: 'wrong-percentage',
        comment,
        status: 'open',
        resolution: null,
        createdDate: '2026-11-23T12:00:00.000Z',
      });

      const statement = await readStatement(ctx, s.payer, s.statement);
      expect(statement.heldAmount).to.equal(dispute.amount);
      expect(statement.lines.map((l) => [l.id, l.disputeId, l.held])).to.deep.equal([
        [l1!.id, dispute.id, true],
        [l2!.id, null, false],
        [l3!.id, dispute.id, true],
      ].sort((a, b) => (a[0] as number) - (b[0] as number)));
      const csv = await ctx.get(statementPath(s.payer, s.statement)).set('Accept', 'text/csv');
      const row = csv.text.split('\r\n').find((r) => r.startsWith(`${l1!.id},`))!;
      expect(row.endsWith(`,${dispute.id},true`)).to.equal(true);

      const byPayer = await openDispute(s.payerApprover, s.payer, s.statement, [l2!.id], 'duplicate');
      expect(byPayer).to.deep.include({ bunitId: s.payer, raisedBy: 'payer-approver', amount: l2!.amount });
      expect((await readStatement(ctx, s.earner, s.statement)).heldAmount).to.equal(cents(sum(s.lines.map((l) => l.amount))));

      const events = await eventsOf(ctx, 'dispute.opened');
      expect(events.map((e) => e.data.id)).to.deep.equal([dispute.id, byPayer.id]);
      expect(events[0]!.bunitIds.sort()).to.deep.equal([s.payer, s.earner].sort());
      expect((await auditOf(ctx, 'dispute', dispute.id)).map((a) => [a.action, a.key_name])).to.deep.equal([['open', 'earner-billing']]);
    });

    it('may be opened on an accepted statement; a read key, and a unit that is not a party, may not dispute', async () => {
      const s = await scene(ctx);
      await s.payerApprover.post(statementPath(s.payer, s.statement, '/accept')).expect(200);
      expectProblem(await s.reader.post(statementPath(s.payer, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id], reasonCode: 'other', comment }), 403, 'forbidden');
      expectProblem(await s.otherApprover.post(statementPath(s.other, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id], reasonCode: 'other', comment }), 404, 'not-found');
      expectProblem(await s.otherApprover.post(statementPath(s.payer, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id], reasonCode: 'other', comment }), 403, 'forbidden');
      const dispute = await openDispute(s.bothApprover, s.earner, s.statement, [s.lines[0]!.id]);
      expect(dispute.bunitId).to.equal(s.earner);
      expect((await readStatement(ctx, s.payer, s.statement)).status).to.equal('accepted');
    });

    it('answers 409 line-disputed for a line in an open dispute, naming it, and disputes nothing', async () => {
      const s = await scene(ctx);
      const first = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[1]!.id]);
      const res = await s.payerWriter.post(statementPath(s.payer, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id, s.lines[1]!.id], reasonCode: 'other', comment });
      expectProblem(res, 409, 'line-disputed');
      expect(res.body.detail).to.contain(`line ${s.lines[1]!.id} (dispute ${first.id})`);
      const statement = await readStatement(ctx, s.payer, s.statement);
      expect(statement.lines.filter((l) => l.held).map((l) => l.id)).to.deep.equal([s.lines[1]!.id]);
      expect((await ctx.get(`/v1/bunits/${s.payer}/disputes`)).body.meta.total).to.equal(1);
    });

    it('answers 422 invalid-reference for lines of another statement or none, naming each, and disputes nothing', async () => {
      const s = await scene(ctx);
      const second = await scene2(ctx, s);
      const foreign = (await readStatement(ctx, s.payer, second)).lines[0]!.id;
      const res = await s.payerWriter.post(statementPath(s.payer, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id, foreign, 987654], reasonCode: 'other', comment });
      expectProblem(res, 422, 'invalid-reference');
      expect(res.body.errors).to.deep.equal([
        { path: 'body.lineIds.1', message: `line ${foreign} is not a line of statement ${s.statement}` },
        { path: 'body.lineIds.2', message: `line 987654 is not a line of statement ${s.statement}` },
      ]);
      expect(await ctx.db('held_lines').select()).to.deep.equal([]);
      expect(await ctx.db('disputes').select()).to.deep.equal([]);
    });

    it('rejects bad input with 400 naming every bad field', async () => {
      const s = await scene(ctx);
      const path = statementPath(s.payer, s.statement, '/disputes');
      const paths = async (body: unknown) => {
        const res = await s.payerWriter.post(path, body);
        expectProblem(res, 400, 'validation-failed');
        return (res.body.errors as { path: string; message: string }[]).map((e) => `${e.path}: ${e.message}`).sort();
      };
      expect(await paths({})).to.deep.equal(['body.comment: is required', 'body.lineIds: is required', 'body.reasonCode: is required']);
      expect(await paths({ lineIds: [], reasonCode: 'too-high', comment: '   ', extra: 1 })).to.deep.equal([
        'body.comment: must not be blank',
        'body.extra: unknown field',
        'body.lineIds: must name at least one line',
        'body.reasonCode: must be one of wrong-percentage, wrong-revenue, wrong-window, duplicate, other',
      ]);
      expect(await paths({ lineIds: [s.lines[0]!.id, 0, s.lines[0]!.id], reasonCode: 'other', comment: 'x'.repeat(2001) })).to.deep.equal([
        'body.comment: must be at most 2000 characters',
        'body.lineIds.1: must be a positive integer',
        `body.lineIds.2: line ${s.lines[0]!.id} is named twice`,
      ]);
      expect(await paths({ lineIds: Array.from({ length: 1001 }, (_, i) => i + 1), reasonCode: 'other', comment })).to.deep.equal(['body.lineIds: must name at most 1000 lines']);
      // A comment may span lines.
      const ok = await s.payerWriter.post(path, { lineIds: [s.lines[0]!.id], reasonCode: 'other', comment: 'First line.\nSecond line.' });
      expect(ok.status, JSON.stringify(ok.body)).to.equal(201);
    });
  });

  describe('resolve', () => {
    it('by the other party’s approver: rejected, the lines released and netted from now on; again: 409 not-open', async () => {
      const s = await scene(ctx);
      const dispute = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id, s.lines[1]!.id]);
      ctx.clock.set('2026-11-26T08:00:00.000Z');
      const res = await s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'The percentage was 10 % in October.' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.include({
        status: 'rejected',
        resolution: { by: 'payer-approver', date: '2026-11-26', outcome: 'rejected', reason: 'The percentage was 10 % in October.', correction: null },
      });
      const statement = await readStatement(ctx, s.earner, s.statement);
      expect(statement.heldAmount).to.equal('0.00');
      expect(statement.lines.slice(0, 2).map((l) => [l.disputeId, l.held])).to.deep.equal([
        [dispute.id, false],
        [dispute.id, false],
      ]);
      expectProblem(await s.payerApprover2.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'again' }), 409, 'not-open');
      expectProblem(await s.earnerWriter.post(disputePath(s.earner, dispute.id, '/withdraw')), 409, 'not-open');
      // Released lines may be disputed again.
      const again = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      expect((await readStatement(ctx, s.payer, s.statement)).lines[0]).to.deep.include({ disputeId: again.id, held: true });

      const events = await eventsOf(ctx, 'dispute.resolved');
      expect(events.map((e) => [e.data.id, e.data.status])).to.deep.equal([[dispute.id, 'rejected']]);
      expect((await auditOf(ctx, 'dispute', dispute.id)).map((a) => [a.action, a.key_name, a.reason])).to.deep.equal([
        ['open', 'earner-billing', null],
        ['resolve', 'payer-approver', 'The percentage was 10 % in October.'],
      ]);
    });

    it('four eyes: never the raising key (403 four-eyes), nor a key that may act for the raising party (403 forbidden), nor a writer', async () => {
      const s = await scene(ctx);
      const dispute = await openDispute(s.bothApprover, s.earner, s.statement, [s.lines[0]!.id]);
      const body = { outcome: 'rejected', reason: 'Right as it is.' };
      expectProblem(await s.bothApprover.post(disputePath(s.payer, dispute.id, '/resolve'), body), 403, 'four-eyes');
      expectProblem(await s.bothApprover2.post(disputePath(s.payer, dispute.id, '/resolve'), body), 403, 'forbidden');
      expectProblem(await s.earnerApprover.post(disputePath(s.earner, dispute.id, '/resolve'), body), 403, 'forbidden');
      expectProblem(await s.earnerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), body), 403, 'forbidden');
      expectProblem(await s.payerWriter.post(disputePath(s.payer, dispute.id, '/resolve'), body), 403, 'forbidden');
      expectProblem(await s.otherApprover.post(disputePath(s.other, dispute.id, '/resolve'), body), 404, 'not-found');
      expect((await ctx.get(disputePath(s.payer, dispute.id))).body.status).to.equal('open');
      const ok = await s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), body);
      expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
    });

    it('by an admin, unless that admin key raised it', async () => {
      const s = await scene(ctx);
      const admin2 = { ...ctx.as((await ctx.key('ops-admin', 'admin')).secret), name: 'ops-admin' };
      const dispute = await openDispute(admin2, s.payer, s.statement, [s.lines[0]!.id]);
      expectProblem(await admin2.post(disputePath(s.earner, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'x' }), 403, 'four-eyes');
      const res = await ctx.post(disputePath(s.earner, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'x' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
    });

    it('upheld names a correction: an amendment of a referral of the lines asked for after the dispute', async () => {
      const s = await scene(ctx);
      const amendments = `/v1/bunits/${s.payer}/referrals/${s.referral}/amendments`;
      const early = await ctx.post(amendments, { effectiveFrom: '2026-10-01', percentage: '12', reason: 'Agreed at 12 %' });
      expect(early.status, JSON.stringify(early.body)).to.equal(202);
      ctx.clock.advanceMs(1000);
      const dispute = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      const resolve = (body: object) => s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'upheld', reason: 'It was 12 %.', ...body });

      const none = await resolve({});
      expectProblem(none, 422, 'correction-required');
      const before = await resolve({ changeRequestId: early.body.id });
      expectProblem(before, 422, 'correction-required');
      expect(before.body.errors).to.deep.equal([{ path: 'body.changeRequestId', message: `amendment ${early.body.id} was asked for before the dispute was opened` }]);
      expectProblem(await resolve({ changeRequestId: 999 }), 422, 'correction-required');

      await ctx.post(`/v1/bunits/${s.payer}/change-requests/${early.body.id}/withdraw`).expect(200);
      ctx.clock.advanceMs(1000);
      const amendment = await ctx.post(amendments, { effectiveFrom: '2026-10-01', percentage: '12', reason: 'Agreed at 12 %' });
      expect(amendment.status).to.equal(202);
      const res = await resolve({ changeRequestId: amendment.body.id });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.resolution).to.deep.include({ outcome: 'upheld', correction: { changeRequestId: amendment.body.id, revenueLineId: null } });
      expect(res.body.status).to.equal('upheld');
      // The statement itself never changes.
      const statement = await readStatement(ctx, s.payer, s.statement);
      expect(statement.lines.map((l) => l.amount)).to.deep.equal(s.lines.map((l) => l.amount));
    });

    it('upheld with a credit note: negative, on a contract of the lines, created after the dispute; any other answers 422 naming it', async () => {
      const s = await scene(ctx);
      const elsewhere = await createContract(ctx, s.payer, { number: 'C-2', startDate: '2026-01-01' });
      ctx.clock.advanceMs(1000);
      const dispute = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      ctx.clock.advanceMs(1000);
      const [credit] = await ingest(ctx, s.payer, s.contract, [{ externalId: 'CN-1', amount: '-1000.00', periodStart: '2026-11-01', periodEnd: '2026-11-30' }]);
      const [positive] = await ingest(ctx, s.payer, s.contract, [{ externalId: 'INV-9', amount: '10.00', periodStart: '2026-11-01', periodEnd: '2026-11-30' }]);
      const [foreign] = await ingest(ctx, s.payer, elsewhere, [{ externalId: 'CN-2', amount: '-5.00', periodStart: '2026-11-01', periodEnd: '2026-11-30' }]);
      const resolve = (body: object) => s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'upheld', reason: 'Credited.', ...body });

      const notNegative = await resolve({ revenueLineId: positive });
      expectProblem(notNegative, 422, 'correction-required');
      expect(notNegative.body.errors[0].message).to.equal(`revenue line ${positive} is not a credit note (its amount 10.00 is not negative)`);
      const wrongContract = await resolve({ revenueLineId: foreign });
      expectProblem(wrongContract, 422, 'correction-required');
      expect(wrongContract.body.errors[0].message).to.equal(`revenue line ${foreign} is on contract ${elsewhere}, which none of the disputed lines is on`);
      const settledCredit = (await ctx.db('revenue_lines').where({ external_id: 'INV-3' }).first()).id as number;
      const old = await resolve({ revenueLineId: settledCredit });
      expectProblem(old, 422, 'correction-required');
      expect(old.body.errors[0].message).to.match(/was created before the dispute was opened/);
      expect((await ctx.get(disputePath(s.payer, dispute.id))).body.status).to.equal('open');

      const res = await resolve({ revenueLineId: credit });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.resolution.correction).to.deep.equal({ changeRequestId: null, revenueLineId: credit });
    });

    it('rejected names no correction (400), and every bad field is named', async () => {
      const s = await scene(ctx);
      const dispute = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      const res = await s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'x', revenueLineId: 5 });
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors).to.deep.equal([{ path: 'body.revenueLineId', message: 'only an upheld dispute names a correction' }]);
      const bad = await s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'maybe', changeRequestId: 'x' });
      expectProblem(bad, 400, 'validation-failed');
      expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).to.deep.equal(['body.changeRequestId', 'body.outcome', 'body.reason']);
    });
  });

  describe('withdraw', () => {
    it('by the raising key or an admin: withdrawn, the lines released; another key: 403', async () => {
      const s = await scene(ctx);
      const dispute = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      expectProblem(await s.earnerApprover.post(disputePath(s.earner, dispute.id, '/withdraw')), 403, 'forbidden');
      expectProblem(await s.payerWriter.post(disputePath(s.payer, dispute.id, '/withdraw')), 403, 'forbidden');
      expectProblem(await s.reader.post(disputePath(s.earner, dispute.id, '/withdraw')), 403, 'forbidden');
      const res = await s.earnerWriter.post(disputePath(s.earner, dispute.id, '/withdraw'), { reason: 'Raised on the wrong statement.' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.include({
        status: 'withdrawn',
        resolution: { by: 'earner-billing', date: '2026-11-23', outcome: 'withdrawn', reason: 'Raised on the wrong statement.', correction: null },
      });
      expect((await readStatement(ctx, s.payer, s.statement)).heldAmount).to.equal('0.00');
      expectProblem(await s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'x' }), 409, 'not-open');

      const second = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      expect((await ctx.post(disputePath(s.payer, second.id, '/withdraw'))).status).to.equal(200);
      expect((await eventsOf(ctx, 'dispute.withdrawn')).map((e) => e.data.id)).to.deep.equal([dispute.id, second.id]);
    });
  });

  describe('lists and reading', () => {
    it('shows each dispute to both parties, filtered by status and statement; 404 to anyone else', async () => {
      const s = await scene(ctx);
      const second = await scene2(ctx, s);
      const a = await openDispute(s.earnerWriter, s.earner, s.statement, [s.lines[0]!.id]);
      const b = await openDispute(s.payerWriter, s.payer, s.statement, [s.lines[1]!.id]);
      const c = await openDispute(s.payerWriter, s.payer, second, [(await readStatement(ctx, s.payer, second)).lines[0]!.id]);
      await s.payerApprover.post(disputePath(s.payer, a.id, '/resolve'), { outcome: 'rejected', reason: 'x' }).expect(200);

      const ids = async (agent: KeyedAgent | ApiContext, bunit: number, query = '') => {
        const res = await agent.get(`/v1/bunits/${bunit}/disputes${query}`);
        expect(res.status, JSON.stringify(res.body)).to.equal(200);
        return (res.body.data as Dispute[]).map((d) => d.id);
      };
      expect(await ids(s.reader, s.payer)).to.deep.equal([a.id, b.id, c.id]);
      expect(await ids(s.reader, s.earner)).to.deep.equal([a.id, b.id]);
      expect(await ids(s.reader, s.payer, '?status=open')).to.deep.equal([b.id, c.id]);
      expect(await ids(s.reader, s.payer, `?statementId=${second}`)).to.deep.equal([c.id]);
      expect(await ids(s.reader, s.payer, '?sort=-createdDate&limit=1')).to.have.length(1);
      expect(await ids(s.otherApprover, s.other)).to.deep.equal([]);

      const one = await s.earnerApprover.get(disputePath(s.earner, b.id));
      expect(one.status).to.equal(200);
      expect(one.body).to.deep.include({ id: b.id, bunitId: s.payer, lineIds: [s.lines[1]!.id], status: 'open' });
      expectProblem(await s.earnerApprover.get(disputePath(s.earner, c.id)), 404, 'not-found');
      expectProblem(await s.otherApprover.get(disputePath(s.other, a.id)), 404, 'not-found');
      expectProblem(await ctx.get(`/v1/bunits/${s.payer}/disputes?status=closed&statementId=x`), 400, 'validation-failed');
    });
  });

  describe('whole or nothing, at the limit', () => {
    it('a dispute over 1000 lines is recorded whole; with one line that is not on the statement, or held, nothing is', async () => {
      const s = await scene(ctx);
      const big = await createContract(ctx, s.payer, { number: 'C-BIG', startDate: '2026-01-01' });
      await createReferral(ctx, s.payer, big, s.other, { percentage: '5', billingStartDate: '2026-10-01' });
      for (const batch of [0, 1]) {
        await ingest(
          ctx,
          s.payer,
          big,
          Array.from({ length: batch === 0 ? 1000 : 1 }, (_, i) => ({ externalId: `B-${batch}-${i}`, amount: `${10 + i}.00`, periodStart: '2026-10-01', periodEnd: '2026-10-31' })),
        );
      }
      await settle(ctx);
      const listed = (await ctx.get(`/v1/bunits/${s.other}/statements`)).body.data as Statement[];
      const statement = await readStatement(ctx, s.other, listed[0]!.id);
      expect(statement.lines).to.have.length(1001);
      const ids = statement.lines.map((l) => l.id);
      const path = statementPath(s.other, statement.id, '/disputes');
      const agent = { ...ctx.as((await ctx.key('other-billing', 'write', [s.other])).secret) };

      expectProblem(await agent.post(path, { lineIds: [...ids.slice(0, 999), s.lines[0]!.id], reasonCode: 'other', comment }), 422, 'invalid-reference');
      const one = await openDispute(agent, s.other, statement.id, [ids[999]!]);
      expectProblem(await agent.post(path, { lineIds: ids.slice(0, 1000), reasonCode: 'other', comment }), 409, 'line-disputed');
      expect(Number((await ctx.db('dispute_lines').count({ n: '*' }).first())!.n)).to.equal(1);
      expect(Number((await ctx.db('held_lines').count({ n: '*' }).first())!.n)).to.equal(1);

      await agent.post(disputePath(s.other, one.id, '/withdraw')).expect(200);
      const whole = await agent.post(path, { lineIds: ids.slice(1, 1001), reasonCode: 'duplicate', comment });
      expect(whole.status, JSON.stringify(whole.body).slice(0, 300)).to.equal(201);
      expect(whole.body.lineIds).to.have.length(1000);
      const expected = sum(statement.lines.slice(1).map((l) => l.amount));
      expect(whole.body.amount).to.equal(cents(expected));
      const after = await readStatement(ctx, s.other, statement.id);
      expect(after.heldAmount).to.equal(cents(expected));
      expect(after.lines.filter((l) => l.held)).to.have.length(1000);
    });
  });

  describe('races: exactly one wins', () => {
    it('two disputes over the same line at once: one is opened, the other answers 409 line-disputed', async () => {
      const s = await scene(ctx);
      for (const line of s.lines) {
        const results = await Promise.all([
          s.earnerWriter.post(statementPath(s.earner, s.statement, '/disputes'), { lineIds: [line.id], reasonCode: 'other', comment }),
          s.payerWriter.post(statementPath(s.payer, s.statement, '/disputes'), { lineIds: [line.id], reasonCode: 'duplicate', comment }),
        ]);
        expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409]);
        expect(results.find((r) => r.status === 409)!.body.code).to.equal('line-disputed');
      }
      expect(Number((await ctx.db('disputes').count({ n: '*' }).first())!.n)).to.equal(3);
      expect(Number((await ctx.db('held_lines').count({ n: '*' }).first())!.n)).to.equal(3);
      expect(await eventsOf(ctx, 'dispute.opened')).to.have.length(3);
    });

    it('a dispute raced against an acceptance: both are recorded, once each, whatever the order', async () => {
      const s = await scene(ctx);
      const [accept, dispute, accept2] = await Promise.all([
        s.payerApprover.post(statementPath(s.payer, s.statement, '/accept')),
        s.earnerWriter.post(statementPath(s.earner, s.statement, '/disputes'), { lineIds: [s.lines[0]!.id], reasonCode: 'other', comment }),
        s.payerApprover2.post(statementPath(s.payer, s.statement, '/accept')),
      ]);
      expect([accept.status, dispute.status, accept2.status]).to.deep.equal([200, 201, 200]);
      const statement = await readStatement(ctx, s.payer, s.statement);
      expect(statement).to.deep.include({ status: 'accepted', heldAmount: s.lines[0]!.amount });
      expect(await eventsOf(ctx, 'statement.accepted')).to.have.length(1);
      expect(await eventsOf(ctx, 'dispute.opened')).to.have.length(1);
    });

    it('a resolution raced against a withdrawal and another resolution: one ends the dispute, the others answer 409 not-open', async () => {
      const s = await scene(ctx);
      const dispute = await openDispute(s.earnerApprover, s.earner, s.statement, [s.lines[0]!.id]);
      const results = await Promise.all([
        s.payerApprover.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'x' }),
        s.earnerApprover.post(disputePath(s.earner, dispute.id, '/withdraw')),
        s.payerApprover2.post(disputePath(s.payer, dispute.id, '/resolve'), { outcome: 'rejected', reason: 'y' }),
      ]);
      expect(results.filter((r) => r.status === 200)).to.have.length(1);
      for (const r of results.filter((x) => x.status !== 200)) expectProblem(r, 409, 'not-open');
      const ended = [...(await eventsOf(ctx, 'dispute.resolved')), ...(await eventsOf(ctx, 'dispute.withdrawn'))];
      expect(ended).to.have.length(1);
    });
  });
});

/** Another statement of the same payer: a contract referred by a new unit, settled through October. */
async function scene2(ctx: ApiContext, s: Scene, code = 'SECOND'): Promise<number> {
  const unit = await createBunit(ctx, code);
  const contract = await createContract(ctx, s.payer, { number: `C-${code}`, startDate: '2026-01-01' });
  await createReferral(ctx, s.payer, contract, unit, { percentage: '20', billingStartDate: '2026-10-01' });
  await ingest(ctx, s.payer, contract, [{ externalId: `${code}-1`, amount: '500.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
  await settle(ctx);
  const listed = (await ctx.get(`/v1/bunits/${unit}/statements`)).body.data as Statement[];
  return listed[0]!.id;
}
