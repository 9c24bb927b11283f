import { expect } from 'chai';
import type request from 'supertest';
import { describeApi, type ApiContext } from '../helpers/api';
import { createReferral, expectProblem, world } from '../helpers/fixtures';

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
