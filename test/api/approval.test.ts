import { expect } from 'chai';
import { describeApi, type ApiContext, type KeyedAgent } from '../helpers/api';
import { createBunit, createContract, expectProblem, referralBody } from '../helpers/fixtures';

/**
 * Maker-checker approval (SPEC §11), sentence by sentence, in APPROVAL_MODE=maker-checker. HQ
 * owns a contract that NORDICS and DACH refer; the maker is HQ's write key, the checker HQ's
 * approver key. The clock stands at 2026-11-23T12:00Z unless a test moves it.
 */
interface World {
  hq: number;
  nordics: number;
  dach: number;
  contract: number;
  maker: KeyedAgent & { name: string };
  otherMaker: KeyedAgent & { name: string };
  checker: KeyedAgent & { name: string };
  secondChecker: KeyedAgent & { name: string };
  referrerChecker: KeyedAgent & { name: string };
  strangerChecker: KeyedAgent & { name: string };
  admin: KeyedAgent & { name: string };
}

async function world(ctx: ApiContext): Promise<World> {
  const hq = await createBunit(ctx, 'HQ');
  const nordics = await createBunit(ctx, 'NORDICS');
  const dach = await createBunit(ctx, 'DACH');
  const stranger = await createBunit(ctx, 'STRANGER');
  const contract = await createContract(ctx, hq, { number: 'C-1', startDate: '2026-01-01' });
  const agent = async (name: string, role: 'write' | 'approver' | 'admin', bunitIds?: number[]) => {
    const key = await ctx.key(name, role, bunitIds);
    return { ...ctx.as(key.secret), name };
  };
  return {
    hq,
    nordics,
    dach,
    contract,
    maker: await agent('hq-billing', 'write', [hq]),
    otherMaker: await agent('hq-billing-2', 'write', [hq]),
    checker: await agent('hq-approver', 'approver', [hq]),
    secondChecker: await agent('hq-approver-2', 'approver', [hq]),
    referrerChecker: await agent('nordics-approver', 'approver', [nordics]),
    strangerChecker: await agent('stranger-approver', 'approver', [stranger]),
    admin: await agent('ops-admin', 'admin'),
  };
}

const referralsOf = (bunit: number) => `/v1/bunits/${bunit}/referrals`;
const crPath = (bunit: number, id: number, action = '') => `/v1/bunits/${bunit}/change-requests/${id}${action}`;

async function requestCreation(ctx: ApiContext, w: World, overrides: Record<string, unknown> = {}, referrer = w.nordics) {
  const res = await w.maker.post(referralsOf(w.hq), referralBody(w.contract, referrer, { billingStartDate: '2026-10-01', ...overrides })).set('X-Change-Reason', 'New partner deal');
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as { id: number; status: string; pendingChange: { id: number; kind: string; requestedDate: string } | null; [k: string]: unknown };
}

async function approvedReferral(ctx: ApiContext, w: World, overrides: Record<string, unknown> = {}, referrer = w.nordics) {
  const created = await requestCreation(ctx, w, overrides, referrer);
  const ok = await w.checker.post(crPath(w.hq, created.pendingChange!.id, '/approve'), {});
  expect(ok.status, JSON.stringify(ok.body)).to.equal(200);
  return created.id;
}

const put = (w: World, referral: number, overrides: Record<string, unknown>, agent = w.maker) =>
  agent.put(`${referralsOf(w.hq)}/${referral}`, referralBody(w.contract, w.nordics, overrides));

