import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { resetDatabase } from '../helpers/databases';
import { createBunit, createContract, createReferral, expectProblem } from '../helpers/fixtures';
import { acceptStatements, nettedLineIds } from '../helpers/period-close';

/*
 * SPEC §16: a close raced against another close, a run, an acceptance or a dispute leaves either
 * the state before it or the state after it, never a mix. Each race runs several times (on
 * PostgreSQL the requests really overlap; on SQLite their transactions take turns).
 */

const ROUNDS = 4;

async function octoberStatements(ctx: ApiContext) {
  const dach = await createBunit(ctx, 'DACH');
  const nordics = await createBunit(ctx, 'NORDICS');
  const c1 = await createContract(ctx, dach, { number: 'C-1', currency: 'EUR', startDate: '2026-10-01' });
  await createReferral(ctx, dach, c1, nordics, { percentage: '12.5', billingStartDate: '2026-10-01' });
  const c2 = await createContract(ctx, nordics, { number: 'C-2', currency: 'EUR', startDate: '2026-10-01' });
  await createReferral(ctx, nordics, c2, dach, { percentage: '10', billingStartDate: '2026-10-01' });
  await ctx.post(`/v1/bunits/${dach}/contracts/${c1}/revenue`, {
    lines: [
      { externalId: 'L1', amount: '3000.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      { externalId: 'L2', amount: '-100.00', date: '2026-10-15' },
    ],
  });
  await ctx.post(`/v1/bunits/${nordics}/contracts/${c2}/revenue`, { lines: [{ externalId: 'N1', amount: '900.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }] });
  expect((await ctx.post('/v1/settlement-runs', { through: '2026-10-31' })).status).to.equal(201);
  const toNordics = (await ctx.get(`/v1/bunits/${dach}/statements?role=payer`)).body.data[0];
  const toDach = (await ctx.get(`/v1/bunits/${nordics}/statements?role=payer`)).body.data[0];
  return { dach, nordics, c1, toNordics: toNordics.id as number, toDach: toDach.id as number };
}

/** The netting as the lines say: Σ of the lines not held, per payer. */
async function expectNettingOfLines(ctx: ApiContext, dach: number) {
  const netting = (await ctx.get('/v1/periods/2026-10/nettings')).body.data[0];
  const held: { statement_line_id: number }[] = await ctx.db('held_lines').select('statement_line_id');
  const heldIds = new Set(held.map((h) => h.statement_line_id));
  const owes = new Map<number, number>();
  for (const s of (await ctx.get(`/v1/bunits/${dach}/statements`)).body.data) {
    const full = (await ctx.get(`/v1/bunits/${dach}/statements/${s.id}`)).body;
    const cents = full.lines.filter((l: { id: number }) => !heldIds.has(l.id)).reduce((t: number, l: { amount: string }) => t + Math.round(Number(l.amount) * 100), 0);
    owes.set(s.payer.id, (owes.get(s.payer.id) ?? 0) + cents);
  }
  expect(netting.parties.map((p: { bunit: { id: number }; owes: string }) => Math.round(Number(p.owes) * 100))).to.deep.equal(
    netting.parties.map((p: { bunit: { id: number } }) => owes.get(p.bunit.id) ?? 0),
  );
  const netted = await nettedLineIds(ctx.db);
  expect(new Set(netted).size, 'a line netted twice').to.equal(netted.length);
  for (const n of netted) expect(heldIds.has(n), `line ${n} is held and netted`).to.equal(false);
}

describeApi('a close raced against other changes (SPEC §16)', (ctx) => {
  it('two closes at once: both answer the closed period, everything written once', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { dach } = await octoberStatements(ctx);
      await acceptStatements(ctx.db, '2026-10');
      const [a, b] = await Promise.all([ctx.post('/v1/periods/2026-10/close'), ctx.post('/v1/periods/2026-10/close')]);
      expect([a.status, b.status]).to.deep.equal([200, 200]);
      expect(a.body.status).to.equal('closed');
      expect(b.body.status).to.equal('closed');
      expect((await ctx.get('/v1/periods/2026-10/nettings')).body.meta.total).to.equal(1);
      expect((await ctx.get(`/v1/bunits/${dach}/journals`)).body.meta.total).to.equal(1);
      expect((await ctx.get('/v1/events?type=period.closed,netting.created,journal.created')).body.data.map((e: { type: string }) => e.type)).to.deep.equal([
        'period.closed',
        'netting.created',
        'journal.created',
        'journal.created',
      ]);
      await expectNettingOfLines(ctx, dach);
      await resetForRound(ctx);
    }
  });

  it('a close and a dispute at once: the line is held and netted nowhere, or the dispute is refused and the line netted', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { dach, toDach } = await octoberStatements(ctx);
      await acceptStatements(ctx.db, '2026-10');
      const line = (await ctx.get(`/v1/bunits/${dach}/statements/${toDach}`)).body.lines[0].id;
      const [close, dispute] = await Promise.all([
        ctx.post('/v1/periods/2026-10/close'),
        ctx.post(`/v1/bunits/${dach}/statements/${toDach}/disputes`, { lineIds: [line], reasonCode: 'other', comment: 'raced' }),
      ]);
      expect(close.status, JSON.stringify(close.body)).to.equal(200);
      if (dispute.status === 201) {
        expect((await ctx.db('held_at_close').where({ statement_line_id: line })).length).to.equal(1);
      } else {
        expectProblem(dispute, 409, 'period-closed');
        expect((await nettedLineIds(ctx.db)).filter((id) => id === line)).to.have.length(1);
      }
      await expectNettingOfLines(ctx, dach);
      await resetForRound(ctx);
    }
  });

  it('a close and the acceptance of the last issued statement at once: closed with it accepted, or not ready and nothing written', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { dach, toNordics } = await octoberStatements(ctx);
      await acceptStatements(ctx.db, '2026-10');
      await ctx.db('statements').where({ id: toNordics }).update({ status: 'issued', accepted_by: null, accepted_date: null });
      const [close, accept] = await Promise.all([ctx.post('/v1/periods/2026-10/close'), ctx.post(`/v1/bunits/${dach}/statements/${toNordics}/accept`, {})]);
      expect(accept.status, JSON.stringify(accept.body)).to.equal(200);
      if (close.status === 200) {
        expect((await ctx.db('statements').distinct('status')).map((r: { status: string }) => r.status)).to.deep.equal(['closed']);
      } else {
        expectProblem(close, 409, 'period-not-ready');
        expect(await ctx.db('periods')).to.deep.equal([]);
        expect(await ctx.db('nettings')).to.deep.equal([]);
        expect((await ctx.post('/v1/periods/2026-10/close')).status).to.equal(200);
      }
      await expectNettingOfLines(ctx, dach);
      await resetForRound(ctx);
    }
  });

  it('a close and a run through a day of the period at once: the run is refused, or the close waits for it', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { dach, c1 } = await octoberStatements(ctx);
      await acceptStatements(ctx.db, '2026-10');
      // Late October revenue: a second run through October has something to settle.
      await ctx.post(`/v1/bunits/${dach}/contracts/${c1}/revenue`, { lines: [{ externalId: `LATE-${round}`, amount: '80.00', date: '2026-10-30' }] });
      const [close, run] = await Promise.all([ctx.post('/v1/periods/2026-10/close'), ctx.post('/v1/settlement-runs', { through: '2026-10-31' })]);
      if (run.status === 201) {
        // The run came first: its statement is issued, so the close is not ready (or it waited and saw it).
        expectProblem(close, 409, 'period-not-ready');
        expect(await ctx.db('periods')).to.deep.equal([]);
      } else {
        expectProblem(run, 409, 'period-closed');
        expect(close.status).to.equal(200);
        expect((await ctx.db('statements').distinct('status')).map((r: { status: string }) => r.status)).to.deep.equal(['closed']);
        await expectNettingOfLines(ctx, dach);
      }
      await resetForRound(ctx);
    }
  });
});

const resetForRound = (ctx: ApiContext) => resetDatabase(ctx.db);
