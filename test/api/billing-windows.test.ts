import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, world } from '../helpers/fixtures';

/**
 * Billing windows (SPEC §6.4): per referral visible to the business unit (as owner or referrer) and
 * billable on at least one day of the range, the maximal runs of billable days with one percentage,
 * clipped to the range. Today is 2026-11-23 (noon UTC) unless a test moves the clock.
 */

interface Segment {
  from: string;
  to: string;
  days: number;
  percentage: string;
}

interface BillingWindow {
  referral: { id: number };
  contract: { id: number; number: string; currency: string; bunitId: number };
  referrer: { id: number; code: string; name: string };
  segments: Segment[];
}

const windowsOf = (bunitId: number, from: string, to: string, extra = '') =>
  `/v1/bunits/${bunitId}/billing-windows?from=${from}&to=${to}${extra}`;

async function windows(ctx: ApiContext, bunitId: number, from: string, to: string, extra = '') {
  const res = await ctx.get(windowsOf(bunitId, from, to, extra));
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as { data: BillingWindow[]; meta: { total: number; limit: number; offset: number } };
}

/** The segments of one referral in the range, or undefined when it has no window there. */
async function segmentsOf(ctx: ApiContext, bunitId: number, referralId: number, from: string, to: string) {
  const { data } = await windows(ctx, bunitId, from, to);
  return data.find((w) => w.referral.id === referralId)?.segments;
}

/** R8 through PUT: the new percentage takes effect on the clock's today. */
async function setPercentage(ctx: ApiContext, ownerId: number, referralId: number, percentage: string) {
  const current = await ctx.get(`/v1/bunits/${ownerId}/referrals/${referralId}`);
  expect(current.status).to.equal(200);
  const res = await ctx.put(`/v1/bunits/${ownerId}/referrals/${referralId}`, { ...current.body, percentage });
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
}