describeApi('approval in maker-checker mode (SPEC §11)', (ctx) => {
  let w: World;
  beforeEach(async () => {
    w = await world(ctx);
  });

  describe('creating a referral', () => {
    it('answers 201 with the referral pending, its creation as the change request it shows', async () => {
      const created = await requestCreation(ctx, w, { percentage: '12.5', billingEndDate: '2027-09-30' });
      expect(created).to.deep.include({ status: 'pending', percentage: '12.5', updatedDate: '2026-11-23T12:00:00.000Z' });
      expect(created.pendingChange).to.deep.equal({ id: created.pendingChange!.id, kind: 'create', requestedDate: '2026-11-23T12:00:00.000Z' });
      const cr = await w.checker.get(crPath(w.hq, created.pendingChange!.id));
      expect(cr.status).to.equal(200);
      expect(cr.body).to.deep.equal({
        id: created.pendingChange!.id,
        bunitId: w.hq,
        referralId: created.id,
        kind: 'create',
        status: 'pending',
        proposed: { contract: { id: w.contract }, referrer: { id: w.nordics }, percentage: '12.5', billingStartDate: '2026-10-01', billingEndDate: '2027-09-30' },
        reason: 'New partner deal',
        requestedBy: 'hq-billing',
        requestedDate: '2026-11-23T12:00:00.000Z',
        decidedBy: null,
        decidedDate: null,
        decisionReason: null,
      });
    });

    it('a pending referral already counts for R4 and R5, so that its approval cannot fail because of a referral created meanwhile', async () => {
      await requestCreation(ctx, w, { percentage: '60' });
      expectProblem(await w.maker.post(referralsOf(w.hq), referralBody(w.contract, w.nordics, { percentage: '10', billingStartDate: '2026-10-15' })), 409, 'overlapping-referral');
      expectProblem(await w.maker.post(referralsOf(w.hq), referralBody(w.contract, w.dach, { percentage: '41', billingStartDate: '2026-10-15' })), 409, 'over-allocated');
      expect((await w.maker.post(referralsOf(w.hq), referralBody(w.contract, w.dach, { percentage: '40', billingStartDate: '2026-10-15' }))).status).to.equal(201);
    });

    it('approved: it earns from its billingStartDate, past days not yet settled included; while pending it earned nothing and its pairs were not recorded as settled', async () => {
      const created = await requestCreation(ctx, w, { percentage: '10' });
      const revenue = await w.maker.post(`/v1/bunits/${w.hq}/contracts/${w.contract}/revenue`, {
        lines: [{ externalId: 'OCT', amount: '3100', periodStart: '2026-10-01', periodEnd: '2026-10-31' }],
      });
      expect(revenue.status).to.equal(201);
      const before = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
      expect(before.body).to.deep.include({ statementCount: 0, lineCount: 0 });
      expect(Number((await ctx.db('settled_pairs').count({ n: '*' }).first())?.n)).to.equal(0);
      expect((await w.checker.get(`/v1/bunits/${w.hq}/billing-windows?from=2026-10-01&to=2026-10-31`)).body.data).to.deep.equal([]);

      ctx.clock.set('2026-11-24T08:00:00.000Z');
      const approved = await w.checker.post(crPath(w.hq, created.pendingChange!.id, '/approve'), { reason: 'Signed agreement on file' });
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
      expect(approved.body).to.deep.include({ status: 'approved', decidedBy: 'hq-approver', decidedDate: '2026-11-24T08:00:00.000Z', decisionReason: 'Signed agreement on file' });
      const referral = (await w.maker.get(`${referralsOf(w.hq)}/${created.id}`)).body;
      expect(referral).to.deep.include({ status: 'approved', pendingChange: null, updatedDate: '2026-11-24T08:00:00.000Z' });

      const after = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
      expect(after.body).to.deep.include({ lineCount: 1, totals: [{ currency: 'EUR', amount: '310.00' }] });
    });

    it('denied: final and read-only, it counts for nothing', async () => {
      const created = await requestCreation(ctx, w, { percentage: '60' });
      const denied = await w.checker.post(crPath(w.hq, created.pendingChange!.id, '/deny'), { reason: 'No agreement' });
      expect(denied.status).to.equal(200);
      expect(denied.body).to.deep.include({ status: 'denied', decisionReason: 'No agreement' });
      const referral = (await w.maker.get(`${referralsOf(w.hq)}/${created.id}`)).body;
      expect(referral).to.deep.include({ status: 'denied', pendingChange: null });
      expectProblem(await put(w, created.id, { percentage: '5' }), 409, 'archived');
      expect((await w.maker.del(`${referralsOf(w.hq)}/${created.id}`)).status, 'nothing to archive').to.equal(204);
      expectProblem(await w.checker.post(crPath(w.hq, created.pendingChange!.id, '/approve'), {}), 409, 'not-pending');
      // It counts for nothing: the same referrer, the same days, the whole 100 %.
      expect((await w.maker.post(referralsOf(w.hq), referralBody(w.contract, w.nordics, { percentage: '100', billingStartDate: '2026-10-01' }))).status).to.equal(201);
    });

    it('a deny says why: reason is required', async () => {
      const created = await requestCreation(ctx, w);
      const res = await w.checker.post(crPath(w.hq, created.pendingChange!.id, '/deny'), {});
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.reason']);
    });
  });

  describe('changing and archiving a referral', () => {
    it('a PUT that changes its terms answers 202 with a change request; the referral is unchanged and shows pendingChange', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      const before = await w.maker.get(`${referralsOf(w.hq)}/${id}`);
      const res = await put(w, id, { percentage: '15', billingEndDate: '2027-10-31' }).set('X-Change-Reason', 'Renegotiated');
      expect(res.status, JSON.stringify(res.body)).to.equal(202);
      expect(res.headers.location).to.equal(crPath(w.hq, res.body.id));
      expect(res.body).to.deep.include({
        kind: 'update',
        status: 'pending',
        referralId: id,
        reason: 'Renegotiated',
        requestedBy: 'hq-billing',
        proposed: { percentage: '15', billingStartDate: '2026-10-01', billingEndDate: '2027-10-31' },
      });
      const after = await w.maker.get(`${referralsOf(w.hq)}/${id}`);
      expect(after.body).to.deep.include({ percentage: '10', billingEndDate: null, percentageHistory: before.body.percentageHistory });
      expect(after.body.pendingChange).to.deep.equal({ id: res.body.id, kind: 'update', requestedDate: '2026-11-23T12:00:00.000Z' });
      expect(after.headers.etag, 'the representation changed: so does the ETag').to.not.equal(before.headers.etag);
    });

    it('a PUT that changes nothing answers 200 and opens no request', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      const same = await put(w, id, { percentage: '10', billingStartDate: '2026-10-01' });
      expect(same.status).to.equal(200);
      expect(same.body.pendingChange).to.equal(null);
    });

    it('one pending request per referral: another PUT, or a DELETE, answers 409 change-pending', async () => {
      const id = await approvedReferral(ctx, w);
      expect((await put(w, id, { percentage: '15' })).status).to.equal(202);
      expectProblem(await put(w, id, { percentage: '20' }, w.otherMaker), 409, 'change-pending');
      expectProblem(await w.maker.del(`${referralsOf(w.hq)}/${id}`), 409, 'change-pending');
    });

    it('a request is checked now too: a change that breaks a rule today is refused at once, with no request', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      await approvedReferral(ctx, w, { percentage: '50' }, w.dach);
      expectProblem(await put(w, id, { percentage: '51' }), 409, 'over-allocated');
      expectProblem(await put(w, id, { percentage: '10', billingStartDate: '2026-12-01' }), 409, 'start-date-locked');
      expect((await w.checker.get(`/v1/bunits/${w.hq}/change-requests?kind=update`)).body.meta.total).to.equal(0);
    });

    it('approval applies the change as if made at that instant: the new percentage takes effect on the day of approval (R8)', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      const cr = (await put(w, id, { percentage: '15' })).body;
      ctx.clock.set('2026-11-26T09:00:00.000Z');
      const approved = await w.checker.post(crPath(w.hq, cr.id, '/approve'), {});
      expect(approved.status, JSON.stringify(approved.body)).to.equal(200);
      const referral = (await w.maker.get(`${referralsOf(w.hq)}/${id}`)).body;
      expect(referral.percentageHistory).to.deep.equal([
        { from: '2026-10-01', to: '2026-11-25', percentage: '10' },
        { from: '2026-11-26', to: null, percentage: '15' },
      ]);
      expect(referral).to.deep.include({ percentage: '15', pendingChange: null, updatedDate: '2026-11-26T09:00:00.000Z' });
    });

    it('approval checks R7 again: a start date change requested while both dates were ahead is refused once the start has come; the request stays pending', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10', billingStartDate: '2026-12-01' });
      const cr = (await put(w, id, { percentage: '10', billingStartDate: '2026-12-15' })).body;
      ctx.clock.set('2026-12-02T09:00:00.000Z');
      expectProblem(await w.checker.post(crPath(w.hq, cr.id, '/approve'), {}), 409, 'start-date-locked');
      expect((await w.checker.get(crPath(w.hq, cr.id))).body.status).to.equal('pending');
      expect((await w.checker.post(crPath(w.hq, cr.id, '/deny'), { reason: 'Too late' })).status).to.equal(200);
    });

    it('approval checks R9 again: an end date before a day settled meanwhile answers 409 settled-period-locked', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      const cr = (await put(w, id, { percentage: '10', billingEndDate: '2026-10-20' })).body;
      await w.maker.post(`/v1/bunits/${w.hq}/contracts/${w.contract}/revenue`, { lines: [{ externalId: 'L', amount: '100', date: '2026-10-25' }] });
      expect((await ctx.post('/v1/settlement-runs', { through: '2026-10-31' })).body.lineCount).to.equal(1);
      expectProblem(await w.checker.post(crPath(w.hq, cr.id, '/approve'), {}), 409, 'settled-period-locked');
      expect((await w.checker.get(crPath(w.hq, cr.id))).body.status).to.equal('pending');
    });

    it('approval checks R5 again: a day over-allocated by a change made meanwhile answers 409 over-allocated; the request stays pending', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      const cr = (await put(w, id, { percentage: '60' })).body;
      // Meanwhile DACH is given 50 % (its creation, pending, already counts).
      await requestCreation(ctx, w, { percentage: '50' }, w.dach);
      const res = await w.checker.post(crPath(w.hq, cr.id, '/approve'), {});
      expectProblem(res, 409, 'over-allocated');
      expect(res.body.detail).to.include('110 %');
      expect((await w.checker.get(crPath(w.hq, cr.id))).body.status).to.equal('pending');
      expect((await w.maker.get(`${referralsOf(w.hq)}/${id}`)).body.percentage).to.equal('10');
    });

    it('a DELETE answers 202 with an archive request; approval archives, at `at` or at the approval if that instant has passed', async () => {
      const id = await approvedReferral(ctx, w);
      const now = await w.maker.del(`${referralsOf(w.hq)}/${id}`);
      expect(now.status).to.equal(202);
      expect(now.body).to.deep.include({ kind: 'archive', proposed: { archivedDate: null } });
      expect((await w.maker.get(`${referralsOf(w.hq)}/${id}`)).body.archivedDate).to.equal(null);
      ctx.clock.set('2026-11-23T15:00:00.000Z');
      expect((await w.checker.post(crPath(w.hq, now.body.id, '/approve'), {})).status).to.equal(200);
      expect((await w.maker.get(`${referralsOf(w.hq)}/${id}`)).body.archivedDate).to.equal('2026-11-23T15:00:00.000Z');

      const later = await approvedReferral(ctx, w, {}, w.dach);
      const scheduled = await w.maker.del(`${referralsOf(w.hq)}/${later}?at=2026-12-31T00:00:00Z`);
      expect(scheduled.body.proposed).to.deep.equal({ archivedDate: '2026-12-31T00:00:00.000Z' });
      expect((await w.checker.post(crPath(w.hq, scheduled.body.id, '/approve'), {})).status).to.equal(200);
      expect((await w.maker.get(`${referralsOf(w.hq)}/${later}`)).body.archivedDate).to.equal('2026-12-31T00:00:00.000Z');
    });
  });

  describe('who decides (four eyes)', () => {
    it('no key decides a request it made (403 four-eyes); another admin or approver key does', async () => {
      const id = await approvedReferral(ctx, w);
      const byAdmin = await put(w, id, { percentage: '15' }, w.admin);
      expect(byAdmin.status).to.equal(202);
      expectProblem(await w.admin.post(crPath(w.hq, byAdmin.body.id, '/approve'), {}), 403, 'four-eyes');
      expectProblem(await w.admin.post(crPath(w.hq, byAdmin.body.id, '/deny'), { reason: 'mine' }), 403, 'four-eyes');
      const approved = await ctx.post(crPath(w.hq, byAdmin.body.id, '/approve'), {});
      expect(approved.status, 'the other admin key (ADMIN_API_KEY)').to.equal(200);
      expect(approved.body.decidedBy).to.equal('ADMIN_API_KEY');
    });

    it('a write key cannot decide, the referrer’s approver sees the request but cannot decide it, an approver of another unit is refused', async () => {
      const created = await requestCreation(ctx, w);
      const id = created.pendingChange!.id;
      expectProblem(await w.otherMaker.post(crPath(w.hq, id, '/approve'), {}), 403, 'forbidden');
      expect((await w.referrerChecker.get(crPath(w.nordics, id))).status, 'the referrer sees it (R11)').to.equal(200);
      expectProblem(await w.referrerChecker.post(crPath(w.nordics, id, '/approve'), {}), 403, 'forbidden');
      expectProblem(await w.strangerChecker.post(crPath(w.hq, id, '/approve'), {}), 403, 'forbidden');
      expectProblem(await w.checker.get(crPath(w.dach, id)), 403, 'forbidden');
      expectProblem(await ctx.get(crPath(w.dach, id)), 404, 'not-found');
      // An approver makes no change of its own.
      expectProblem(await w.checker.post(referralsOf(w.hq), referralBody(w.contract, w.dach)), 403, 'forbidden');
    });

    it('a key that may act for the referrer never decides, even when it may act for the owner too: 403 forbidden, the request stays pending', async () => {
      const created = await requestCreation(ctx, w);
      const id = created.pendingChange!.id;
      const both = ctx.as((await ctx.key('hq-and-nordics-approver', 'approver', [w.hq, w.nordics])).secret);
      const refused = await both.post(crPath(w.hq, id, '/approve'), {});
      expectProblem(refused, 403, 'forbidden');
      expect(refused.body.detail).to.match(/may act for/);
      expectProblem(await both.post(crPath(w.hq, id, '/deny'), { reason: 'no' }), 403, 'forbidden');
      expectProblem(await both.post(`/v1/bunits/${w.hq}/change-requests/moderate`, { approve: [id] }), 403, 'forbidden');
      expectProblem(await both.post(crPath(w.nordics, id, '/approve'), {}), 403, 'forbidden');
      expect((await w.checker.get(crPath(w.hq, id))).body.status).to.equal('pending');
      expect((await w.checker.get(`${referralsOf(w.hq)}/${created.id}`)).body.status).to.equal('pending');
      // A key of the owner alone decides it.
      expect((await w.checker.post(crPath(w.hq, id, '/approve'), {})).status).to.equal(200);
    });

    it('deciding a request that is no longer pending answers 409 not-pending', async () => {
      const created = await requestCreation(ctx, w);
      const id = created.pendingChange!.id;
      expect((await w.checker.post(crPath(w.hq, id, '/approve'), {})).status).to.equal(200);
      expectProblem(await w.secondChecker.post(crPath(w.hq, id, '/approve'), {}), 409, 'not-pending');
      expectProblem(await w.secondChecker.post(crPath(w.hq, id, '/deny'), { reason: 'late' }), 409, 'not-pending');
      expectProblem(await w.maker.post(crPath(w.hq, id, '/withdraw')), 409, 'not-pending');
    });

    it('withdraw: by the key that asked, or an admin; the referral stays as it was', async () => {
      const id = await approvedReferral(ctx, w, { percentage: '10' });
      const first = (await put(w, id, { percentage: '15' })).body;
      expectProblem(await w.otherMaker.post(crPath(w.hq, first.id, '/withdraw')), 403, 'forbidden');
      const withdrawn = await w.maker.post(crPath(w.hq, first.id, '/withdraw'));
      expect(withdrawn.status).to.equal(200);
      expect(withdrawn.body).to.deep.include({ status: 'withdrawn', decidedBy: 'hq-billing' });
      expect((await w.maker.get(`${referralsOf(w.hq)}/${id}`)).body).to.deep.include({ percentage: '10', pendingChange: null });
      const second = (await put(w, id, { percentage: '16' }, w.otherMaker)).body;
      expect((await w.admin.post(crPath(w.hq, second.id, '/withdraw'))).status).to.equal(200);
    });

    it('two approvers deciding one request at the same moment: exactly one wins, the other gets 409 not-pending', async () => {
      for (let round = 0; round < 5; round++) {
        const created = await requestCreation(ctx, w, { billingStartDate: `2027-0${round + 1}-01`, billingEndDate: `2027-0${round + 1}-28` });
        const id = created.pendingChange!.id;
        const results = await Promise.all([
          w.checker.post(crPath(w.hq, id, '/approve'), {}),
          w.secondChecker.post(crPath(w.hq, id, '/deny'), { reason: 'no' }),
        ]);
        expect(results.map((r) => r.status).sort()).to.deep.equal([200, 409]);
        expect(results.find((r) => r.status === 409)!.body.code).to.equal('not-pending');
      }
    });

    it('approve racing withdraw: exactly one of them happens', async () => {
      for (let round = 0; round < 5; round++) {
        const created = await requestCreation(ctx, w, { billingStartDate: `2027-0${round + 1}-01`, billingEndDate: `2027-0${round + 1}-28` });
        const id = created.pendingChange!.id;
        const [approve, withdraw] = await Promise.all([w.checker.post(crPath(w.hq, id, '/approve'), {}), w.maker.post(crPath(w.hq, id, '/withdraw'))]);
        expect([approve.status, withdraw.status].sort()).to.deep.equal([200, 409]);
        const status = (await w.maker.get(`${referralsOf(w.hq)}/${created.id}`)).body.status;
        expect(status).to.equal(approve.status === 200 ? 'approved' : 'denied');
      }
    });
  });

  describe('moderate', () => {
    it('approves and denies several at once, answering each as decided', async () => {
      const a = await requestCreation(ctx, w, { billingEndDate: '2026-10-31' });
      const b = await requestCreation(ctx, w, { billingStartDate: '2026-11-01', billingEndDate: '2026-11-30' });
      const c = await requestCreation(ctx, w, {}, w.dach);
      const res = await w.checker.post(`/v1/bunits/${w.hq}/change-requests/moderate`, {
        approve: [a.pendingChange!.id, b.pendingChange!.id],
        deny: [c.pendingChange!.id],
        reason: 'Weekly review',
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.data.map((cr: { id: number; status: string; decisionReason: string }) => [cr.id, cr.status, cr.decisionReason])).to.deep.equal([
        [a.pendingChange!.id, 'approved', 'Weekly review'],
        [b.pendingChange!.id, 'approved', 'Weekly review'],
        [c.pendingChange!.id, 'denied', 'Weekly review'],
      ]);
    });

    it('all or nothing: one request that cannot be decided answers for all, and none is decided', async () => {
      const a = await requestCreation(ctx, w, { billingEndDate: '2026-10-31' });
      const b = await requestCreation(ctx, w, { billingStartDate: '2026-11-01' });
      expect((await w.checker.post(crPath(w.hq, b.pendingChange!.id, '/approve'), {})).status).to.equal(200);
      const res = await w.secondChecker.post(`/v1/bunits/${w.hq}/change-requests/moderate`, { approve: [a.pendingChange!.id, b.pendingChange!.id] });
      expectProblem(res, 409, 'not-pending');
      expect(res.body.detail).to.include(`Change request ${b.pendingChange!.id}:`);
      expect((await w.checker.get(crPath(w.hq, a.pendingChange!.id))).body.status).to.equal('pending');
    });

    /** What a moderation that fails must leave as it was: every row it could have written. */
    const snapshot = async () => ({
      requests: await ctx.db('change_requests').select('id', 'status', 'decided_by', 'decision_reason').orderBy('id'),
      referrals: await ctx.db('referrals').select('id', 'status', 'version', 'percentage', 'billing_start_date', 'pending_change_id').orderBy('id'),
      audit: Number((await ctx.db('audit_events').count({ n: '*' }))[0]!.n),
      events: Number((await ctx.db('events').count({ n: '*' }))[0]!.n) + Number((await ctx.db('pending_events').count({ n: '*' }))[0]!.n),
    });

    it('all or nothing: a rule that the last of many approvals breaks leaves every request pending and writes nothing', async () => {
      const creations = [];
      for (let i = 0; i < 25; i++) {
        const referrer = await createBunit(ctx, `R${i}`);
        creations.push((await requestCreation(ctx, w, { percentage: '1' }, referrer)).pendingChange!.id);
      }
      // Its start date may move while both dates are after today (R7): they are not, by the approval.
      const late = await approvedReferral(ctx, w, { billingStartDate: '2026-12-10' });
      const move = await put(w, late, { billingStartDate: '2026-12-15' });
      expect(move.status, JSON.stringify(move.body)).to.equal(202);
      const denial = (await requestCreation(ctx, w, { percentage: '1' }, w.dach)).pendingChange!.id;
      ctx.clock.set('2026-12-12T12:00:00.000Z');
      const before = await snapshot();
      const res = await w.checker.post(`/v1/bunits/${w.hq}/change-requests/moderate`, { approve: [...creations, move.body.id], deny: [denial], reason: 'Weekly review' });
      expectProblem(res, 409, 'start-date-locked');
      expect(res.body.detail).to.include(`Change request ${move.body.id}:`).and.to.include('Nothing was decided.');
      expect(await snapshot()).to.deep.equal(before);
      expect(before.requests.filter((r: { status: string }) => r.status === 'pending')).to.have.length(27);
    });

    it('all or nothing: a request of the checker’s own (four eyes), one of another business unit, or one unknown, anywhere in the list, decides nothing', async () => {
      const a = (await requestCreation(ctx, w)).pendingChange!.id;
      const b = (await requestCreation(ctx, w, {}, w.dach)).pendingChange!.id;
      const ownReferrer = await createBunit(ctx, 'OWN');
      const ownReferral = await approvedReferral(ctx, w, { billingStartDate: '2026-12-01' }, ownReferrer);
      const own = await w.admin.put(`${referralsOf(w.hq)}/${ownReferral}`, referralBody(w.contract, ownReferrer, { billingStartDate: '2026-12-01', percentage: '11' }));
      expect(own.status).to.equal(202);
      const elsewhere = await createContract(ctx, w.dach, { number: 'C-DACH', startDate: '2026-01-01' });
      const foreign = await ctx.key('dach-billing', 'write', [w.dach]);
      const other = await ctx.as(foreign.secret).post(referralsOf(w.dach), referralBody(elsewhere, w.nordics));
      const before = await snapshot();
      const moderate = (approve: number[]) => w.admin.post(`/v1/bunits/${w.hq}/change-requests/moderate`, { approve });
      expectProblem(await moderate([a, own.body.id, b]), 403, 'four-eyes');
      expectProblem(await moderate([a, b, other.body.pendingChange?.id ?? 999999]), 404, 'not-found');
      expectProblem(await moderate([a, b, 999999]), 404, 'not-found');
      expect(await snapshot()).to.deep.equal(before);
    });

    it('decides many at once as each would be decided alone: statuses, history entries and events', async () => {
      const ids: { referral: number; request: number }[] = [];
      for (let i = 0; i < 40; i++) {
        const created = await requestCreation(ctx, w, { percentage: '1' }, await createBunit(ctx, `M${i}`));
        ids.push({ referral: created.id, request: created.pendingChange!.id });
      }
      const [approve, deny] = [ids.slice(0, 30), ids.slice(30)];
      const res = await w.checker
        .post(`/v1/bunits/${w.hq}/change-requests/moderate`, { approve: approve.map((x) => x.request), deny: deny.map((x) => x.request), reason: 'Quarterly review' })
        .set('X-Change-Reason', 'Q4 moderation');
      expect(res.status, JSON.stringify(res.body)).to.equal(200);
      expect(res.body.data.map((cr: { id: number; status: string }) => [cr.id, cr.status])).to.deep.equal([
        ...approve.map((x) => [x.request, 'approved']),
        ...deny.map((x) => [x.request, 'denied']),
      ]);
      for (const [group, status] of [[approve, 'approved'], [deny, 'denied']] as const) {
        for (const x of group) {
          const referral = (await w.checker.get(`${referralsOf(w.hq)}/${x.referral}`)).body;
          expect(referral).to.deep.include({ status, pendingChange: null });
          const history = (await w.checker.get(`${referralsOf(w.hq)}/${x.referral}/history`)).body.data as { action: string; reason: string }[];
          expect(history.map((e) => [e.action, e.reason]).slice(-2)).to.deep.equal([
            ['request-create', 'New partner deal'],
            [status === 'approved' ? 'approve' : 'deny', 'Q4 moderation'],
          ]);
        }
      }
      // Written to the outbox (pending_events) and numbered into the feed after the commit: either table.
      const events = [
        ...((await ctx.db('events').select('type', 'data')) as { type: string; data: string }[]),
        ...((await ctx.db('pending_events').select('type', 'data')) as { type: string; data: string }[]),
      ];
      const count = (type: string) => events.filter((e) => e.type === type).length;
      expect([count('referral.approved'), count('change_request.approved'), count('referral.denied'), count('change_request.denied')]).to.deep.equal([30, 30, 10, 10]);
      // Each event carries its resource as its GET shows it after the moderation.
      for (const e of events.filter((x) => x.type === 'referral.approved')) expect(JSON.parse(e.data)).to.deep.include({ status: 'approved', pendingChange: null });
      for (const e of events.filter((x) => x.type === 'change_request.denied')) expect(JSON.parse(e.data)).to.deep.include({ status: 'denied', decisionReason: 'Quarterly review', decidedBy: 'hq-approver' });
    });

    it('takes 1 to 1000 ids in all, each once, with a reason when any is denied', async () => {
      const moderate = (body: unknown) => w.checker.post(`/v1/bunits/${w.hq}/change-requests/moderate`, body);
      expectProblem(await moderate({}), 400, 'validation-failed');
      expectProblem(await moderate({ approve: [1], deny: [1], reason: 'x' }), 400, 'validation-failed');
      const tooMany = await moderate({ approve: Array.from({ length: 600 }, (_, i) => i + 1), deny: Array.from({ length: 401 }, (_, i) => i + 601), reason: 'x' });
      expectProblem(tooMany, 400, 'validation-failed');
      const noReason = await moderate({ deny: [1] });
      expectProblem(noReason, 400, 'validation-failed');
      expect(noReason.body.errors).to.deep.equal([{ path: 'body.reason', message: 'is required when change requests are denied' }]);
      expectProblem(await moderate({ approve: [999999] }), 404, 'not-found');
    });
  });

  describe('the audit trail and the list', () => {
    it('has every request and decision in the referral’s history, with key names and reasons', async () => {
      const created = await requestCreation(ctx, w, { percentage: '10' });
      await w.checker.post(crPath(w.hq, created.pendingChange!.id, '/approve'), { reason: 'Deal signed' });
      const cr = (await put(w, created.id, { percentage: '12' }).set('X-Change-Reason', 'Uplift')).body;
      await w.checker.post(crPath(w.hq, cr.id, '/deny'), { reason: 'Not agreed' });
      const history = (await w.maker.get(`${referralsOf(w.hq)}/${created.id}/history`)).body.data as { action: string; keyName: string; reason: string | null }[];
      expect(history.map((h) => [h.action, h.keyName, h.reason])).to.deep.equal([
        ['create', 'hq-billing', 'New partner deal'],
        ['request-create', 'hq-billing', 'New partner deal'],
        ['approve', 'hq-approver', 'Deal signed'],
        ['request-update', 'hq-billing', 'Uplift'],
        ['deny', 'hq-approver', 'Not agreed'],
      ]);
    });

    it('lists change requests by status, kind and referral, where the referral is visible', async () => {
      const a = await requestCreation(ctx, w);
      const b = await requestCreation(ctx, w, {}, w.dach);
      await w.checker.post(crPath(w.hq, b.pendingChange!.id, '/approve'), {});
      const pending = await w.checker.get(`/v1/bunits/${w.hq}/change-requests?status=pending`);
      expect(pending.body.data.map((cr: { id: number }) => cr.id)).to.deep.equal([a.pendingChange!.id]);
      const ofB = await w.checker.get(`/v1/bunits/${w.hq}/change-requests?referralId=${b.id}&kind=create`);
      expect(ofB.body.data.map((cr: { status: string }) => cr.status)).to.deep.equal(['approved']);
      expect((await w.checker.get(`${referralsOf(w.hq)}?status=pending`)).body.data.map((r: { id: number }) => r.id)).to.deep.equal([a.id]);
      expect((await w.checker.get(`${referralsOf(w.hq)}?status=approved`)).body.data.map((r: { id: number }) => r.id)).to.deep.equal([b.id]);
      const asNordics = await w.referrerChecker.get(`/v1/bunits/${w.nordics}/change-requests`);
      expect(asNordics.body.data.map((cr: { id: number }) => cr.id)).to.deep.equal([a.pendingChange!.id]);
      expectProblem(await w.checker.get(`/v1/bunits/${w.hq}/change-requests?status=maybe`), 400, 'validation-failed');
    });
  });
}, { approvalMode: 'maker-checker' });

