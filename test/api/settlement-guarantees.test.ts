import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { isUniqueViolation } from '../../src/db';
import { describeApi, type ApiContext } from '../helpers/api';
import { createContract, createReferral, expectProblem, world } from '../helpers/fixtures';

async function ingest(ctx: ApiContext, owner: number, contract: number, lines: object[]) {
  const res = await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.data as { id: number }[];
}

async function settle(ctx: ApiContext, body: object = { through: '2026-10-31' }) {
  const res = await ctx.post('/v1/settlement-runs', body);
  expect(res.status, JSON.stringify(res.body)).to.be.oneOf([200, 201]);
  return res.body;
}

async function statementLines(ctx: ApiContext, bunit: number, runId: number) {
  const list = await ctx.get(`/v1/bunits/${bunit}/statements?runId=${runId}`);
  const out: Record<string, unknown>[] = [];
  for (const s of list.body.data) out.push(...(await ctx.get(`/v1/bunits/${bunit}/statements/${s.id}`)).body.lines);
  return out;
}

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Runs `npm run settle` as its own process on the test database. */
function settleCommand(url: string, args = ['--through', '2026-10-31']): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/settle.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

const count = async (ctx: ApiContext, table: string) => Number((await ctx.db(table).count({ n: '*' }).first())?.n ?? 0);

