import { expect } from 'chai';
import { describeApi, type ApiContext, type KeyedAgent } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, referralBody } from '../helpers/fixtures';
import { SettlementService } from '../../src/services/settlement.service';

/**
 * Amendments (SPEC §12): corrections of settled terms, decided by another key, settled as the
 * difference in the next run. HQ owns an EUR contract that NORDICS refers; the clock stands at
 * 2026-11-23T12:00Z (October is settled, November runs to yesterday).
 */
interface Scene {
  hq: number;
  nordics: number;
  contract: number;
  maker: KeyedAgent;
  checker: KeyedAgent;
}

async function scene(ctx: ApiContext): Promise<Scene> {
  const hq = await createBunit(ctx, 'HQ');
  const nordics = await createBunit(ctx, 'NORDICS');
  const contract = await createContract(ctx, hq, { number: 'C-1', startDate: '2026-01-01' });
  const maker = ctx.as((await ctx.key('hq-billing', 'write', [hq])).secret);
  const checker = ctx.as((await ctx.key('hq-finance', 'approver', [hq])).secret);
  return { hq, nordics, contract, maker, checker };
}

const amendmentsOf = (s: Scene, referral: number) => `/v1/bunits/${s.hq}/referrals/${referral}/amendments`;
const approve = async (s: Scene, cr: { id: number }) => {
  const res = await s.checker.post(`/v1/bunits/${s.hq}/change-requests/${cr.id}/approve`, {});
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body;
};

async function ingest(ctx: ApiContext, s: Scene, lines: object[]) {
  const res = await ctx.post(`/v1/bunits/${s.hq}/contracts/${s.contract}/revenue`, { lines });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.data as { id: number }[];
}

async function settle(ctx: ApiContext, through = '2026-10-31') {
  const res = await ctx.post('/v1/settlement-runs', { through });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as { id: number; lineCount: number; totals: { currency: string; amount: string }[] };
}

interface Line {
  id: number;
  kind: string;
  revenueLineId: number;
  referralId: number;
  exactAmount: string;
  amount: string;
  billableDays: number;
  adjusts: { statementId: number; lineId: number } | null;
}

async function statementOf(ctx: ApiContext, s: Scene, runId: number) {
  const list = await ctx.get(`/v1/bunits/${s.hq}/statements?runId=${runId}`);
  expect(list.body.data).to.have.length(1);
  return (await ctx.get(`/v1/bunits/${s.hq}/statements/${list.body.data[0].id}`)).body as { id: number; total: string; lines: Line[] };
}

