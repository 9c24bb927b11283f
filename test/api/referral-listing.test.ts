import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, world } from '../helpers/fixtures';

/** GET /v1/bunits/{id}/referrals: filters, paging and sorting (SPEC §2, §4.1, §6.2, R10, R11). */

interface Listed {
  id: number;
  percentage: string;
  billingStartDate: string;
  createdDate: string;
  archivedDate: string | null;
}

async function list(ctx: ApiContext, bunitId: number, query = '') {
  const res = await ctx.get(`/v1/bunits/${bunitId}/referrals${query ? `?${query}` : ''}`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res.body as { data: Listed[]; meta: { total: number; limit: number; offset: number } };
}

async function ids(ctx: ApiContext, bunitId: number, query = ''): Promise<number[]> {
  return (await list(ctx, bunitId, query)).data.map((r) => r.id);
}

describeApi('listing referrals', (ctx) => {
  describe('who sees what (R11) and the role filter', () => {
    /**
     * owner's C-1 is referred by alice (r1) and bob (r2); alice's A-1 by bob (r3); bob's B-1 by
     * owner (r4).
     */
    async function network() {
      const { owner, alice, bob, contract } = await world(ctx);
      const aliceContract = await createContract(ctx, alice, { number: 'A-1' });
      const bobContract = await createContract(ctx, bob, { number: 'B-1' });
      const r1 = (await createReferral(ctx, owner, contract, alice)).id;
      const r2 = (await createReferral(ctx, owner, contract, bob)).id;
      const r3 = (await createReferral(ctx, alice, aliceContract, bob)).id;
      const r4 = (await createReferral(ctx, bob, bobContract, owner)).id;
      return { owner, alice, bob, contract, aliceContract, bobContract, r1, r2, r3, r4 };
    }

    it('shows a business unit the referrals on its own contracts and those it earns from, and no others', async () => {
      const n = await network();
      expect(await ids(ctx, n.owner)).to.deep.equal([n.r1, n.r2, n.r4]);
      expect(await ids(ctx, n.alice)).to.deep.equal([n.r1, n.r3]);
      expect(await ids(ctx, n.bob)).to.deep.equal([n.r2, n.r3, n.r4]);
      expect((await list(ctx, n.bob)).meta).to.deep.equal({ total: 3, limit: 50, offset: 0 });
      const outsider = await createBunit(ctx, 'OUTSIDER');
      expect(await list(ctx, outsider)).to.deep.equal({ data: [], meta: { total: 0, limit: 50, offset: 0 } });
    });

    it('lists with role=owner the referrals on its contracts, with role=referrer those it earns from, with role=any both', async () => {
      const n = await network();
      expect(await ids(ctx, n.owner, 'role=owner')).to.deep.equal([n.r1, n.r2]);
      expect(await ids(ctx, n.owner, 'role=referrer')).to.deep.equal([n.r4]);
      expect(await ids(ctx, n.owner, 'role=any')).to.deep.equal([n.r1, n.r2, n.r4]);
      expect(await ids(ctx, n.bob, 'role=owner')).to.deep.equal([n.r4]);
      expect(await ids(ctx, n.bob, 'role=referrer')).to.deep.equal([n.r2, n.r3]);
      expect((await list(ctx, n.bob, 'role=referrer')).meta.total).to.equal(2);
    });

    it('lists each referral as GET shows it, relations included', async () => {
      const n = await network();
      const single = await ctx.get(`/v1/bunits/${n.alice}/referrals/${n.r1}`);
      const listed = (await list(ctx, n.alice)).data.find((r) => r.id === n.r1);
      expect(listed).to.deep.equal(single.body);
      expect(listed).to.deep.include({
        contract: { id: n.contract, number: 'C-1', currency: 'EUR' },
        referrer: { id: n.alice, code: 'ALICE', name: 'ALICE unit' },
      });
    });

    it('filters by contractId within what the business unit may see', async () => {
      const n = await network();
      expect(await ids(ctx, n.owner, `contractId=${n.contract}`)).to.deep.equal([n.r1, n.r2]);
      expect(await ids(ctx, n.alice, `contractId=${n.contract}`), 'alice sees only her own referral of C-1').to.deep.equal([n.r1]);
      expect(await ids(ctx, n.owner, `contractId=${n.aliceContract}`), 'a contract the owner has no part in').to.deep.equal([]);
      expect(await ids(ctx, n.owner, 'contractId=4242')).to.deep.equal([]);
    });

    it('filters by referrerId, combined with role', async () => {
      const n = await network();
      expect(await ids(ctx, n.owner, `referrerId=${n.bob}`)).to.deep.equal([n.r2]);
      expect(await ids(ctx, n.owner, `referrerId=${n.owner}`)).to.deep.equal([n.r4]);
      expect(await ids(ctx, n.bob, `referrerId=${n.bob}`)).to.deep.equal([n.r2, n.r3]);
      expect(await ids(ctx, n.bob, `referrerId=${n.bob}&role=owner`), 'bob does not refer his own contract').to.deep.equal([]);
      expect(await ids(ctx, n.owner, `referrerId=${n.bob}&role=referrer`)).to.deep.equal([]);
      expect(await ids(ctx, n.bob, `referrerId=${n.bob}&contractId=${n.aliceContract}`)).to.deep.equal([n.r3]);
    });

    it('answers 404 not-found for an unknown business unit', async () => {
      await network();
      expectProblem(await ctx.get('/v1/bunits/4242/referrals'), 404, 'not-found');
    });
  });

  describe('activeOn: billable on that day (§6.2)', () => {
    it('keeps the referrals whose billing window contains the day, both ends inclusive', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const dave = await createBunit(ctx, 'DAVE');
      const october = (await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01', billingEndDate: '2026-10-31' })).id;
      const open = (await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' })).id;
      const december = (await createReferral(ctx, owner, contract, carol, { billingStartDate: '2026-12-01', billingEndDate: '2026-12-31' })).id;
      const oneDay = (await createReferral(ctx, owner, contract, dave, { billingStartDate: '2026-11-15', billingEndDate: '2026-11-15' })).id;

      const activeOn = (day: string) => ids(ctx, owner, `activeOn=${day}`);
      expect(await activeOn('2026-09-30')).to.deep.equal([]);
      expect(await activeOn('2026-10-01')).to.deep.equal([october]);
      expect(await activeOn('2026-10-31')).to.deep.equal([october]);
      expect(await activeOn('2026-11-01')).to.deep.equal([open]);
      expect(await activeOn('2026-11-14')).to.deep.equal([open]);
      expect(await activeOn('2026-11-15')).to.deep.equal([open, oneDay]);
      expect(await activeOn('2026-11-16')).to.deep.equal([open]);
      expect(await activeOn('2026-12-01')).to.deep.equal([open, december]);
      expect(await activeOn('2026-12-31')).to.deep.equal([open, december]);
      expect(await activeOn('2027-06-01')).to.deep.equal([open]);
      expect((await list(ctx, owner, 'activeOn=2026-11-15')).meta.total).to.equal(2);
      expect(await ids(ctx, alice, 'activeOn=2026-10-15'), 'combined with visibility').to.deep.equal([october]);
      expect(await ids(ctx, alice, 'activeOn=2026-11-15')).to.deep.equal([]);
    });

    it('treats a referral archived at a timestamp as not billable from that calendar day on', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const archived = (await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' })).id;
      const kept = (await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' })).id;
      ctx.clock.set('2026-11-23T12:00:00.000Z');
      expect((await ctx.del(`/v1/bunits/${owner}/referrals/${archived}`)).status).to.equal(204);

      expect(await ids(ctx, owner, 'activeOn=2026-11-22&archived=include'), 'the day before its archive day').to.deep.equal([archived, kept]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-23&archived=include'), 'archived at noon: not billable that day').to.deep.equal([kept]);
      expect(await ids(ctx, owner, 'activeOn=2026-12-01&archived=include')).to.deep.equal([kept]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-22&archived=only')).to.deep.equal([archived]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-22'), 'archived ones stay left out by default').to.deep.equal([kept]);
    });

    it('counts a scheduled archive: billable up to the day before, not from its day on, and listed until it comes', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const soon = (await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' })).id;
      const midnight = (await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' })).id;
      expect((await ctx.del(`/v1/bunits/${owner}/referrals/${soon}?at=2026-11-25T08:00:00.000Z`)).status).to.equal(204);
      expect((await ctx.del(`/v1/bunits/${owner}/referrals/${midnight}?at=2026-11-27T00:00:00.000Z`)).status).to.equal(204);

      expect(await ids(ctx, owner), 'not archived yet').to.deep.equal([soon, midnight]);
      expect(await ids(ctx, owner, 'archived=only')).to.deep.equal([]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-24')).to.deep.equal([soon, midnight]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-25')).to.deep.equal([midnight]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-26'), 'archived at the very start of the next day').to.deep.equal([midnight]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-27')).to.deep.equal([]);

      ctx.clock.set('2026-11-25T08:00:00.000Z');
      expect(await ids(ctx, owner), 'once the instant has come').to.deep.equal([midnight]);
      expect(await ids(ctx, owner, 'archived=only')).to.deep.equal([soon]);
      expect(await ids(ctx, owner, 'activeOn=2026-11-24&archived=include')).to.deep.equal([soon, midnight]);
    });
  });

  describe('archived filter', () => {
    it('leaves archived referrals out by default, includes them with archived=include, and lists only them with archived=only', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const second = await createContract(ctx, owner, { number: 'C-2' });
      const a = (await createReferral(ctx, owner, contract, alice)).id;
      const b = (await createReferral(ctx, owner, contract, bob)).id;
      const c = (await createReferral(ctx, owner, second, alice)).id;
      ctx.clock.set('2026-11-23T13:00:00.000Z');
      expect((await ctx.del(`/v1/bunits/${owner}/referrals/${b}`)).status).to.equal(204);

      expect(await ids(ctx, owner)).to.deep.equal([a, c]);
      expect(await ids(ctx, owner, 'archived=exclude')).to.deep.equal([a, c]);
      expect(await ids(ctx, owner, 'archived=include')).to.deep.equal([a, b, c]);
      expect(await ids(ctx, owner, 'archived=only')).to.deep.equal([b]);
      expect((await list(ctx, owner, 'archived=only')).data[0]!.archivedDate).to.equal('2026-11-23T13:00:00.000Z');
      expect((await list(ctx, owner, 'archived=include')).meta.total).to.equal(3);
      expect(await ids(ctx, bob, 'archived=only'), 'the referrer sees it archived too').to.deep.equal([b]);

      expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);
      expect(await ids(ctx, owner), 'archiving the contract archives its referrals (R12)').to.deep.equal([c]);
      expect(await ids(ctx, owner, 'archived=only')).to.deep.equal([a, b]);
    });
  });

  describe('paging', () => {
    it('pages with limit and offset, meta.total counting every match, and the pages add up to the whole list', async () => {
      const { owner, alice, bob } = await world(ctx);
      const all: number[] = [];
      for (let i = 0; i < 5; i++) {
        const contract = await createContract(ctx, owner, { number: `P-${i}` });
        all.push((await createReferral(ctx, owner, contract, i % 2 === 0 ? alice : bob)).id);
      }
      const pages = [];
      for (const offset of [0, 2, 4]) {
        const page = await list(ctx, owner, `limit=2&offset=${offset}`);
        expect(page.meta).to.deep.equal({ total: 5, limit: 2, offset });
        pages.push(...page.data.map((r) => r.id));
      }
      expect(pages).to.deep.equal(all);
      expect(await list(ctx, owner, 'limit=2&offset=5')).to.deep.equal({ data: [], meta: { total: 5, limit: 2, offset: 5 } });
      expect(await ids(ctx, owner, 'limit=200')).to.deep.equal(all);
      const filtered = await list(ctx, owner, `referrerId=${alice}&limit=1&offset=1`);
      expect(filtered.meta.total, 'the total counts the filtered matches').to.equal(3);
      expect(filtered.data.map((r) => r.id)).to.deep.equal([all[2]]);
    });
  });

  describe('sorting', () => {
    it('sorts by id by default, and by -id descending', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const a = (await createReferral(ctx, owner, contract, alice)).id;
      const b = (await createReferral(ctx, owner, contract, bob)).id;
      expect(await ids(ctx, owner)).to.deep.equal([a, b]);
      expect(await ids(ctx, owner, 'sort=id')).to.deep.equal([a, b]);
      expect(await ids(ctx, owner, 'sort=-id')).to.deep.equal([b, a]);
    });

    it('sorts by billingStartDate, ties in id order (descending with -)', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const late = (await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-12-01' })).id;
      const early = (await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-10-01' })).id;
      const lateToo = (await createReferral(ctx, owner, contract, carol, { billingStartDate: '2026-12-01' })).id;
      expect(await ids(ctx, owner, 'sort=billingStartDate')).to.deep.equal([early, late, lateToo]);
      expect(await ids(ctx, owner, 'sort=-billingStartDate')).to.deep.equal([lateToo, late, early]);
    });

    it('sorts by createdDate, ties in id order (descending with -)', async () => {
      const { owner, alice, bob } = await world(ctx);
      const carol = await createBunit(ctx, 'CAROL');
      const contracts = [];
      for (let i = 0; i < 4; i++) contracts.push(await createContract(ctx, owner, { number: `S-${i}` }));
      ctx.clock.set('2026-11-23T12:00:00.000Z');
      const noon = (await createReferral(ctx, owner, contracts[0]!, alice)).id;
      ctx.clock.set('2026-11-23T10:00:00.000Z');
      const ten = (await createReferral(ctx, owner, contracts[1]!, bob)).id;
      ctx.clock.set('2026-11-23T11:00:00.000Z');
      const eleven = (await createReferral(ctx, owner, contracts[2]!, carol)).id;
      const elevenToo = (await createReferral(ctx, owner, contracts[3]!, alice)).id;
      ctx.clock.set('2026-11-23T12:30:00.000Z');
      expect(await ids(ctx, owner, 'sort=createdDate')).to.deep.equal([ten, eleven, elevenToo, noon]);
      expect(await ids(ctx, owner, 'sort=-createdDate')).to.deep.equal([noon, elevenToo, eleven, ten]);
    });

    it('sorts by percentage as a number ("9" before "12.5", "100" last), ties in id order', async () => {
      const { owner, alice, bob } = await world(ctx);
      const made: Record<string, number> = {};
      const percentages = ['12.5', '100', '9', '0.5', '12.5', '10', '9.25', '99.9999'];
      for (const [i, percentage] of percentages.entries()) {
        const contract = await createContract(ctx, owner, { number: `P-${i}` });
        const r = await createReferral(ctx, owner, contract, i % 2 === 0 ? alice : bob, { percentage });
        made[made[percentage] === undefined ? percentage : `${percentage}'`] = r.id;
      }
      const ascending = ['0.5', '9', '9.25', '10', '12.5', "12.5'", '99.9999', '100'].map((p) => made[p]);
      const res = await list(ctx, owner, 'sort=percentage');
      expect(res.data.map((r) => r.id)).to.deep.equal(ascending);
      expect(res.data.map((r) => r.percentage)).to.deep.equal(['0.5', '9', '9.25', '10', '12.5', '12.5', '99.9999', '100']);
      expect(await ids(ctx, owner, 'sort=-percentage')).to.deep.equal([...ascending].reverse());
      expect(await ids(ctx, owner, 'sort=percentage&limit=3&offset=3'), 'pages of a sorted list').to.deep.equal(ascending.slice(3, 6));
    });

    it('sorts by the percentage in effect today, after a change (R8)', async () => {
      const { owner, alice, bob } = await world(ctx);
      const first = await createContract(ctx, owner, { number: 'P-1' });
      const second = await createContract(ctx, owner, { number: 'P-2' });
      const changed = await createReferral(ctx, owner, first, alice, { billingStartDate: '2026-11-01', percentage: '50' });
      const steady = (await createReferral(ctx, owner, second, bob, { billingStartDate: '2026-11-01', percentage: '20' })).id;
      const put = await ctx.put(`/v1/bunits/${owner}/referrals/${changed.id}`, { ...changed, percentage: '5' });
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const res = await list(ctx, owner, 'sort=percentage');
      expect(res.data.map((r) => [r.id, r.percentage])).to.deep.equal([
        [changed.id, '5'],
        [steady, '20'],
      ]);
    });

    it('gives the same order every time, whatever the sort', async () => {
      const { owner, alice, bob } = await world(ctx);
      for (let i = 0; i < 6; i++) {
        const contract = await createContract(ctx, owner, { number: `D-${i}` });
        await createReferral(ctx, owner, contract, i % 2 === 0 ? alice : bob, { percentage: '10', billingStartDate: '2026-11-01' });
      }
      for (const sort of ['billingStartDate', '-billingStartDate', 'createdDate', '-createdDate', 'percentage', '-percentage']) {
        const whole = await ids(ctx, owner, `sort=${sort}`);
        const paged = [...(await ids(ctx, owner, `sort=${sort}&limit=4`)), ...(await ids(ctx, owner, `sort=${sort}&limit=4&offset=4`))];
        expect(paged, sort).to.deep.equal(whole);
        const byId = [...whole].sort((x, y) => x - y);
        expect(whole, `${sort}: all tied, so in id order`).to.deep.equal(sort.startsWith('-') ? byId.reverse() : byId);
      }
    });
  });
});

