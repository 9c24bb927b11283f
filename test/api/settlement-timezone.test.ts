import { expect } from 'chai';
import type request from 'supertest';
import { describeApi, type ApiContext } from '../helpers/api';
import { createReferral, expectProblem, world } from '../helpers/fixtures';
import { BusinessCalendar } from '../../src/clock';
import { fillArchiveDays } from '../../src/services/archive-days';

/**
 * "Today" is the calendar date in BUSINESS_TIMEZONE (SPEC §2), and a settlement run's `through`
 * defaults to yesterday and may not be later than yesterday (§6.3). Every other API suite runs in UTC,
 * where the two cannot be told apart; here the app runs in zones whose date differs from UTC's at
 * the moment the clock shows, so a run that took the UTC date would fail these tests.
 *
 * At 2026-11-23T12:00Z it is already 01:00 on 2026-11-24 in Auckland (UTC+13). At 2026-11-24T03:00Z
 * it is still 19:00 on 2026-11-23 in Los Angeles (UTC−8).
 */

interface Run {
  id: number;
  through: string;
  lineCount: number;
}

const revenueOf = (bunitId: number, contractId: number) => `/v1/bunits/${bunitId}/contracts/${contractId}/revenue`;

/** A referred contract with one November line ending on each of `days`. */
async function linesEnding(ctx: ApiContext, days: string[]) {
  const { owner, alice, contract } = await world(ctx);
  await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
  const lines = days.map((day) => ({ externalId: `END-${day}`, amount: '100', periodStart: '2026-11-01', periodEnd: day }));
  const res = await ctx.post(revenueOf(owner, contract), { lines });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return { owner, contract };
}

/** Whether each line is settled, by the day its period ends. */
async function settledByPeriodEnd(ctx: ApiContext, owner: number, contract: number): Promise<Record<string, boolean>> {
  const res = await ctx.get(revenueOf(owner, contract));
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  const lines = res.body.data as { periodEnd: string; settled: boolean }[];
  return Object.fromEntries(lines.map((l) => [l.periodEnd, l.settled]));
}

async function settle(ctx: ApiContext, body?: object): Promise<Run> {
  const res = await ctx.post('/v1/settlement-runs', body);
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as Run;
}

/** 400 validation-failed on `through`, naming the business time zone's yesterday. */
function expectLaterThanYesterday(res: request.Response, yesterday: string) {
  expectProblem(res, 400, 'validation-failed');
  const errors = res.body.errors as { path: string; message: string }[];
  expect(errors).to.deep.equal([{ path: 'body.through', message: `must not be later than yesterday (${yesterday})` }]);
}

const title = (timeZone: string) => `settlement runs with BUSINESS_TIMEZONE ${timeZone} (SPEC §2, §6.3)`;

describeApi(title('Pacific/Auckland'), (ctx) => {
  it('a run without `through` settles through 2026-11-23, yesterday in Auckland (the UTC date is still the 23rd)', async () => {
    const { owner, contract } = await linesEnding(ctx, ['2026-11-22', '2026-11-23', '2026-11-24']);
    const run = await settle(ctx);
    expect(run).to.deep.include({ through: '2026-11-23', lineCount: 2 });
    expect(await settledByPeriodEnd(ctx, owner, contract)).to.deep.equal({
      '2026-11-22': true,
      '2026-11-23': true,
      '2026-11-24': false,
    });
  });

  it('accepts `through` 2026-11-23, yesterday in Auckland though today in UTC, and settles the line ending that day', async () => {
    const { owner, contract } = await linesEnding(ctx, ['2026-11-23']);
    const run = await settle(ctx, { through: '2026-11-23' });
    expect(run).to.deep.include({ through: '2026-11-23', lineCount: 1 });
    expect(await settledByPeriodEnd(ctx, owner, contract)).to.deep.equal({ '2026-11-23': true });
  });

  it('refuses `through` 2026-11-24, today in Auckland, with 400 validation-failed and settles nothing', async () => {
    const { owner, contract } = await linesEnding(ctx, ['2026-11-23']);
    expectLaterThanYesterday(await ctx.post('/v1/settlement-runs', { through: '2026-11-24' }), '2026-11-23');
    expect(await settledByPeriodEnd(ctx, owner, contract)).to.deep.equal({ '2026-11-23': false });
  });
}, { businessTimeZone: 'Pacific/Auckland' });