describeApi('amendments (SPEC §12)', (ctx) => {
  let s: Scene;
  beforeEach(async () => {
    s = await scene(ctx);
  });

  describe('asking for one', () => {
    it('answers 202 with a change request of kind amend, the reason from the body; the referral shows it pending', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '12.5', billingStartDate: '2026-10-01' });
      const res = await s.maker.post(amendmentsOf(s, r.id), { effectiveFrom: '2026-10-01', percentage: '15', reason: 'Agreed at 15 %, entered as 12.5 %' });
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.headers.location).to.equal(`/v1/bunits/${s.hq}/change-requests/${res.body.id}`);
      expect(res.body).to.deep.include({
        kind: 'amend',
        status: 'pending',
        referralId: r.id,
        reason: 'Agreed at 15 %, entered as 12.5 %',
        requestedBy: 'hq-billing',
        proposed: { effectiveFrom: '2026-10-01', percentage: '15' },
      });
      const referral = (await ctx.get(`/v1/bunits/${s.hq}/referrals/${r.id}`)).body;
      expect(referral).to.deep.include({ percentage: '12.5', pendingChange: { id: res.body.id, kind: 'amend', requestedDate: '2026-11-23T12:00:00.000Z' } });
      // One pending request per referral.
      expectProblem(await ctx.put(`/v1/bunits/${s.hq}/referrals/${r.id}`, { contract: { id: s.contract }, referrer: { id: s.nordics }, percentage: '20' }), 409, 'change-pending');
    });

    it('needs a reason and at least one term; effectiveFrom goes with a percentage; bad dates and decimals are 400', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { billingStartDate: '2026-10-01' });
      const paths = async (body: object) => {
        const res = await s.maker.post(amendmentsOf(s, r.id), body);
        expectProblem(res, 400, 'validation-failed');
        return (res.body.errors as { path: string }[]).map((e) => e.path).sort();
      };
      expect(await paths({ percentage: '15' })).to.deep.equal(['body.reason']);
      expect(await paths({ reason: 'x' })).to.deep.equal(['body.percentage']);
      expect(await paths({ effectiveFrom: '2026-10-01', billingEndDate: '2026-12-31', reason: 'x' })).to.deep.equal(['body.effectiveFrom']);
      expect(await paths({ percentage: '15.12345', billingStartDate: '2026-02-30', reason: '' })).to.deep.equal(['body.billingStartDate', 'body.percentage', 'body.reason']);
      expect(await paths({ billingStartDate: '2026-10-10', billingEndDate: '2026-10-01', reason: 'x' })).to.deep.equal(['body.billingEndDate']);
      expect(await paths({ percentage: '12', effectiveFrom: '2026-09-01', reason: 'before the start' })).to.deep.equal(['body.effectiveFrom']);
      expect(await paths({ percentage: '10', reason: 'changes nothing' })).to.deep.equal(['body']);
    });

    it('is the owner’s to ask (the referrer gets 403), and is a change request in mode none too, decided by another key', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { billingStartDate: '2026-10-01' });
      const referrerKey = ctx.as((await ctx.key('nordics-billing', 'write', [s.nordics])).secret);
      expectProblem(await referrerKey.post(`/v1/bunits/${s.nordics}/referrals/${r.id}/amendments`, { percentage: '20', reason: 'x' }), 403, 'forbidden');
      const cr = (await s.maker.post(amendmentsOf(s, r.id), { percentage: '20', reason: 'x' })).body;
      expectProblem(await s.maker.post(`/v1/bunits/${s.hq}/change-requests/${cr.id}/approve`, {}), 403, 'forbidden');
      // The admin key did not ask: it may decide.
      expect((await ctx.post(`/v1/bunits/${s.hq}/change-requests/${cr.id}/approve`, {})).status).to.equal(200);
    });

    it('refuses corrected terms that would over-allocate a day (R5) or overlap the referrer’s other referral (R4), on past days too', async () => {
      const alice = await createBunit(ctx, 'ALICE');
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '41', billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' });
      await createReferral(ctx, s.hq, s.contract, alice, { percentage: '60', billingStartDate: '2026-09-01', billingEndDate: '2026-09-30' });
      await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-11-01' });
      const over = await s.maker.post(amendmentsOf(s, r.id), { billingStartDate: '2026-09-15', reason: 'started earlier' });
      expectProblem(over, 409, 'over-allocated');
      expect(over.body.detail).to.include('2026-09-15');
      expectProblem(await s.maker.post(amendmentsOf(s, r.id), { billingEndDate: '2026-11-15', reason: 'ended later' }), 409, 'overlapping-referral');
      expect((await ctx.get(`/v1/bunits/${s.hq}/change-requests`)).body.meta.total).to.equal(0);
    });
  });

  describe('approved, and settled as the difference', () => {
    it('a percentage corrected from October: the terms show it, the audit keeps what they were, the next run adds the difference as an adjustment', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '12.5', billingStartDate: '2026-10-01' });
      const [oct] = await ingest(ctx, s, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
      const first = await settle(ctx);
      const firstStatement = await statementOf(ctx, s, first.id);
      expect(firstStatement.total).to.equal('387.50');

      const cr = (await s.maker.post(amendmentsOf(s, r.id), { effectiveFrom: '2026-10-01', percentage: '15', reason: 'Agreed at 15 %' })).body;
      await approve(s, cr);
      const referral = (await ctx.get(`/v1/bunits/${s.hq}/referrals/${r.id}`)).body;
      expect(referral.percentageHistory).to.deep.equal([{ from: '2026-10-01', to: null, percentage: '15' }]);
      expect(referral).to.deep.include({ percentage: '15', pendingChange: null });
      const history = (await ctx.get(`/v1/bunits/${s.hq}/referrals/${r.id}/history`)).body.data as { action: string; reason: string; changes: { field: string; from: unknown; to: unknown }[] }[];
      const amended = history.find((h) => h.action === 'amend')!;
      expect(amended.reason).to.equal('Agreed at 15 %');
      expect(amended.changes.find((c) => c.field === 'percentageHistory')).to.deep.equal({
        field: 'percentageHistory',
        from: [{ from: '2026-10-01', to: null, percentage: '12.5' }],
        to: [{ from: '2026-10-01', to: null, percentage: '15' }],
      });
      expect(history.map((h) => h.action)).to.deep.equal(['create', 'request-amend', 'amend', 'approve']);

      const second = await settle(ctx);
      expect(second.totals).to.deep.equal([{ currency: 'EUR', amount: '77.50' }]);
      const adjustment = await statementOf(ctx, s, second.id);
      expect(adjustment.lines).to.have.length(1);
      expect(adjustment.lines[0]).to.deep.include({
        kind: 'adjustment',
        revenueLineId: oct!.id,
        referralId: r.id,
        exactAmount: '77.5',
        amount: '77.50',
        billableDays: 31,
        adjusts: { statementId: firstStatement.id, lineId: firstStatement.lines[0]!.id },
      });
      // Settled once: a rerun adds nothing; the settled lines never changed.
      expect((await settle(ctx)).lineCount).to.equal(0);
      expect((await statementOf(ctx, s, first.id)).lines).to.deep.equal(firstStatement.lines);
    });

    it('an end moved back into settled days is a clawback: a statement that totals less than zero', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01' });
      await ingest(ctx, s, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
      await settle(ctx);
      await approve(s, (await s.maker.post(amendmentsOf(s, r.id), { billingEndDate: '2026-10-15', reason: 'Should have ended mid-October' })).body);
      const clawback = await settle(ctx);
      expect(clawback.totals).to.deep.equal([{ currency: 'EUR', amount: '-160.00' }]);
      const statement = await statementOf(ctx, s, clawback.id);
      expect(statement.lines[0]).to.deep.include({ kind: 'adjustment', exactAmount: '-160', amount: '-160.00', billableDays: 15 });
      // R9 follows the corrected terms: the end may now stay on the 15th.
      expect((await ctx.get(`/v1/bunits/${s.hq}/referrals/${r.id}`)).body.billingEndDate).to.equal('2026-10-15');
    });

    it('a start moved earlier over a pair that had no billable day: an adjustment with adjusts null', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-16' });
      const [early] = await ingest(ctx, s, [{ externalId: 'EARLY', amount: '100', periodStart: '2026-10-01', periodEnd: '2026-10-10' }]);
      expect((await settle(ctx)).lineCount, 'no billable day: settled with no line').to.equal(0);
      await approve(s, (await s.maker.post(amendmentsOf(s, r.id), { billingStartDate: '2026-10-01', reason: 'Started with the contract' })).body);
      const run = await settle(ctx);
      const statement = await statementOf(ctx, s, run.id);
      expect(statement.lines).to.have.length(1);
      expect(statement.lines[0]).to.deep.include({ kind: 'adjustment', revenueLineId: early!.id, exactAmount: '10', adjusts: null });
    });

    it('an archived referral can be corrected for the days before its archive day, not from it on', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01' });
      await ingest(ctx, s, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
      await settle(ctx);
      ctx.clock.set('2026-11-10T09:00:00.000Z');
      expect((await ctx.del(`/v1/bunits/${s.hq}/referrals/${r.id}`)).status).to.equal(204);
      ctx.clock.set('2026-11-23T12:00:00.000Z');
      expectProblem(await s.maker.post(amendmentsOf(s, r.id), { effectiveFrom: '2026-11-10', percentage: '20', reason: 'late' }), 409, 'archived');
      expectProblem(await s.maker.post(amendmentsOf(s, r.id), { billingStartDate: '2026-11-12', reason: 'late' }), 409, 'archived');
      await approve(s, (await s.maker.post(amendmentsOf(s, r.id), { effectiveFrom: '2026-10-16', percentage: '20', reason: 'Raised mid-October' })).body);
      const run = await settle(ctx);
      // 16 of 31 days at 10 % more: 3100 × 16/31 × 10 % = 160.
      expect(run.totals).to.deep.equal([{ currency: 'EUR', amount: '160.00' }]);
    });

    it('a dry run shows the adjustments, the billing windows the corrected terms', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01' });
      await ingest(ctx, s, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
      await settle(ctx);
      await approve(s, (await s.maker.post(amendmentsOf(s, r.id), { effectiveFrom: '2026-10-11', percentage: '12', reason: 'x' })).body);
      const dry = await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true });
      expect(dry.status).to.equal(200);
      expect(dry.body.statements[0].lines.map((l: Line) => [l.kind, l.exactAmount, l.id])).to.deep.equal([['adjustment', '42', null]]);
      const windows = await ctx.get(`/v1/bunits/${s.hq}/billing-windows?from=2026-10-01&to=2026-10-31`);
      expect(windows.body.data[0].segments).to.deep.equal([
        { from: '2026-10-01', to: '2026-10-10', days: 10, percentage: '10' },
        { from: '2026-10-11', to: '2026-10-31', days: 21, percentage: '12' },
      ]);
      expect((await settle(ctx)).totals).to.deep.equal(dry.body.totals);
    });

    it('the run export and the CSV carry kind and adjusts', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01' });
      await ingest(ctx, s, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
      const first = await settle(ctx);
      const firstLine = (await statementOf(ctx, s, first.id)).lines[0]!;
      await approve(s, (await s.maker.post(amendmentsOf(s, r.id), { percentage: '11', reason: 'x' })).body);
      const second = await settle(ctx);
      const csv = await ctx.get(`/v1/settlement-runs/${second.id}/statements`).set('Accept', 'text/csv');
      const [header, row] = csv.text.trim().split('\r\n');
      const cells = Object.fromEntries(header!.split(',').map((h, i) => [h, row!.split(',')[i]]));
      expect(cells).to.deep.include({ kind: 'adjustment', exactAmount: '31', amount: '31.00', adjustsLineId: String(firstLine.id) });
    });
  });

  describe('the terms in force, however they changed', () => {
    it('a PUT that moves the end later over a settled period (R9 allows it): the next run adds the days it now earns as an adjustment', async () => {
      const r = await createReferral(ctx, s.hq, s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01', billingEndDate: '2026-10-20' });
      await ingest(ctx, s, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
      const first = await settle(ctx);
      expect(first.totals).to.deep.equal([{ currency: 'EUR', amount: '200.00' }]);
      const put = await ctx.put(`/v1/bunits/${s.hq}/referrals/${r.id}`, referralBody(s.contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' }));
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const second = await settle(ctx);
      expect(second.totals).to.deep.equal([{ currency: 'EUR', amount: '110.00' }]);
      const lines = (await statementOf(ctx, s, second.id)).lines;
      expect(lines.map((l) => [l.kind, l.exactAmount, l.billableDays])).to.deep.equal([['adjustment', '110', 31]]);
      // A percentage a PUT changes takes effect today (R8), after every settled day: nothing to adjust.
      const raise = await ctx.put(`/v1/bunits/${s.hq}/referrals/${r.id}`, referralBody(s.contract, s.nordics, { percentage: '20', billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' }));
      expect(raise.status, JSON.stringify(raise.body)).to.equal(200);
      expect((await settle(ctx)).lineCount).to.equal(0);
    });
  });

  describe('approved while a run executes', () => {
    /** The run export's lines of one run, as CSV cells by column. */
    async function exportedLines(runId: number) {
      const csv = await ctx.get(`/v1/settlement-runs/${runId}/statements`).set('Accept', 'text/csv');
      expect(csv.status).to.equal(200);
      const [header, ...rows] = csv.text.trim().split('\r\n');
      const columns = header!.split(',');
      return rows.map((row) => Object.fromEntries(row.split(',').map((cell, i) => [columns[i]!, cell])));
    }

    // Twelve contracts, each a partition of its own, each referred at 10 %; the fourth one's referral
    // is corrected to 15 % from October. Its approval lands after 2 partitions (just before its own
    // partition) or after 3 (just after it), while the run goes on.
    for (const after of [2, 3]) {
      it(`approved after ${after} of 12 partitions: the run sees the correction for all pairs of the referral or for none`, async () => {
        const contracts = [s.contract];
        for (let i = 2; i <= 12; i++) contracts.push(await createContract(ctx, s.hq, { number: `C-${i}` }));
        const referrals: number[] = [];
        const days = Array.from({ length: 20 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`);
        for (const contract of contracts) {
          referrals.push((await createReferral(ctx, s.hq, contract, s.nordics, { percentage: '10', billingStartDate: '2026-10-01' })).id);
          const lines = days.map((day) => ({ externalId: `D-${day}`, amount: '100', periodStart: day, periodEnd: day }));
          expect((await ctx.post(`/v1/bunits/${s.hq}/contracts/${contract}/revenue`, { lines })).status).to.equal(201);
        }
        const target = referrals[3]!;
        const first = await settle(ctx, '2026-10-10');
        expect(first.lineCount).to.equal(12 * 10);
        const cr = (await s.maker.post(amendmentsOf(s, target), { effectiveFrom: '2026-10-01', percentage: '15', reason: 'Agreed at 15 %' })).body;

        const settlement = new SettlementService({ ...ctx.services.ctx, partitionLines: 1 });
        let runId = 0;
        let approval: Promise<{ status: number; runStatus: string }> | undefined;
        const run = await settlement.run({ through: '2026-10-20' }, { keyId: null, name: 'nightly', role: 'admin', bunitIds: 'all' }, {
          onRunCreated: async (id) => (runId = id),
          onProgress: ({ partitionsDone, partitionsTotal }) => {
            expect(partitionsTotal).to.equal(12);
            if (partitionsDone !== after || approval) return;
            approval = (async () => {
              const res = await s.checker.post(`/v1/bunits/${s.hq}/change-requests/${cr.id}/approve`, {});
              return { status: res.status, runStatus: (await ctx.get(`/v1/settlement-runs/${runId}`)).body.status };
            })();
          },
        });
        expect(run.status).to.equal('completed');
        expect(await approval).to.deep.equal({ status: 200, runStatus: 'running' });

        const second = (await exportedLines(run.id)).filter((l) => Number(l.referralId) === target);
        const shares = second.filter((l) => l.kind === 'share');
        const adjustments = second.filter((l) => l.kind === 'adjustment');
        expect(shares).to.have.length(10);
        const saw = shares[0]!.exactAmount === '15';
        // All or none: every new share at the corrected 15 % and every settled pair adjusted by 5, or
        // every new share at 10 % and no adjustment (the next run makes the difference good).
        expect(shares.map((l) => l.exactAmount)).to.deep.equal(Array(10).fill(saw ? '15' : '10'));
        expect(adjustments.map((l) => l.exactAmount)).to.deep.equal(saw ? Array(10).fill('5') : []);

        const third = await settle(ctx, '2026-10-20');
        const exported = [first.id, run.id, third.id].map((id) => exportedLines(id));
        const all = (await Promise.all(exported)).flat().filter((l) => Number(l.referralId) === target);
        const byPair = new Map<string, number>();
        for (const l of all) byPair.set(l.revenueLineId!, (byPair.get(l.revenueLineId!) ?? 0) + Number(l.exactAmount));
        expect([...byPair.values()]).to.deep.equal(Array(20).fill(15));
        // The other referrals were never touched: one share line per pair, at 10 %.
        const others = (await Promise.all([first.id, run.id, third.id].map((id) => exportedLines(id)))).flat().filter((l) => Number(l.referralId) !== target);
        expect(others).to.have.length(11 * 20);
        expect(new Set(others.map((l) => `${l.kind} ${l.exactAmount}`))).to.deep.equal(new Set(['share 10']));
      });
    }
  });
});
