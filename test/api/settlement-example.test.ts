import { expect } from 'chai';
import { describeApi } from '../helpers/api';
import { createBunit, createContract, createReferral } from '../helpers/fixtures';

describeApi('settlement: the worked example of SPEC §10', (ctx) => {
  it('settles F1, F2 × L1, L2 through 2026-10-31 into exactly the statements of the spec', async () => {
    const bu1 = await createBunit(ctx, 'BU-ONE');
    const bu2 = await createBunit(ctx, 'BU-TWO');
    const bu3 = await createBunit(ctx, 'BU-THREE');
    const c = await createContract(ctx, bu1, { number: 'C', currency: 'EUR', startDate: '2026-10-01' });
    const f1 = await createReferral(ctx, bu1, c, bu2, { percentage: '12.5', billingStartDate: '2026-10-01', billingEndDate: '2026-10-20' });
    const f2 = await createReferral(ctx, bu1, c, bu3, { percentage: 10, billingStartDate: '2026-10-01' });
    const ingest = await ctx.post(`/v1/bunits/${bu1}/contracts/${c}/revenue`, {
      lines: [
        { externalId: 'L1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
        { externalId: 'L2', amount: '-100.00', date: '2026-10-15' },
      ],
    });
    expect(ingest.status, JSON.stringify(ingest.body)).to.equal(201);
    const [l1, l2] = ingest.body.data.map((l: { id: number }) => l.id);

    const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(run.status, JSON.stringify(run.body)).to.equal(201);
    expect(run.body).to.deep.include({ through: '2026-10-31', dryRun: false, statementCount: 2, lineCount: 4 });
    expect(run.body.totals).to.deep.equal([{ currency: 'EUR', amount: '519.44' }]);

    const list = await ctx.get(`/v1/bunits/${bu1}/statements?role=payer&runId=${run.body.id}`);
    expect(list.body.meta.total).to.equal(2);
    const byReferrer = new Map(list.body.data.map((s: { referrer: { id: number }; id: number }) => [s.referrer.id, s.id]));

    const s2 = await ctx.get(`/v1/bunits/${bu1}/statements/${byReferrer.get(bu2)}`);
    expect(s2.body).to.deep.include({ currency: 'EUR', total: '229.44', lineCount: 2 });
    expect(s2.body.payer).to.deep.equal({ id: bu1, code: 'BU-ONE', name: 'BU-ONE unit' });
    const lines2 = s2.body.lines.map((l: Record<string, unknown>) => [l.revenueLineId, l.referralId, l.billableDays, l.exactAmount, l.amount]);
    expect(lines2).to.have.deep.members([
      [l1, f1.id, 20, '241.93548387096774193548', '241.94'],
      [l2, f1.id, 1, '-12.5', '-12.50'],
    ]);

    const s3 = await ctx.get(`/v1/bunits/${bu3}/statements/${byReferrer.get(bu3)}`);
    expect(s3.body).to.deep.include({ total: '290.00', lineCount: 2 });
    expect(s3.body.lines.map((l: { amount: string }) => l.amount)).to.have.members(['300.00', '-10.00']);
    expect(s3.body.lines.find((l: { revenueLineId: number }) => l.revenueLineId === l1)).to.deep.include({
      periodStart: '2026-10-01',
      periodEnd: '2026-10-31',
      periodDays: 31,
      billableDays: 31,
      revenueAmount: '3000.00',
      exactAmount: '300',
      referralId: f2.id,
      contractId: c,
    });

    const csv = await ctx.get(`/v1/bunits/${bu1}/statements/${byReferrer.get(bu2)}`).set('Accept', 'text/csv');
    expect(csv.headers['content-type']).to.match(/^text\/csv/);
    const rows = csv.text.trim().split('\r\n');
    expect(rows[0]).to.equal('id,kind,revenueLineId,referralId,contractId,periodStart,periodEnd,periodDays,billableDays,revenueAmount,exactAmount,amount,adjustsStatementId,adjustsLineId,disputeId,held');
    expect(rows).to.have.length(3);
    expect(rows.slice(1).some((r) => r.endsWith(',241.93548387096774193548,241.94,,,,false'))).to.equal(true);

    const rerun = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
    expect(rerun.status).to.equal(201);
    expect(rerun.body).to.deep.include({ statementCount: 0, lineCount: 0, totals: [] });
  });
});