async function archive(ctx: ApiContext, ownerId: number, referralId: number, at?: string) {
  const res = await ctx.del(`/v1/bunits/${ownerId}/referrals/${referralId}${at ? `?at=${at}` : ''}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(204);
}

const seg = (from: string, to: string, days: number, percentage: string): Segment => ({ from, to, days, percentage });

describeApi('billing windows (SPEC §6.4)', (ctx) => {
  describe('segments', () => {
    it('answers the referral, its contract and referrer, and one segment clipped to the range', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '12.5', billingStartDate: '2026-11-01' });

      const res = await windows(ctx, owner, '2026-11-10', '2026-12-31');
      expect(res.meta).to.deep.equal({ total: 1, limit: 50, offset: 0 });
      expect(res.data).to.deep.equal([
        {
          referral: { id: r.id },
          contract: { id: contract, number: 'C-1', currency: 'EUR', bunitId: owner },
          referrer: { id: alice, code: 'ALICE', name: 'ALICE unit' },
          segments: [seg('2026-11-10', '2026-12-31', 52, '12.5')],
        },
      ]);
    });

    it('clips the billing window to the range on both sides, down to a single day at either edge', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-05', billingEndDate: '2026-11-20' });
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-01', '2026-11-30')).to.deep.equal([seg('2026-11-05', '2026-11-20', 16, '10')]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-10', '2026-11-15')).to.deep.equal([seg('2026-11-10', '2026-11-15', 6, '10')]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-10-01', '2026-11-05')).to.deep.equal([seg('2026-11-05', '2026-11-05', 1, '10')]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-20', '2026-12-31')).to.deep.equal([seg('2026-11-20', '2026-11-20', 1, '10')]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-12', '2026-11-12')).to.deep.equal([seg('2026-11-12', '2026-11-12', 1, '10')]);
    });

    it('leaves out a referral with no billable day in the range, before its start or after its end', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const ended = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' });
      const later = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2027-01-01' });

      expect((await windows(ctx, owner, '2026-11-01', '2026-12-31')).data).to.deep.equal([]);
      expect((await windows(ctx, owner, '2026-11-01', '2026-12-31')).meta.total).to.equal(0);
      expect((await windows(ctx, owner, '2026-10-31', '2026-12-31')).data.map((w) => w.referral.id)).to.deep.equal([ended.id]);
      expect((await windows(ctx, owner, '2026-11-01', '2027-01-01')).data.map((w) => w.referral.id)).to.deep.equal([later.id]);
    });

    it('answers future ranges, at the percentage that will apply', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '7.25', billingStartDate: '2026-11-01' });
      expect(await segmentsOf(ctx, owner, r.id, '2027-06-01', '2027-06-30')).to.deep.equal([seg('2027-06-01', '2027-06-30', 30, '7.25')]);
      // A referral that has not started yet.
      const future = await createReferral(ctx, owner, contract, bob, { percentage: '3', billingStartDate: '2027-03-15', billingEndDate: '2027-04-02' });
      expect(await segmentsOf(ctx, owner, future.id, '2027-01-01', '2027-12-31')).to.deep.equal([seg('2027-03-15', '2027-04-02', 19, '3')]);
    });
  });

  describe('percentage changes', () => {
    it('splits the window where the percentage changed, each change effective on the day of the PUT', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      await setPercentage(ctx, owner, r.id, '12.5');
      ctx.clock.setToday('2026-12-10');
      await setPercentage(ctx, owner, r.id, '15');

      expect(await segmentsOf(ctx, owner, r.id, '2026-11-15', '2026-12-31')).to.deep.equal([
        seg('2026-11-15', '2026-11-22', 8, '10'),
        seg('2026-11-23', '2026-12-09', 17, '12.5'),
        seg('2026-12-10', '2026-12-31', 22, '15'),
      ]);
      // Inside one segment, only that one; across one boundary, two.
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-25', '2026-12-05')).to.deep.equal([seg('2026-11-25', '2026-12-05', 11, '12.5')]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-12-09', '2026-12-10')).to.deep.equal([
        seg('2026-12-09', '2026-12-09', 1, '12.5'),
        seg('2026-12-10', '2026-12-10', 1, '15'),
      ]);
      // The referrer sees the same segments.
      expect(await segmentsOf(ctx, alice, r.id, '2026-11-15', '2026-12-31')).to.have.length(3);
    });

    it('keeps segments apart when a later change returns to an earlier percentage', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      await setPercentage(ctx, owner, r.id, '20');
      ctx.clock.setToday('2026-12-01');
      await setPercentage(ctx, owner, r.id, '10');
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-01', '2026-12-31')).to.deep.equal([
        seg('2026-11-01', '2026-11-22', 22, '10'),
        seg('2026-11-23', '2026-11-30', 8, '20'),
        seg('2026-12-01', '2026-12-31', 31, '10'),
      ]);
    });

    it('does not split for a change undone on the same day, nor for a change before the start', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const started = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      await setPercentage(ctx, owner, started.id, '20');
      await setPercentage(ctx, owner, started.id, '10');
      expect(await segmentsOf(ctx, owner, started.id, '2026-11-01', '2026-12-31')).to.deep.equal([seg('2026-11-01', '2026-12-31', 61, '10')]);

      const notYet = await createReferral(ctx, owner, contract, bob, { percentage: '10', billingStartDate: '2026-12-01' });
      await setPercentage(ctx, owner, notYet.id, '20');
      expect(await segmentsOf(ctx, owner, notYet.id, '2026-11-01', '2026-12-31')).to.deep.equal([seg('2026-12-01', '2026-12-31', 31, '20')]);
    });

    it('takes the later of two changes on one day', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      await setPercentage(ctx, owner, r.id, '20');
      await setPercentage(ctx, owner, r.id, '30');
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-20', '2026-11-25')).to.deep.equal([
        seg('2026-11-20', '2026-11-22', 3, '10'),
        seg('2026-11-23', '2026-11-25', 3, '30'),
      ]);
    });
  });

  describe('archiving', () => {
    it('ends the window the day before the archive’s calendar day, for an archive now or scheduled', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const now = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      const scheduled = await createReferral(ctx, owner, contract, bob, { percentage: '20', billingStartDate: '2026-11-01' });
      await archive(ctx, owner, now.id);
      await archive(ctx, owner, scheduled.id, '2026-12-05T15:00:00Z');

      expect(await segmentsOf(ctx, owner, now.id, '2026-11-01', '2026-12-31')).to.deep.equal([seg('2026-11-01', '2026-11-22', 22, '10')]);
      expect(await segmentsOf(ctx, owner, scheduled.id, '2026-11-01', '2026-12-31')).to.deep.equal([seg('2026-11-01', '2026-12-04', 34, '20')]);
      // Ranges from the archive day on hold nothing of either.
      expect((await windows(ctx, owner, '2026-12-05', '2027-01-31')).data).to.deep.equal([]);
      expect((await windows(ctx, owner, '2026-11-23', '2027-01-31')).data.map((w) => w.referral.id)).to.deep.equal([scheduled.id]);
    });

    it('cuts at the calendar day of the archive instant: midnight belongs to the new day', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const atMidnight = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const justBefore = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' });
      await archive(ctx, owner, atMidnight.id, '2026-12-05T00:00:00.000Z');
      await archive(ctx, owner, justBefore.id, '2026-12-04T23:59:59.999Z');
      expect((await segmentsOf(ctx, owner, atMidnight.id, '2026-12-01', '2026-12-31'))!.map((s) => s.to)).to.deep.equal(['2026-12-04']);
      expect((await segmentsOf(ctx, owner, justBefore.id, '2026-12-01', '2026-12-31'))!.map((s) => s.to)).to.deep.equal(['2026-12-03']);
    });

    it('cuts a window with several percentages at the archive day', async () => {
      const { owner, alice, contract } = await world(ctx);
      ctx.clock.setToday('2026-11-01');
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      ctx.clock.setToday('2026-11-10');
      await setPercentage(ctx, owner, r.id, '15');
      await archive(ctx, owner, r.id, '2026-11-15T09:00:00Z');
      ctx.clock.setToday('2026-11-14');
      await setPercentage(ctx, owner, r.id, '25');
      ctx.clock.setToday('2026-11-23');
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-01', '2026-11-30')).to.deep.equal([
        seg('2026-11-01', '2026-11-09', 9, '10'),
        seg('2026-11-10', '2026-11-13', 4, '15'),
        seg('2026-11-14', '2026-11-14', 1, '25'),
      ]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-12', '2026-11-30')).to.deep.equal([
        seg('2026-11-12', '2026-11-13', 2, '15'),
        seg('2026-11-14', '2026-11-14', 1, '25'),
      ]);
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-15', '2026-11-30')).to.equal(undefined);
    });

    it('cuts the windows of a contract’s referrals when the contract is archived (R12)', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const a = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const b = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-10', billingEndDate: '2027-01-31' });
      expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);
      const { data } = await windows(ctx, owner, '2026-11-01', '2026-12-31');
      expect(data.map((w) => [w.referral.id, w.segments])).to.deep.equal([
        [a.id, [seg('2026-11-01', '2026-11-22', 22, '10')]],
        [b.id, [seg('2026-11-10', '2026-11-22', 13, '10')]],
      ]);
    });

    it('ends at the billing end date when that comes before the archive', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01', billingEndDate: '2026-12-01' });
      await archive(ctx, owner, r.id, '2026-12-20T00:00:00Z');
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-01', '2026-12-31')).to.deep.equal([seg('2026-11-01', '2026-12-01', 31, '10')]);
    });
  });

  describe('visibility and paging', () => {
    it('shows the owner every referral of its contracts and its own referrals, a referrer only its own, others nothing', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const ofAlice = await createContract(ctx, alice, { number: 'A-1' });
      const toAlice = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const toBob = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' });
      const toOwner = await createReferral(ctx, alice, ofAlice, owner, { billingStartDate: '2026-11-01' });

      const ids = async (bunitId: number) => (await windows(ctx, bunitId, '2026-11-01', '2026-11-30')).data.map((w) => w.referral.id);
      expect(await ids(owner)).to.deep.equal([toAlice.id, toBob.id, toOwner.id]);
      expect(await ids(alice)).to.deep.equal([toAlice.id, toOwner.id]);
      expect(await ids(bob)).to.deep.equal([toBob.id]);
      expect(await windows(ctx, carol, '2026-11-01', '2026-11-30')).to.deep.equal({ data: [], meta: { total: 0, limit: 50, offset: 0 } });
      expectProblem(await ctx.get(windowsOf(9999, '2026-11-01', '2026-11-30')), 404, 'not-found');
    });

    it('pages with limit and offset over the referrals that have a window in the range', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const a = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' });
      const c = await createReferral(ctx, owner, contract, carol, { billingStartDate: '2026-11-10' });

      const first = await windows(ctx, owner, '2026-11-01', '2026-11-30', '&limit=1');
      expect(first.meta).to.deep.equal({ total: 2, limit: 1, offset: 0 });
      expect(first.data.map((w) => w.referral.id)).to.deep.equal([a.id]);
      const second = await windows(ctx, owner, '2026-11-01', '2026-11-30', '&limit=1&offset=1');
      expect(second.meta).to.deep.equal({ total: 2, limit: 1, offset: 1 });
      expect(second.data.map((w) => w.referral.id)).to.deep.equal([c.id]);
    });
  });

  describe('the range', () => {
    it('accepts a range of 366 days and rejects one of 367 with 400', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      expect(await segmentsOf(ctx, owner, r.id, '2026-11-01', '2027-11-01')).to.deep.equal([seg('2026-11-01', '2027-11-01', 366, '10')]);
      const tooLong = await ctx.get(windowsOf(owner, '2026-11-01', '2027-11-02'));
      expectProblem(tooLong, 400, 'validation-failed');
      expect(tooLong.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['query.to']);
    });

    it('rejects to before from, and accepts to equal to from', async () => {
      const { owner } = await world(ctx);
      const res = await ctx.get(windowsOf(owner, '2026-11-02', '2026-11-01'));
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['query.to']);
      expect((await ctx.get(windowsOf(owner, '2026-11-01', '2026-11-01'))).status).to.equal(200);
    });

    it('rejects a missing from or to, naming each, and dates that are not calendar dates, each named once', async () => {
      const { owner } = await world(ctx);
      const paths = async (query: string) => {
        const res = await ctx.get(`/v1/bunits/${owner}/billing-windows${query}`);
        expectProblem(res, 400, 'validation-failed');
        return res.body.errors.map((e: { path: string }) => e.path) as string[];
      };
      expect(await paths('')).to.have.members(['query.from', 'query.to']);
      expect(await paths('?from=2026-11-01')).to.deep.equal(['query.to']);
      expect(await paths('?to=2026-11-01')).to.deep.equal(['query.from']);
      expect(await paths('?from=2026-02-30&to=2026-03-01')).to.deep.equal(['query.from']);
      expect(await paths('?from=2026-11-01&to=20261130')).to.deep.equal(['query.to']);
      expect(await paths('?from=someday&to=2026-11-01')).to.deep.equal(['query.from']);
      expect(await paths('?from=2026-11-01&to=2026-11-5')).to.deep.equal(['query.to']);
      expect(await paths('?from=2026-11-01&to=2026-11-30&referrerId=1')).to.deep.equal(['query.referrerId']);
    });
  });
});