describeApi('approver keys (SPEC §7.1, §11)', (ctx) => {
  it('an approver key acts for the business units it names (required), reads there, and makes no change', async () => {
    const hq = await createBunit(ctx, 'HQ');
    const res = await ctx.post('/v1/api-keys', { name: 'finance', role: 'approver' });
    expectProblem(res, 400, 'validation-failed');
    expect(res.body.errors).to.deep.equal([{ path: 'body.bunitIds', message: 'an approver key needs at least one business unit' }]);
    const key = await ctx.key('finance', 'approver', [hq]);
    const listed = await ctx.get(`/v1/api-keys/${key.id}`);
    expect(listed.body).to.deep.include({ role: 'approver', bunitIds: [hq] });
    const approver = ctx.as(key.secret);
    expect((await approver.get(`/v1/bunits/${hq}/referrals`)).status).to.equal(200);
    expectProblem(await approver.put(`/v1/bunits/${hq}`, { code: 'HQ', name: 'x' }), 403, 'forbidden');
    expectProblem(await approver.post(`/v1/bunits/${hq}/contracts`, { number: 'C', name: 'C', currency: 'EUR', startDate: '2026-01-01' }), 403, 'forbidden');
  });
});

describeApi('approval in mode none (SPEC §11)', (ctx) => {
  it('a referral is approved when created, a PUT applies at once, and there is no pending change', async () => {
    const hq = await createBunit(ctx, 'HQ');
    const nordics = await createBunit(ctx, 'NORDICS');
    const contract = await createContract(ctx, hq);
    const created = await ctx.post(referralsOf(hq), referralBody(contract, nordics, { billingStartDate: '2026-10-01' }));
    expect(created.body).to.deep.include({ status: 'approved', pendingChange: null, updatedDate: '2026-11-23T12:00:00.000Z' });
    ctx.clock.set('2026-11-24T10:00:00.000Z');
    const changed = await ctx.put(`${referralsOf(hq)}/${created.body.id}`, referralBody(contract, nordics, { percentage: '15' }));
    expect(changed.status).to.equal(200);
    expect(changed.body).to.deep.include({ percentage: '15', updatedDate: '2026-11-24T10:00:00.000Z' });
    expect((await ctx.get(`/v1/bunits/${hq}/change-requests`)).body.meta.total).to.equal(0);
  });
});