/** The filters for clients that sync, and SaaSquatch's moderation filters (SPEC §4.1, §11). */
describeApi('listing referrals for syncing clients and moderation', (ctx) => {
  it('updatedSince: the referrals changed at or after an instant, in updatedDate order with sort=updatedDate', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const first = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01' });
    ctx.clock.set('2026-11-23T13:00:00.000Z');
    const second = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-10-01' });
    ctx.clock.set('2026-11-23T14:00:00.000Z');
    const changed = await ctx.put(`/v1/bunits/${owner}/referrals/${first.id}`, { contract: { id: contract }, referrer: { id: alice }, percentage: '11' });
    expect(changed.body.updatedDate).to.equal('2026-11-23T14:00:00.000Z');
    expect(await ids(ctx, owner, 'updatedSince=2026-11-23T13:00:00Z&sort=updatedDate')).to.deep.equal([second.id, first.id]);
    expect(await ids(ctx, owner, 'updatedSince=2026-11-23T14:00:00.001Z')).to.deep.equal([]);
    expect(await ids(ctx, owner, 'sort=-updatedDate')).to.deep.equal([first.id, second.id]);
    expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals?updatedSince=yesterday`), 400, 'validation-failed');
  });

  it('createdDate=from,to: inclusive, either side empty, dates as whole days or timestamps', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const other = await createContract(ctx, owner, { number: 'C-2' });
    ctx.clock.set('2026-11-20T23:59:59.999Z');
    const a = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01' });
    ctx.clock.set('2026-11-21T00:00:00.000Z');
    const b = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-10-01' });
    ctx.clock.set('2026-11-22T12:00:00.000Z');
    const c = await createReferral(ctx, owner, other, alice, { billingStartDate: '2026-10-01' });
    expect(await ids(ctx, owner, 'createdDate=2026-11-21,2026-11-22')).to.deep.equal([b.id, c.id]);
    expect(await ids(ctx, owner, 'createdDate=,2026-11-20')).to.deep.equal([a.id]);
    expect(await ids(ctx, owner, 'createdDate=2026-11-22,')).to.deep.equal([c.id]);
    expect(await ids(ctx, owner, 'createdDate=2026-11-20T23:59:59.999Z,2026-11-21T00:00:00Z')).to.deep.equal([a.id, b.id]);
    for (const bad of [',', '2026-11-21', '2026-02-30,', 'x,y', '2026-11-01,2026-11-02,2026-11-03']) {
      expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals?createdDate=${bad}`), 400, 'validation-failed');
    }
  });

  it('billingEndDate=from,to: inclusive, either side empty; open-ended referrals have no end date and are left out', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const other = await createContract(ctx, owner, { number: 'C-2' });
    const carol = await createBunit(ctx, 'CAROL');
    const ending = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01', billingEndDate: '2026-12-31' });
    const later = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-10-01', billingEndDate: '2027-03-31' });
    await createReferral(ctx, owner, other, carol, { billingStartDate: '2026-10-01' });
    expect(await ids(ctx, owner, 'billingEndDate=,2026-12-31')).to.deep.equal([ending.id]);
    expect(await ids(ctx, owner, 'billingEndDate=2027-01-01,')).to.deep.equal([later.id]);
    expect(await ids(ctx, owner, 'billingEndDate=2026-12-31,2027-03-31')).to.deep.equal([ending.id, later.id]);
    expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals?billingEndDate=2027-01-01,2026-12-31`), 400, 'validation-failed');
  });

  it('status: pending, approved or denied (in mode none every referral is approved)', async () => {
    const { owner, alice, contract } = await world(ctx);
    const r = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-10-01' });
    expect(await ids(ctx, owner, 'status=approved')).to.deep.equal([r.id]);
    expect(await ids(ctx, owner, 'status=pending')).to.deep.equal([]);
    expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals?status=moderated`), 400, 'validation-failed');
  });
});