describeApi('settlement guarantees (SPEC §6.3)', (ctx) => {
  it('a rerun over the same days adds nothing and leaves settled lines as they were', async () => {
    const { owner, alice, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '1000', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
    const first = await settle(ctx);
    const before = await statementLines(ctx, owner, first.id);
    const again = await settle(ctx);
    expect(again).to.deep.include({ statementCount: 0, lineCount: 0, totals: [] });
    expect(await statementLines(ctx, owner, first.id)).to.deep.equal(before);
    expect(await count(ctx, 'settled_pairs')).to.equal(1);
  });

  it('revenue that arrives late is settled by the next run, and only it', async () => {
    const { owner, alice, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '1000', date: '2026-10-05' }]);
    await settle(ctx);
    const [late] = await ingest(ctx, owner, contract, [{ externalId: 'LATE', amount: '500', date: '2026-10-03' }]);
    const next = await settle(ctx);
    expect(next).to.deep.include({ lineCount: 1, totals: [{ currency: 'EUR', amount: '50.00' }] });
    const lines = await statementLines(ctx, owner, next.id);
    expect(lines.map((l) => l.revenueLineId)).to.deep.equal([late!.id]);
  });

  it('a referral created later with a past start is picked up for revenue already settled for others', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const a = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '1000', periodStart: '2026-10-01', periodEnd: '2026-10-10' }]);
    const first = await settle(ctx);
    expect(first.lineCount).to.equal(1);
    const b = await createReferral(ctx, owner, contract, bob, { percentage: '5', billingStartDate: '2026-10-06' });
    const second = await settle(ctx);
    expect(second).to.deep.include({ lineCount: 1, totals: [{ currency: 'EUR', amount: '25.00' }] });
    const lines = await statementLines(ctx, owner, second.id);
    expect(lines).to.have.length(1);
    expect(lines[0]).to.deep.include({ referralId: b.id, billableDays: 5, amount: '25.00' });
    expect(lines[0]!.referralId).not.to.equal(a.id);
  });

  it('a percentage changed after settlement leaves settled amounts alone and applies from today on (R8)', async () => {
    const { owner, alice, contract } = await world(ctx);
    const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
    const october = await settle(ctx);
    const settledBefore = await statementLines(ctx, owner, october.id);
    expect(settledBefore[0]).to.deep.include({ amount: '310.00' });

    ctx.clock.setToday('2026-11-16');
    const put = await ctx.put(`/v1/bunits/${owner}/referrals/${r.id}`, {
      contract: { id: contract },
      referrer: { id: alice },
      percentage: '20',
    });
    expect(put.status, JSON.stringify(put.body)).to.equal(200);
    expect(await statementLines(ctx, owner, october.id)).to.deep.equal(settledBefore);

    // November: 15 days at 10 %, 15 days at 20 %.
    ctx.clock.setToday('2026-12-02');
    await ingest(ctx, owner, contract, [{ externalId: 'NOV', amount: '3000', periodStart: '2026-11-01', periodEnd: '2026-11-30' }]);
    const november = await settle(ctx, { through: '2026-11-30' });
    expect(november.totals).to.deep.equal([{ currency: 'EUR', amount: '450.00' }]);
  });

  it('a dry run returns the would-be statements and writes nothing', async () => {
    const { owner, alice, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '12.5', billingStartDate: '2026-10-01' });
    const [line] = await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '999.99', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
    const dry = await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true });
    expect(dry.status).to.equal(200);
    expect(dry.body).to.deep.include({ id: null, dryRun: true, statementCount: 1, lineCount: 1 });
    expect(dry.body.statements[0]).to.deep.include({ id: null, runId: null, total: '125.00', currency: 'EUR' });
    expect(dry.body.statements[0].lines[0]).to.deep.include({ id: null, revenueLineId: line!.id, amount: '125.00' });
    for (const table of ['settlement_runs', 'statements', 'statement_lines', 'settled_pairs', 'settlement_run_totals']) {
      expect(await count(ctx, table), table).to.equal(0);
    }
    expect((await ctx.get('/v1/settlement-runs')).body.meta.total).to.equal(0);
    const real = await settle(ctx);
    expect(real.totals).to.deep.equal(dry.body.totals);
  });

  it('a pair with no billable day is recorded as settled, with no statement line', async () => {
    const { owner, alice, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
    const [line] = await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '100', date: '2026-10-15' }]);
    const run = await settle(ctx);
    expect(run).to.deep.include({ statementCount: 0, lineCount: 0 });
    expect(await count(ctx, 'settled_pairs')).to.equal(1);
    const lines = await ctx.get(`/v1/bunits/${owner}/contracts/${contract}/revenue`);
    expect(lines.body.data[0]).to.deep.include({ id: line!.id, settled: true });
  });

  it('billingEndDate cannot move before the last settled day (R9), but may stay on or after it', async () => {
    const { owner, alice, contract } = await world(ctx);
    const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }]);
    await settle(ctx);
    const body = (end: string | null) => ({ contract: { id: contract }, referrer: { id: alice }, percentage: '10', billingEndDate: end });
    expectProblem(await ctx.put(`/v1/bunits/${owner}/referrals/${r.id}`, body('2026-10-30')), 409, 'settled-period-locked');
    expect((await ctx.get(`/v1/bunits/${owner}/referrals/${r.id}`)).body.billingEndDate).to.equal(null);
    expect((await ctx.put(`/v1/bunits/${owner}/referrals/${r.id}`, body('2026-10-31'))).status).to.equal(200);
    expect((await ctx.put(`/v1/bunits/${owner}/referrals/${r.id}`, body(null))).status).to.equal(200);
  });

  it('keeps every cent of amounts far beyond 2^53 minor units (no float on the way out of the database)', async () => {
    const { owner, alice, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '100', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'BIG', amount: '100000000000000.01', date: '2026-10-15' }]);
    const run = await settle(ctx);
    expect(run.totals).to.deep.equal([{ currency: 'EUR', amount: '100000000000000.01' }]);
    const [line] = await statementLines(ctx, owner, run.id);
    expect(line).to.deep.include({ amount: '100000000000000.01', exactAmount: '100000000000000.01' });
    const list = await ctx.get(`/v1/bunits/${owner}/statements?runId=${run.id}`);
    expect(list.body.data[0].total).to.equal('100000000000000.01');
  });

  it('settles the largest amount the API accepts exactly on every database, beside ordinary statements (no 2^63 bound)', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '100', billingStartDate: '2026-10-01' });
    const other = await createContract(ctx, owner, { number: 'C-2', currency: 'KWD' });
    await createReferral(ctx, owner, other, bob, { percentage: '12.5', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'HUGE', amount: '999999999999999999.999999', date: '2026-10-15' }]);
    await ingest(ctx, owner, contract, [{ externalId: 'HUGE-2', amount: '999999999999999999.999999', date: '2026-10-16' }]);
    await ingest(ctx, owner, other, [{ externalId: 'SMALL', amount: '10.001', date: '2026-10-15' }]);
    const run = await settle(ctx);
    expect(run.totals).to.deep.equal([
      { currency: 'EUR', amount: '2000000000000000000.00' },
      { currency: 'KWD', amount: '1.250' },
    ]);
    const [first, second] = await statementLines(ctx, owner, run.id);
    // 999999999999999999.999999 at 100 %, twice: the exact sum 1999999999999999999.999998 rounds
    // to 2000000000000000000.00; each line's floor is …999.99, so both get the missing cent.
    expect([first!.exactAmount, second!.exactAmount]).to.deep.equal(['999999999999999999.999999', '999999999999999999.999999']);
    expect([first!.amount, second!.amount]).to.deep.equal(['1000000000000000000.00', '1000000000000000000.00']);
    const list = await ctx.get(`/v1/bunits/${owner}/statements?runId=${run.id}&currency=EUR`);
    expect(list.body.data[0].total).to.equal('2000000000000000000.00');
  });

  it('the database itself refuses to settle a pair twice', async () => {
    const { owner, alice, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ingest(ctx, owner, contract, [{ externalId: 'A', amount: '100', date: '2026-10-15' }]);
    const run = await settle(ctx);
    const pair = await ctx.db('settled_pairs').first();
    let error: unknown;
    try {
      await ctx.db('settled_pairs').insert({ ...pair, run_id: run.id });
    } catch (err) {
      error = err;
    }
    expect(isUniqueViolation(error), `a second insert of the same pair must fail, got ${String(error)}`).to.equal(true);
  });

  it('two settle commands started at the same moment settle each pair exactly once: one runs, the other finds it running (409) or nothing left', async function () {
    this.timeout(60_000);
    const { owner, alice, bob, contract } = await world(ctx);
    await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await createReferral(ctx, owner, contract, bob, { percentage: '20', billingStartDate: '2026-10-01' });
    const lines = Array.from({ length: 300 }, (_, i) => ({ externalId: `L${i}`, amount: '10.01', date: `2026-10-${String((i % 31) + 1).padStart(2, '0')}` }));
    await ingest(ctx, owner, contract, lines);

    const outcomes = await Promise.all([settleCommand(ctx.url), settleCommand(ctx.url)]);
    const ran = outcomes.filter((o) => o.code === 0 && /lines:\s+600/.test(o.output));
    expect(ran, outcomes.map((o) => o.output).join('\n---\n')).to.have.length(1);
    const other = outcomes.find((o) => o !== ran[0])!;
    if (other.code === 0) expect(other.output).to.match(/nothing new to settle/);
    else expect(other.output).to.match(/run-in-progress: (Settlement run \d+ \(through 2026-10-31\) is running|Another settlement run has just started)/);
    expect(await count(ctx, 'settled_pairs')).to.equal(600);
    expect(await count(ctx, 'statement_lines')).to.equal(600);
  });
});
