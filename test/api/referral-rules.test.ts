import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, referralBody, world } from '../helpers/fixtures';

/**
 * The referral rules of SPEC §5 (R1–R8, R10–R12; R9 needs settlement), each through HTTP and each
 * with a case that fails when the rule is not enforced. Today is 2026-11-23 (noon UTC) unless a
 * test moves the clock.
 */

interface Segment {
  from: string;
  to: string | null;
  percentage: string;
}

const referralsOf = (bunitId: number) => `/v1/bunits/${bunitId}/referrals`;
const referralAt = (bunitId: number, id: number) => `/v1/bunits/${bunitId}/referrals/${id}`;

async function read(ctx: ApiContext, bunitId: number, id: number) {
  const res = await ctx.get(referralAt(bunitId, id));
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as Record<string, unknown> & { percentage: string; archivedDate: string | null; percentageHistory: Segment[] };
}

/** How many referrals the BU sees, archived ones included: a failed request must not change it. */
async function countVisible(ctx: ApiContext, bunitId: number): Promise<number> {
  const res = await ctx.get(`${referralsOf(bunitId)}?archived=include`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body.meta.total as number;
}

async function idsActiveOn(ctx: ApiContext, bunitId: number, day: string, archived = 'exclude') {
  const res = await ctx.get(`${referralsOf(bunitId)}?activeOn=${day}&archived=${archived}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return (res.body.data as { id: number }[]).map((r) => r.id);
}

describeApi('referral rules (SPEC §5)', (ctx) => {
  describe('R1: the contract must be an active contract of the path business unit', () => {
    it('when the contract belongs to another business unit, it answers 422 invalid-reference and creates nothing', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const alicesContract = await createContract(ctx, alice, { number: 'A-1' });

      expectProblem(await ctx.post(referralsOf(owner), referralBody(alicesContract, bob)), 422, 'invalid-reference');
      expectProblem(await ctx.post(referralsOf(alice), referralBody(contract, bob)), 422, 'invalid-reference');

      expect(await countVisible(ctx, owner)).to.equal(0);
      expect(await countVisible(ctx, alice)).to.equal(0);
      expect(await countVisible(ctx, bob)).to.equal(0);
    });

    it('when the contract does not exist, it answers 422 invalid-reference', async () => {
      const { owner, alice } = await world(ctx);
      const res = await ctx.post(referralsOf(owner), referralBody(9999, alice));
      expectProblem(res, 422, 'invalid-reference');
      expect(res.body.errors).to.deep.include({
        path: 'body.contract.id',
        message: 'must name an active contract of the business unit in the path',
      });
    });

    it('when the contract is archived, it answers 422 invalid-reference', async () => {
      const { owner, alice, contract } = await world(ctx);
      expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);

      expectProblem(await ctx.post(referralsOf(owner), referralBody(contract, alice)), 422, 'invalid-reference');
      expect(await countVisible(ctx, owner)).to.equal(0);
    });

    it('when the business unit in the path is archived, it answers 422 invalid-reference; its existing referrals run on', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const existing = await createReferral(ctx, owner, contract, alice);
      expect((await ctx.del(`/v1/bunits/${owner}`)).status).to.equal(204);

      const res = await ctx.post(referralsOf(owner), referralBody(contract, bob));
      expectProblem(res, 422, 'invalid-reference');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.contract.id']);
      expect(await countVisible(ctx, owner)).to.equal(1);
      expect(await idsActiveOn(ctx, owner, '2026-11-23')).to.deep.equal([existing.id]);
    });
  });

  describe('R2: the referrer must be an active business unit other than the owner', () => {
    it('when the referrer does not exist, it answers 422 invalid-reference', async () => {
      const { owner, contract } = await world(ctx);
      const res = await ctx.post(referralsOf(owner), referralBody(contract, 9999));
      expectProblem(res, 422, 'invalid-reference');
      expect(res.body.errors[0].path).to.equal('body.referrer.id');
      expect(await countVisible(ctx, owner)).to.equal(0);
    });

    it('when the referrer is archived, it answers 422 invalid-reference', async () => {
      const { owner, bob, contract } = await world(ctx);
      expect((await ctx.del(`/v1/bunits/${bob}`)).status).to.equal(204);

      expectProblem(await ctx.post(referralsOf(owner), referralBody(contract, bob)), 422, 'invalid-reference');
      expect(await countVisible(ctx, owner)).to.equal(0);
    });

    it('when the referrer owns the contract, it answers 422 self-referral', async () => {
      const { owner, contract } = await world(ctx);
      expectProblem(await ctx.post(referralsOf(owner), referralBody(contract, owner)), 422, 'self-referral');
      expect(await countVisible(ctx, owner)).to.equal(0);
    });

    it('accepts an active business unit other than the owner and answers 201 with the relations as read', async () => {
      const { owner, alice, contract } = await world(ctx);
      const res = await ctx.post(referralsOf(owner), referralBody(contract, alice, { percentage: '12.5' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.headers.location).to.equal(referralAt(owner, res.body.id));
      expect(res.body.contract).to.deep.equal({ id: contract, number: 'C-1', currency: 'EUR' });
      expect(res.body.referrer).to.deep.equal({ id: alice, code: 'ALICE', name: 'ALICE unit' });
      expect(res.body.percentage).to.equal('12.5');
    });
  });

  describe('R3: billingStartDate defaults to today; billingEndDate is null or not before the start', () => {
    it('when billingStartDate is absent, the billing window starts today', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      expect(r).to.deep.include({ billingStartDate: '2026-11-23', billingEndDate: null, archivedDate: null });
      expect(r.percentageHistory).to.deep.equal([{ from: '2026-11-23', to: null, percentage: '10' }]);

      ctx.clock.setToday('2026-12-05');
      const later = await createReferral(ctx, owner, contract, bob);
      expect(later.billingStartDate).to.equal('2026-12-05');
    });

    it('when billingEndDate is before billingStartDate, it answers 400 validation-failed and creates nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const res = await ctx.post(
        referralsOf(owner),
        referralBody(contract, alice, { billingStartDate: '2026-12-01', billingEndDate: '2026-11-30' }),
      );
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('body.billingEndDate');
      expect(await countVisible(ctx, owner)).to.equal(0);
    });

    it('when billingEndDate is before the default start (today), it answers 400 validation-failed', async () => {
      const { owner, alice, contract } = await world(ctx);
      const res = await ctx.post(referralsOf(owner), referralBody(contract, alice, { billingEndDate: '2026-11-22' }));
      expectProblem(res, 400, 'validation-failed');
      expect(await countVisible(ctx, owner)).to.equal(0);
    });

    it('accepts a one-day window (billingEndDate = billingStartDate)', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01', billingEndDate: '2026-12-01' });
      expect(r).to.deep.include({ billingStartDate: '2026-12-01', billingEndDate: '2026-12-01' });
    });

    it('when a PUT sets billingEndDate before the stored start, it answers 400 validation-failed and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { billingEndDate: '2026-10-31' }));
      expectProblem(res, 400, 'validation-failed');
      expect((await read(ctx, owner, r.id)).billingEndDate).to.equal(null);
    });
  });

  describe('R4: one referrer cannot hold two overlapping referrals of one contract', () => {
    it('when the windows of the same referrer overlap, it answers 409 overlapping-referral and creates nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01', billingEndDate: '2026-11-30' });

      // The last day of the first window is the first day of the second: one shared day is an overlap.
      const res = await ctx.post(referralsOf(owner), referralBody(contract, alice, { billingStartDate: '2026-11-30' }));
      expectProblem(res, 409, 'overlapping-referral');
      // An open-ended window reaching back over an existing one overlaps too.
      expectProblem(
        await ctx.post(referralsOf(owner), referralBody(contract, alice, { billingStartDate: '2026-10-01', billingEndDate: '2026-11-01' })),
        409,
        'overlapping-referral',
      );
      expect(await countVisible(ctx, owner)).to.equal(1);
    });

    it('accepts a window of the same referrer that starts the day after the other ends', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01', billingEndDate: '2026-11-30' });
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01' });
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' });
      expect(await countVisible(ctx, owner)).to.equal(3);
    });

    it('accepts overlapping windows of different referrers', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' });
      expect(await countVisible(ctx, owner)).to.equal(2);
    });

    it('accepts the same referrer on another contract over the same days', async () => {
      const { owner, alice, contract } = await world(ctx);
      const other = await createContract(ctx, owner, { number: 'C-2' });
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await createReferral(ctx, owner, other, alice, { billingStartDate: '2026-11-01' });
    });

    it('when a PUT opens an ended window over a later one of the same referrer, it answers 409 overlapping-referral and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const first = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01', billingEndDate: '2026-11-30' });
      await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01' });

      const res = await ctx.put(referralAt(owner, first.id), referralBody(contract, alice, { billingEndDate: null }));
      expectProblem(res, 409, 'overlapping-referral');
      expect((await read(ctx, owner, first.id)).billingEndDate).to.equal('2026-11-30');
    });

    it('treats a referral scheduled for archiving as ending the day before its archive day', async () => {
      // Reading of R4: "overlap in their billing windows" means the days on which both could be
      // billable (§6.2), so a referrer can be given a successor from the archive day on.
      const { owner, alice, contract } = await world(ctx);
      const first = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      expect((await ctx.del(`${referralAt(owner, first.id)}?at=2026-12-10T15:00:00.000Z`)).status).to.equal(204);

      expectProblem(
        await ctx.post(referralsOf(owner), referralBody(contract, alice, { billingStartDate: '2026-12-09' })),
        409,
        'overlapping-referral',
      );
      const successor = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-10' });

      // Rescheduling the archive later would make the two overlap again; earlier is fine.
      expectProblem(await ctx.del(`${referralAt(owner, first.id)}?at=2026-12-20T00:00:00.000Z`), 409, 'overlapping-referral');
      expect((await read(ctx, owner, first.id)).archivedDate).to.equal('2026-12-10T15:00:00.000Z');
      expect((await ctx.del(`${referralAt(owner, first.id)}?at=2026-12-05T00:00:00.000Z`)).status).to.equal(204);
      expect((await read(ctx, owner, first.id)).archivedDate).to.equal('2026-12-05T00:00:00.000Z');
      expect((await read(ctx, owner, successor.id)).archivedDate).to.equal(null);
    });

    it('accepts a new referral of the same referrer from the day a former one was archived', async () => {
      const { owner, alice, contract } = await world(ctx);
      const first = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      expect((await ctx.del(referralAt(owner, first.id))).status).to.equal(204);
      await createReferral(ctx, owner, contract, alice);
    });

    it('when a new referral of the same referrer reaches back into days an archived one was billable, it answers 409 overlapping-referral', async () => {
      const { owner, alice, contract } = await world(ctx);
      const first = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      expect((await ctx.del(referralAt(owner, first.id))).status).to.equal(204);
      const before = await countVisible(ctx, owner);
      const res = await ctx.post(referralsOf(owner), referralBody(contract, alice, { billingStartDate: '2026-11-22' }));
      expectProblem(res, 409, 'overlapping-referral');
      expect(await countVisible(ctx, owner)).to.equal(before);
    });
  });

  describe('R5: on no day may the percentages of a contract exceed 100', () => {
    it('accepts percentages that sum to exactly 100', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '60' });
      await createReferral(ctx, owner, contract, bob, { percentage: 40 });
    });

    it('sums in exact decimals: 57.2 + 11.1111 + 31.6889 is 100 (in floating point it is more)', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      // Staggered starts, so that the sum is built up day by day rather than within one day.
      await createReferral(ctx, owner, contract, alice, { percentage: '57.2', billingStartDate: '2026-12-01' });
      await createReferral(ctx, owner, contract, bob, { percentage: '11.1111', billingStartDate: '2026-12-02' });
      await createReferral(ctx, owner, contract, carol, { percentage: '31.6889', billingStartDate: '2026-12-03' });
    });

    it('when the percentages would exceed 100 on some day, it answers 409 over-allocated naming the first such day and the sum', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, {
        percentage: '60',
        billingStartDate: '2026-12-01',
        billingEndDate: '2026-12-31',
      });

      // 40.0001 alone is fine from 2026-11-23; the sum first exceeds 100 when alice's window opens.
      const res = await ctx.post(referralsOf(owner), referralBody(contract, bob, { percentage: '40.0001' }));
      expectProblem(res, 409, 'over-allocated');
      expect(res.body.detail).to.contain('2026-12-01').and.to.contain('100.0001');
      expect(res.body.detail).not.to.contain('2026-11-23');
      expect(await countVisible(ctx, owner)).to.equal(1);
    });

    it('names the first offending day, not the first day of the new referral nor a later clash', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      await createReferral(ctx, owner, contract, alice, { percentage: '60', billingStartDate: '2026-11-01', billingEndDate: '2026-11-30' });
      await createReferral(ctx, owner, contract, bob, { percentage: '70', billingStartDate: '2026-12-15' });

      // carol at 45 from 2026-11-20: 105 on 2026-11-20..30, 45 on 2026-12-01..14, 115 from 2026-12-15.
      const res = await ctx.post(referralsOf(owner), referralBody(contract, carol, { percentage: '45', billingStartDate: '2026-11-20' }));
      expectProblem(res, 409, 'over-allocated');
      expect(res.body.detail).to.contain('2026-11-20').and.to.contain('105');

      // From 2026-12-01 only the later clash remains.
      const later = await ctx.post(referralsOf(owner), referralBody(contract, carol, { percentage: '45', billingStartDate: '2026-12-01' }));
      expectProblem(later, 409, 'over-allocated');
      expect(later.body.detail).to.contain('2026-12-15').and.to.contain('115');

      // Ending the day before bob starts fits.
      await createReferral(ctx, owner, contract, carol, { percentage: '45', billingStartDate: '2026-12-01', billingEndDate: '2026-12-14' });
    });

    it('when a PUT raises a percentage beyond 100 in total, it answers 409 over-allocated and changes nothing', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const a = await createReferral(ctx, owner, contract, alice, { percentage: '60', billingStartDate: '2026-11-01' });
      await createReferral(ctx, owner, contract, bob, { percentage: '40', billingStartDate: '2026-11-01' });
      const before = await read(ctx, owner, a.id);

      const res = await ctx.put(referralAt(owner, a.id), referralBody(contract, alice, { percentage: '60.0001', billingStartDate: '2026-11-01' }));
      expectProblem(res, 409, 'over-allocated');
      expect(res.body.detail).to.contain('2026-11-23').and.to.contain('100.0001');
      expect(await read(ctx, owner, a.id)).to.deep.equal(before);
    });

    it('when a PUT opens an ended window into days allocated to others, it answers 409 over-allocated', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const a = await createReferral(ctx, owner, contract, alice, { percentage: '60', billingStartDate: '2026-11-01', billingEndDate: '2026-11-30' });
      await createReferral(ctx, owner, contract, bob, { percentage: '50', billingStartDate: '2026-12-01' });

      const res = await ctx.put(referralAt(owner, a.id), referralBody(contract, alice, { percentage: '60' }));
      expectProblem(res, 409, 'over-allocated');
      expect(res.body.detail).to.contain('2026-12-01').and.to.contain('110');
      expect((await read(ctx, owner, a.id)).billingEndDate).to.equal('2026-11-30');
    });

    it('checks each day against the percentage in effect on that day (R8 history)', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const a = await createReferral(ctx, owner, contract, alice, { percentage: '50', billingStartDate: '2026-11-01' });
      await createReferral(ctx, owner, contract, bob, { percentage: '50', billingStartDate: '2026-11-01' });
      const lowered = await ctx.put(referralAt(owner, a.id), referralBody(contract, alice, { percentage: '40' }));
      expect(lowered.status, JSON.stringify(lowered.body)).to.equal(200);

      // Yesterday alice still had 50: 10 more would make 110 then.
      const res = await ctx.post(referralsOf(owner), referralBody(contract, carol, { billingStartDate: '2026-11-22' }));
      expectProblem(res, 409, 'over-allocated');
      expect(res.body.detail).to.contain('2026-11-22').and.to.contain('110');
      await createReferral(ctx, owner, contract, carol, { billingStartDate: '2026-11-23' });
    });

    it('ignores the percentages of other contracts', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const other = await createContract(ctx, owner, { number: 'C-2' });
      await createReferral(ctx, owner, contract, alice, { percentage: '100' });
      await createReferral(ctx, owner, other, bob, { percentage: '100' });
    });
  });

  describe('R6: PUT replaces the content; the relations cannot change', () => {
    it('accepts back exactly what GET returned, with a changed percentage', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01', billingEndDate: '2027-11-30' });
      const asRead = await read(ctx, owner, r.id);
      expect(asRead.contract).to.have.property('number');
      expect(asRead.referrer).to.have.property('code');

      const res = await ctx.put(referralAt(owner, r.id), { ...asRead, percentage: '12.5' });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.equal({
        ...asRead,
        percentage: '12.5',
        percentageHistory: [{ from: '2026-12-01', to: null, percentage: '12.5' }],
      });
    });

    it('ignores the read-only fields it is sent', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const res = await ctx.put(referralAt(owner, r.id), {
        ...referralBody(contract, alice, { billingStartDate: '2026-11-01' }),
        id: r.id + 100,
        createdDate: '2020-01-01T00:00:00.000Z',
        archivedDate: '2026-11-01T00:00:00.000Z',
        percentageHistory: [],
        contract: { id: contract, number: 'NOT-THE-NUMBER', currency: 'USD' },
        referrer: { id: alice, code: 'SOMEONE', name: 'Someone else' },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      const after = await read(ctx, owner, r.id);
      expect(after).to.deep.include({ id: r.id, createdDate: r.createdDate, archivedDate: null });
      expect(after.contract).to.deep.equal({ id: contract, number: 'C-1', currency: 'EUR' });
      expect(after.referrer).to.deep.equal({ id: alice, code: 'ALICE', name: 'ALICE unit' });
      expect(after.percentageHistory).to.deep.equal([{ from: '2026-11-01', to: null, percentage: '10' }]);
      expect(await countVisible(ctx, owner)).to.equal(1);
    });

    it('when the contract id differs from the stored one, it answers 409 immutable-relation and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const other = await createContract(ctx, owner, { number: 'C-2' });
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const before = await read(ctx, owner, r.id);

      expectProblem(await ctx.put(referralAt(owner, r.id), referralBody(other, alice, { percentage: '20' })), 409, 'immutable-relation');
      expect(await read(ctx, owner, r.id)).to.deep.equal(before);
    });

    it('when the referrer id differs from the stored one, it answers 409 immutable-relation and changes nothing', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const before = await read(ctx, owner, r.id);

      expectProblem(await ctx.put(referralAt(owner, r.id), referralBody(contract, bob, { percentage: '20' })), 409, 'immutable-relation');
      expect(await read(ctx, owner, r.id)).to.deep.equal(before);
    });

    it('requires contract, referrer and percentage (400 validation-failed listing each)', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const res = await ctx.put(referralAt(owner, r.id), { billingEndDate: null });
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include.members([
        'body.contract',
        'body.referrer',
        'body.percentage',
      ]);
    });

    it('treats an absent billingEndDate as open-ended and an absent billingStartDate as unchanged', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01', billingEndDate: '2027-01-31' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body).to.deep.include({ billingStartDate: '2026-12-01', billingEndDate: null });
    });
  });

  describe('R7: billingStartDate changes only while both the stored and the new date are after today', () => {
    it('moves a start that lies in the future to another future day, the history with it', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { billingStartDate: '2026-11-24', percentage: '15' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.billingStartDate).to.equal('2026-11-24');
      expect(res.body.percentageHistory).to.deep.equal([{ from: '2026-11-24', to: null, percentage: '15' }]);
    });

    it('when the new start is today or earlier, it answers 409 start-date-locked and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01' });
      const before = await read(ctx, owner, r.id);

      for (const billingStartDate of ['2026-11-23', '2026-11-01']) {
        const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { billingStartDate }));
        expectProblem(res, 409, 'start-date-locked');
      }
      expect(await read(ctx, owner, r.id)).to.deep.equal(before);
    });

    it('when the stored start is today or earlier, it answers 409 start-date-locked even for a future date', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const started = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const today = await createReferral(ctx, owner, contract, bob);

      expectProblem(
        await ctx.put(referralAt(owner, started.id), referralBody(contract, alice, { billingStartDate: '2026-12-01' })),
        409,
        'start-date-locked',
      );
      expectProblem(
        await ctx.put(referralAt(owner, today.id), referralBody(contract, bob, { billingStartDate: '2026-12-01' })),
        409,
        'start-date-locked',
      );
      expect((await read(ctx, owner, started.id)).billingStartDate).to.equal('2026-11-01');
      expect((await read(ctx, owner, today.id)).billingStartDate).to.equal('2026-11-23');
    });

    it('locks a future start once that day has come', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-25' });
      ctx.clock.setToday('2026-11-25');
      expectProblem(
        await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { billingStartDate: '2026-12-01' })),
        409,
        'start-date-locked',
      );
    });

    it('accepts the stored start sent back unchanged on a started referral', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { billingStartDate: '2026-11-01', billingEndDate: '2026-12-31' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.billingEndDate).to.equal('2026-12-31');
    });
  });

  describe('R8: a percentage change on a started referral takes effect today', () => {
    it('closes the current segment yesterday and opens one today; the response shows today’s percentage', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentage).to.equal('12.5');
      expect(res.body.percentageHistory).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-22', percentage: '10' },
        { from: '2026-11-23', to: null, percentage: '12.5' },
      ]);
      expect(await read(ctx, owner, r.id)).to.deep.equal(res.body);
    });

    it('when the percentage changes twice on one day, the later wins and the history grows only once', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' })).expect(200);
      ctx.clock.set('2026-11-23T18:30:00.000Z');
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '15' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentage).to.equal('15');
      expect(res.body.percentageHistory).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-22', percentage: '10' },
        { from: '2026-11-23', to: null, percentage: '15' },
      ]);
    });

    it('when the percentage is changed back on the same day, the earlier segment simply goes on', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' })).expect(200);
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '10' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentageHistory).to.deep.equal([{ from: '2026-11-01', to: null, percentage: '10' }]);
    });

    it('keeps the history as it is when the same percentage is saved again', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '10.00' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentageHistory).to.deep.equal([{ from: '2026-11-01', to: null, percentage: '10' }]);
    });

    it('grows one segment per day with a change', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' })).expect(200);
      ctx.clock.setToday('2026-11-25');
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '7.25' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentage).to.equal('7.25');
      expect(res.body.percentageHistory).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-22', percentage: '10' },
        { from: '2026-11-23', to: '2026-11-24', percentage: '12.5' },
        { from: '2026-11-25', to: null, percentage: '7.25' },
      ]);
    });

    it('before the start, replaces the percentage and the history stays one segment', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01' });
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentage).to.equal('12.5');
      expect(res.body.percentageHistory).to.deep.equal([{ from: '2026-12-01', to: null, percentage: '12.5' }]);
    });

    it('on the start day itself, replaces the percentage (there is no earlier day to keep)', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const res = await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' }));
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.percentageHistory).to.deep.equal([{ from: '2026-11-23', to: null, percentage: '12.5' }]);
    });

    it('answers with the percentage in effect today, which a later day reads from the history', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '12.5' })).expect(200);
      ctx.clock.setToday('2026-12-05');
      expect((await read(ctx, owner, r.id)).percentage).to.equal('12.5');
    });
  });

  describe('R10: DELETE archives now or at a future instant', () => {
    it('archives now: 204, archivedDate set, left out of the default list, still readable', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const res = await ctx.del(referralAt(owner, r.id));
      expect(res.status).to.equal(204);
      expect((await read(ctx, owner, r.id)).archivedDate).to.equal('2026-11-23T12:00:00.000Z');

      expect((await ctx.get(referralsOf(owner))).body.meta.total).to.equal(0);
      const only = await ctx.get(`${referralsOf(owner)}?archived=only`);
      expect(only.body.data.map((x: { id: number }) => x.id)).to.deep.equal([r.id]);
    });

    it('schedules with ?at=, and DELETE again reschedules', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });

      expect((await ctx.del(`${referralAt(owner, r.id)}?at=2026-12-10T15:00:00.000Z`)).status).to.equal(204);
      expect((await read(ctx, owner, r.id)).archivedDate).to.equal('2026-12-10T15:00:00.000Z');
      // Not archived yet: listed by default and still changeable.
      expect((await ctx.get(referralsOf(owner))).body.meta.total).to.equal(1);
      await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '11' })).expect(200);

      expect((await ctx.del(`${referralAt(owner, r.id)}?at=2027-01-01T00:00:00.000Z`)).status).to.equal(204);
      expect((await read(ctx, owner, r.id)).archivedDate).to.equal('2027-01-01T00:00:00.000Z');
      expect((await ctx.del(`${referralAt(owner, r.id)}?at=2026-11-30T08:00:00.000Z`)).status).to.equal(204);
      expect((await read(ctx, owner, r.id)).archivedDate).to.equal('2026-11-30T08:00:00.000Z');

      ctx.clock.set('2026-11-24T09:00:00.000Z');
      expect((await ctx.del(referralAt(owner, r.id))).status).to.equal(204);
      expect((await read(ctx, owner, r.id)).archivedDate).to.equal('2026-11-24T09:00:00.000Z');
    });

    it('when ?at= lies in the past, it answers 400 validation-failed and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const res = await ctx.del(`${referralAt(owner, r.id)}?at=2026-11-23T11:59:59.999Z`);
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors[0].path).to.equal('query.at');
      expect((await read(ctx, owner, r.id)).archivedDate).to.equal(null);
    });

    it('once archivedDate has passed: PUT answers 409 archived, DELETE answers 204 and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      await ctx.del(`${referralAt(owner, r.id)}?at=2026-11-25T00:00:00.000Z`).expect(204);

      ctx.clock.set('2026-11-25T00:00:00.000Z');
      const before = await read(ctx, owner, r.id);
      expectProblem(await ctx.put(referralAt(owner, r.id), referralBody(contract, alice, { percentage: '20' })), 409, 'archived');
      expect((await ctx.del(referralAt(owner, r.id))).status).to.equal(204);
      expect((await ctx.del(`${referralAt(owner, r.id)}?at=2027-01-01T00:00:00.000Z`)).status).to.equal(204);
      expect(await read(ctx, owner, r.id)).to.deep.equal(before);
      expect(before.archivedDate).to.equal('2026-11-25T00:00:00.000Z');
    });

    it('earns nothing from the calendar day of archivedDate on (activeOn)', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const scheduled = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const now = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' });
      const midnight = await createReferral(ctx, owner, contract, carol, { billingStartDate: '2026-11-01' });
      await ctx.del(`${referralAt(owner, scheduled.id)}?at=2026-12-10T15:00:00.000Z`).expect(204);
      await ctx.del(referralAt(owner, now.id)).expect(204);
      await ctx.del(`${referralAt(owner, midnight.id)}?at=2026-12-10T00:00:00.000Z`).expect(204);

      expect(await idsActiveOn(ctx, owner, '2026-12-09')).to.deep.equal([scheduled.id, midnight.id]);
      expect(await idsActiveOn(ctx, owner, '2026-12-10')).to.deep.equal([]);
      expect(await idsActiveOn(ctx, owner, '2026-11-22', 'include')).to.deep.equal([scheduled.id, now.id, midnight.id]);
      expect(await idsActiveOn(ctx, owner, '2026-11-23', 'include')).to.deep.equal([scheduled.id, midnight.id]);
    });

    it('frees its percentage from the archive day on, but not on the days before (R5)', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const scheduled = await createReferral(ctx, owner, contract, alice, { percentage: '60', billingStartDate: '2026-11-01' });
      await ctx.del(`${referralAt(owner, scheduled.id)}?at=2026-12-10T15:00:00.000Z`).expect(204);

      const early = await ctx.post(referralsOf(owner), referralBody(contract, bob, { percentage: '50', billingStartDate: '2026-12-09' }));
      expectProblem(early, 409, 'over-allocated');
      expect(early.body.detail).to.contain('2026-12-09').and.to.contain('110');
      await createReferral(ctx, owner, contract, bob, { percentage: '50', billingStartDate: '2026-12-10' });

      // Rescheduling the archive later would over-allocate the days it gives back.
      expectProblem(await ctx.del(`${referralAt(owner, scheduled.id)}?at=2026-12-11T00:00:00.000Z`), 409, 'over-allocated');
      expect((await read(ctx, owner, scheduled.id)).archivedDate).to.equal('2026-12-10T15:00:00.000Z');

      // Archived now: today is freed, yesterday is not.
      const other = await createContract(ctx, owner, { number: 'C-2' });
      const gone = await createReferral(ctx, owner, other, alice, { percentage: '60', billingStartDate: '2026-11-01' });
      await ctx.del(referralAt(owner, gone.id)).expect(204);
      expectProblem(
        await ctx.post(referralsOf(owner), referralBody(other, carol, { percentage: '50', billingStartDate: '2026-11-22' })),
        409,
        'over-allocated',
      );
      await createReferral(ctx, owner, other, carol, { percentage: '50', billingStartDate: '2026-11-23' });
    });
  });

  describe('R11: visible to the owner and the referrer; only the owner changes it', () => {
    it('lets the referrer read the referral under its own path', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      expect(await read(ctx, alice, r.id)).to.deep.equal(await read(ctx, owner, r.id));
      const listed = await ctx.get(`${referralsOf(alice)}?role=referrer`);
      expect(listed.body.data.map((x: { id: number }) => x.id)).to.deep.equal([r.id]);
    });

    it('when the referrer tries to change or archive it, it answers 403 forbidden and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const before = await read(ctx, owner, r.id);

      expectProblem(await ctx.put(referralAt(alice, r.id), referralBody(contract, alice, { percentage: '50' })), 403, 'forbidden');
      expectProblem(await ctx.del(referralAt(alice, r.id)), 403, 'forbidden');
      expect(await read(ctx, owner, r.id)).to.deep.equal(before);
    });

    it('under a third business unit, it answers 404 not-found for read, change and archive', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const before = await read(ctx, owner, r.id);

      expectProblem(await ctx.get(referralAt(bob, r.id)), 404, 'not-found');
      expectProblem(await ctx.put(referralAt(bob, r.id), referralBody(contract, alice, { percentage: '50' })), 404, 'not-found');
      expectProblem(await ctx.del(referralAt(bob, r.id)), 404, 'not-found');
      expect(await countVisible(ctx, bob)).to.equal(0);
      expect(await read(ctx, owner, r.id)).to.deep.equal(before);
    });
  });

  describe('R12: archiving a contract archives its unarchived referrals in the same request', () => {
    it('archives the open and the scheduled referrals at the contract’s archive instant, and leaves archived ones as they were', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const open = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
      const scheduled = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' });
      const archived = await createReferral(ctx, owner, contract, carol, { billingStartDate: '2026-11-01' });
      await ctx.del(`${referralAt(owner, scheduled.id)}?at=2027-01-01T00:00:00.000Z`).expect(204);
      await ctx.del(referralAt(owner, archived.id)).expect(204);
      const elsewhere = await createContract(ctx, owner, { number: 'C-2' });
      const untouched = await createReferral(ctx, owner, elsewhere, alice);

      ctx.clock.set('2026-11-23T14:00:00.000Z');
      expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);
      const contractRead = await ctx.get(`/v1/bunits/${owner}/contracts/${contract}`);
      expect(contractRead.body.archivedDate).to.equal('2026-11-23T14:00:00.000Z');

      expect((await read(ctx, owner, open.id)).archivedDate).to.equal('2026-11-23T14:00:00.000Z');
      expect((await read(ctx, owner, scheduled.id)).archivedDate).to.equal('2026-11-23T14:00:00.000Z');
      expect((await read(ctx, owner, archived.id)).archivedDate).to.equal('2026-11-23T12:00:00.000Z');
      expect((await read(ctx, owner, untouched.id)).archivedDate).to.equal(null);

      expectProblem(await ctx.put(referralAt(owner, open.id), referralBody(contract, alice, { percentage: '20' })), 409, 'archived');
      const listed = await ctx.get(referralsOf(owner));
      expect(listed.body.data.map((x: { id: number }) => x.id)).to.deep.equal([untouched.id]);
    });
  });
});