describeApi(title('America/Los_Angeles'), (ctx) => {
  it('a run without `through` settles through 2026-11-22, yesterday in Los Angeles', async () => {
    const { owner, contract } = await linesEnding(ctx, ['2026-11-22', '2026-11-23']);
    const run = await settle(ctx);
    expect(run).to.deep.include({ through: '2026-11-22', lineCount: 1 });
    expect(await settledByPeriodEnd(ctx, owner, contract)).to.deep.equal({ '2026-11-22': true, '2026-11-23': false });
  });

  it('refuses `through` 2026-11-23, today in Los Angeles, with 400 validation-failed', async () => {
    expectLaterThanYesterday(await ctx.post('/v1/settlement-runs', { through: '2026-11-23' }), '2026-11-22');
  });

  describe('at 03:00 UTC on 2026-11-24, still the evening of the 23rd in Los Angeles', () => {
    beforeEach(() => ctx.clock.set('2026-11-24T03:00:00.000Z'));

    it('a run without `through` still settles through 2026-11-22, not the UTC yesterday', async () => {
      const { owner, contract } = await linesEnding(ctx, ['2026-11-22', '2026-11-23']);
      const run = await settle(ctx);
      expect(run).to.deep.include({ through: '2026-11-22', lineCount: 1 });
      expect(await settledByPeriodEnd(ctx, owner, contract)).to.deep.equal({ '2026-11-22': true, '2026-11-23': false });
    });

    it('still refuses `through` 2026-11-23, yesterday in UTC but today in Los Angeles', async () => {
      expectLaterThanYesterday(await ctx.post('/v1/settlement-runs', { through: '2026-11-23' }), '2026-11-22');
    });
  });
}, { businessTimeZone: 'America/Los_Angeles' });

/**
 * The archive day is stored when a referral is archived (SPEC §12: a change of BUSINESS_TIMEZONE
 * must not change settled results). Referrals archived before the day was stored get it once, at
 * start, from the time zone the service ran with (fillArchiveDays), and keep it.
 */
describeApi('the archive day, stored (SPEC §12)', (ctx) => {
  it('a referral archived before archive days were stored gets its day from the zone it ran in, once; a run in another zone keeps it', async () => {
    ctx.clock.set('2026-10-01T08:00:00.000Z');
    const { owner, alice, contract } = await world(ctx);
    const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    // Archived at 23:30 UTC on the 15th: already the 16th in Oslo, where the service then ran.
    ctx.clock.set('2026-10-15T23:30:00.000Z');
    expect((await ctx.del(`/v1/bunits/${owner}/referrals/${r.id}`)).status).to.equal(204);
    ctx.clock.set('2026-11-23T12:00:00.000Z');
    await ctx.db('referrals').where({ id: r.id }).update({ archive_day: null });
    const lines = ['2026-10-15', '2026-10-16'].map((day) => ({ externalId: `D-${day}`, amount: '100', periodStart: day, periodEnd: day }));
    expect((await ctx.post(revenueOf(owner, contract), { lines })).status).to.equal(201);

    expect(await fillArchiveDays(ctx.db, new BusinessCalendar(ctx.clock, 'Europe/Oslo'))).to.equal(1);
    expect(await fillArchiveDays(ctx.db, new BusinessCalendar(ctx.clock, 'UTC'))).to.equal(0);
    const [row] = await ctx.db('referrals').where({ id: r.id }).select('archive_day');
    expect(String(row.archive_day).slice(0, 10)).to.equal('2026-10-16');

    // This app runs in UTC, where the archive instant falls on the 15th; the stored day counts:
    // the 15th is billable, the 16th is not.
    const run = await settle(ctx, { through: '2026-10-31' });
    expect(run.lineCount).to.equal(1);
    const statements = (await ctx.get(`/v1/bunits/${owner}/statements?runId=${run.id}`)).body.data as { total: string }[];
    expect(statements.map((s) => s.total)).to.deep.equal(['10.00']);
    const listed = (await ctx.get(`/v1/bunits/${owner}/referrals/${r.id}`)).body;
    expect(listed.archivedDate).to.equal('2026-10-15T23:30:00.000Z');
  });
});
