import { expect } from 'chai';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, world } from '../helpers/fixtures';

/** Business units and contracts over REST (SPEC §3.1, §3.2, §4, §7.3). */

const contractBody = (overrides: Record<string, unknown> = {}) => ({
  number: 'C-2026-001',
  name: 'Fleet telematics, 3 years',
  customer: 'Acme Logistics AS',
  currency: 'EUR',
  startDate: '2026-10-01',
  endDate: null,
  ...overrides,
});

async function read(ctx: ApiContext, path: string) {
  const res = await ctx.get(path);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  return res;
}

/** The accounts a new business unit's journals book on (SPEC §16). */
const DEFAULT_ACCOUNTS = {
  receivable: 'intercompany-receivable',
  payable: 'intercompany-payable',
  income: 'revenue-share-income',
  expense: 'revenue-share-expense',
  clearing: 'intercompany-clearing',
};

const ids = (res: { body: { data: { id: number }[] } }) => res.body.data.map((x) => x.id);

describeApi('business units', (ctx) => {
  it('creates a business unit: 201 with Location and ETag, and GET answers the same body and ETag', async () => {
    const res = await ctx.post('/v1/bunits', { code: 'NORDICS', name: 'Nordic Sales' });
    expect(res.status).to.equal(201);
    expect(res.body).to.deep.equal({
      id: res.body.id,
      code: 'NORDICS',
      name: 'Nordic Sales',
      createdDate: '2026-11-23T12:00:00.000Z',
      archivedDate: null,
      accounts: DEFAULT_ACCOUNTS,
    });
    expect(res.headers.location).to.equal(`/v1/bunits/${res.body.id}`);
    expect(res.headers.etag).to.match(/^"[^"]+"$/, 'a strong ETag');
    const got = await read(ctx, res.headers.location!);
    expect(got.body).to.deep.equal(res.body);
    expect(got.headers.etag).to.equal(res.headers.etag);
  });

  it('trims the name it is given', async () => {
    const res = await ctx.post('/v1/bunits', { code: 'HQ', name: '  Head office  ' });
    expect(res.status).to.equal(201);
    expect(res.body.name).to.equal('Head office');
  });

  it('lists business units by id with meta, and pages through them', async () => {
    const a = await createBunit(ctx, 'AAA');
    const b = await createBunit(ctx, 'BBB');
    const c = await createBunit(ctx, 'CCC');
    const all = await read(ctx, '/v1/bunits');
    expect(ids(all)).to.deep.equal([a, b, c]);
    expect(all.body.meta).to.deep.equal({ total: 3, limit: 50, offset: 0 });
    const page = await read(ctx, '/v1/bunits?limit=1&offset=1');
    expect(ids(page)).to.deep.equal([b]);
    expect(page.body.meta).to.deep.equal({ total: 3, limit: 1, offset: 1 });
    expect(ids(await read(ctx, '/v1/bunits?sort=-code'))).to.deep.equal([c, b, a]);
  });

  it('saves changes with PUT, ignoring the read-only fields sent back, and the ETag changes', async () => {
    const created = await ctx.post('/v1/bunits', { code: 'NORDICS', name: 'Nordic Sales' });
    const id = created.body.id as number;
    ctx.clock.set('2026-11-24T08:00:00.000Z');
    const saved = await ctx.put(`/v1/bunits/${id}`, {
      ...created.body,
      code: 'NORDICS-2',
      name: 'Nordic Sales & Services',
      id: 999,
      createdDate: '2020-01-01T00:00:00.000Z',
      archivedDate: '2020-01-02T00:00:00.000Z',
    });
    expect(saved.status, JSON.stringify(saved.body)).to.equal(200);
    expect(saved.body).to.deep.equal({
      id,
      code: 'NORDICS-2',
      name: 'Nordic Sales & Services',
      createdDate: '2026-11-23T12:00:00.000Z',
      archivedDate: null,
      accounts: DEFAULT_ACCOUNTS,
    });
    expect(saved.headers.etag).to.be.a('string').and.not.equal(created.headers.etag);
    const got = await read(ctx, `/v1/bunits/${id}`);
    expect(got.body).to.deep.equal(saved.body);
    expect(got.headers.etag).to.equal(saved.headers.etag);
    expect((await ctx.get('/v1/bunits/999')).status).to.equal(404);
  });

  it('answers 404 not-found for an unknown business unit, on GET, PUT and DELETE', async () => {
    await createBunit(ctx, 'HQ');
    expectProblem(await ctx.get('/v1/bunits/4242'), 404, 'not-found');
    expectProblem(await ctx.put('/v1/bunits/4242', { code: 'X1', name: 'x' }), 404, 'not-found');
    expectProblem(await ctx.del('/v1/bunits/4242'), 404, 'not-found');
    expect((await read(ctx, '/v1/bunits?archived=include')).body.meta.total).to.equal(1);
  });

  it('answers 409 duplicate-code for a code already taken, on create and on save, and writes nothing', async () => {
    const hq = await createBunit(ctx, 'HQ', 'Head office');
    const nordics = await createBunit(ctx, 'NORDICS', 'Nordic Sales');
    expectProblem(await ctx.post('/v1/bunits', { code: 'HQ', name: 'Another head office' }), 409, 'duplicate-code');
    expectProblem(await ctx.put(`/v1/bunits/${nordics}`, { code: 'HQ', name: 'Nordic Sales' }), 409, 'duplicate-code');
    const list = await read(ctx, '/v1/bunits?archived=include');
    expect(list.body.data.map((b: { id: number; code: string; name: string }) => [b.id, b.code, b.name])).to.deep.equal([
      [hq, 'HQ', 'Head office'],
      [nordics, 'NORDICS', 'Nordic Sales'],
    ]);
    const same = await ctx.put(`/v1/bunits/${hq}`, { code: 'HQ', name: 'Head office, renamed' });
    expect(same.status, 'keeping its own code is no duplicate').to.equal(200);
  });

  it('keeps the code of an archived business unit taken', async () => {
    const hq = await createBunit(ctx, 'HQ');
    expect((await ctx.del(`/v1/bunits/${hq}`)).status).to.equal(204);
    expectProblem(await ctx.post('/v1/bunits', { code: 'HQ', name: 'New head office' }), 409, 'duplicate-code');
  });

  it('archives on DELETE (204): still readable with archivedDate, listed by the archived filter, and read-only', async () => {
    const hq = await createBunit(ctx, 'HQ');
    const gone = await createBunit(ctx, 'GONE');
    const before = await read(ctx, `/v1/bunits/${gone}`);
    ctx.clock.set('2026-11-23T13:30:00.000Z');
    const res = await ctx.del(`/v1/bunits/${gone}`);
    expect(res.status).to.equal(204);
    expect(res.text).to.equal('');
    const after = await read(ctx, `/v1/bunits/${gone}`);
    expect(after.body.archivedDate).to.equal('2026-11-23T13:30:00.000Z');
    expect(after.headers.etag).to.not.equal(before.headers.etag);

    expect(ids(await read(ctx, '/v1/bunits'))).to.deep.equal([hq]);
    expect(ids(await read(ctx, '/v1/bunits?archived=exclude'))).to.deep.equal([hq]);
    expect(ids(await read(ctx, '/v1/bunits?archived=include'))).to.deep.equal([hq, gone]);
    expect(ids(await read(ctx, '/v1/bunits?archived=only'))).to.deep.equal([gone]);
    expect((await read(ctx, '/v1/bunits?archived=only')).body.meta.total).to.equal(1);

    expectProblem(await ctx.put(`/v1/bunits/${gone}`, { code: 'GONE', name: 'Back again' }), 409, 'archived');
    expect((await read(ctx, `/v1/bunits/${gone}`)).body).to.deep.equal(after.body);

    ctx.clock.set('2026-11-24T09:00:00.000Z');
    expect((await ctx.del(`/v1/bunits/${gone}`)).status, 'DELETE again').to.equal(204);
    expect((await read(ctx, `/v1/bunits/${gone}`)).body.archivedDate, 'the first archive date stays').to.equal('2026-11-23T13:30:00.000Z');
  });

  describe('If-Match (SPEC §7.3)', () => {
    it('answers 412 precondition-failed to a PUT with a stale ETag and changes nothing', async () => {
      const created = await ctx.post('/v1/bunits', { code: 'HQ', name: 'Head office' });
      const id = created.body.id as number;
      const first = await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'First change' }).set('If-Match', created.headers.etag!);
      expect(first.status).to.equal(200);
      const stale = await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'Lost update' }).set('If-Match', created.headers.etag!);
      expectProblem(stale, 412, 'precondition-failed');
      const got = await read(ctx, `/v1/bunits/${id}`);
      expect(got.body.name).to.equal('First change');
      expect(got.headers.etag).to.equal(first.headers.etag);
    });

    it('answers 412 precondition-failed to a DELETE with a stale ETag and does not archive', async () => {
      const created = await ctx.post('/v1/bunits', { code: 'HQ', name: 'Head office' });
      const id = created.body.id as number;
      await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'Renamed' });
      expectProblem(await ctx.del(`/v1/bunits/${id}`).set('If-Match', created.headers.etag!), 412, 'precondition-failed');
      expect((await read(ctx, `/v1/bunits/${id}`)).body.archivedDate).to.equal(null);
      expectProblem(await ctx.del(`/v1/bunits/${id}`).set('If-Match', '"something-else"'), 412, 'precondition-failed');
      expect((await read(ctx, '/v1/bunits')).body.meta.total).to.equal(1);
    });

    it('saves and archives when If-Match carries the current ETag (or *)', async () => {
      const created = await ctx.post('/v1/bunits', { code: 'HQ', name: 'Head office' });
      const id = created.body.id as number;
      const current = (await read(ctx, `/v1/bunits/${id}`)).headers.etag!;
      const saved = await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'Renamed' }).set('If-Match', current);
      expect(saved.status).to.equal(200);
      const star = await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'Renamed again' }).set('If-Match', '*');
      expect(star.status).to.equal(200);
      const del = await ctx.del(`/v1/bunits/${id}`).set('If-Match', `"old", ${star.headers.etag!}`);
      expect(del.status).to.equal(204);
      expect((await read(ctx, `/v1/bunits/${id}`)).body.archivedDate).to.equal('2026-11-23T12:00:00.000Z');
    });

    it('does not match a weak ETag (If-Match compares strongly)', async () => {
      const created = await ctx.post('/v1/bunits', { code: 'HQ', name: 'Head office' });
      const res = await ctx.put(`/v1/bunits/${created.body.id}`, { code: 'HQ', name: 'x' }).set('If-Match', `W/${created.headers.etag!}`);
      expectProblem(res, 412, 'precondition-failed');
    });
  });
});

describeApi('contracts', (ctx) => {
  it('creates a contract: 201 with Location and ETag, nullable fields defaulting to null, and GET answers the same', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const res = await ctx.post(`/v1/bunits/${owner}/contracts`, { number: 'C-1', name: 'Fleet', currency: 'NOK', startDate: '2026-10-01' });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.deep.equal({
      id: res.body.id,
      bunitId: owner,
      number: 'C-1',
      name: 'Fleet',
      customer: null,
      currency: 'NOK',
      startDate: '2026-10-01',
      endDate: null,
      createdDate: '2026-11-23T12:00:00.000Z',
      archivedDate: null,
    });
    expect(res.headers.location).to.equal(`/v1/bunits/${owner}/contracts/${res.body.id}`);
    expect(res.headers.etag).to.match(/^"[^"]+"$/);
    const got = await read(ctx, res.headers.location!);
    expect(got.body).to.deep.equal(res.body);
    expect(got.headers.etag).to.equal(res.headers.etag);
  });

  it('answers 409 archived to a new contract under an archived business unit, and creates nothing; its contracts run on', async () => {
    const { owner, contract } = await world(ctx);
    expect((await ctx.del(`/v1/bunits/${owner}`)).status).to.equal(204);
    expectProblem(
      await ctx.post(`/v1/bunits/${owner}/contracts`, { number: 'C-2', name: 'Fleet', currency: 'EUR', startDate: '2026-10-01' }),
      409,
      'archived',
    );
    const list = await read(ctx, `/v1/bunits/${owner}/contracts`);
    expect(ids(list)).to.deep.equal([contract]);
    const current = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    expect((await ctx.put(`/v1/bunits/${owner}/contracts/${contract}`, { ...current.body, endDate: '2026-12-31' })).status).to.equal(200);
  });

  it('lists only the contracts of the business unit in the path', async () => {
    const { owner, alice, contract } = await world(ctx);
    const second = await createContract(ctx, owner, { number: 'C-2' });
    const alices = await createContract(ctx, alice, { number: 'C-1' });
    const list = await read(ctx, `/v1/bunits/${owner}/contracts`);
    expect(ids(list)).to.deep.equal([contract, second]);
    expect(list.body.meta).to.deep.equal({ total: 2, limit: 50, offset: 0 });
    expect(ids(await read(ctx, `/v1/bunits/${alice}/contracts`))).to.deep.equal([alices]);
    expect(ids(await read(ctx, `/v1/bunits/${owner}/contracts?sort=-number`))).to.deep.equal([second, contract]);
  });

  it('saves changes with PUT, ignoring the read-only fields sent back, and the ETag changes', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const created = await ctx.post(`/v1/bunits/${owner}/contracts`, contractBody());
    const id = created.body.id as number;
    const saved = await ctx.put(`/v1/bunits/${owner}/contracts/${id}`, {
      ...created.body,
      name: 'Fleet telematics, 4 years',
      customer: 'Acme Logistics ASA',
      endDate: '2030-09-30',
      id: 12345,
      createdDate: '1999-01-01T00:00:00.000Z',
      archivedDate: '1999-01-01T00:00:00.000Z',
    });
    expect(saved.status, JSON.stringify(saved.body)).to.equal(200);
    expect(saved.body).to.deep.equal({
      ...created.body,
      name: 'Fleet telematics, 4 years',
      customer: 'Acme Logistics ASA',
      endDate: '2030-09-30',
    });
    expect(saved.headers.etag).to.be.a('string').and.not.equal(created.headers.etag);
    const got = await read(ctx, `/v1/bunits/${owner}/contracts/${id}`);
    expect(got.body).to.deep.equal(saved.body);
    expect(got.headers.etag).to.equal(saved.headers.etag);
  });

  it('answers 409 duplicate-contract-number for a number taken in the same business unit, and allows it in another', async () => {
    const { owner, alice, contract } = await world(ctx);
    expectProblem(await ctx.post(`/v1/bunits/${owner}/contracts`, contractBody({ number: 'C-1' })), 409, 'duplicate-contract-number');
    const other = await ctx.post(`/v1/bunits/${alice}/contracts`, contractBody({ number: 'C-1' }));
    expect(other.status, 'the same number in another business unit').to.equal(201);
    const second = await createContract(ctx, owner, { number: 'C-2' });
    const renamed = await ctx.put(`/v1/bunits/${owner}/contracts/${second}`, contractBody({ number: 'C-1' }));
    expectProblem(renamed, 409, 'duplicate-contract-number');
    const list = await read(ctx, `/v1/bunits/${owner}/contracts?archived=include`);
    expect(list.body.data.map((c: { id: number; number: string }) => [c.id, c.number])).to.deep.equal([
      [contract, 'C-1'],
      [second, 'C-2'],
    ]);
  });

  it('answers 409 immutable-relation when a PUT changes the currency or the owner, and changes nothing', async () => {
    const { owner, alice, contract } = await world(ctx);
    const before = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    const body = { ...before.body, name: 'Changed name' };
    expectProblem(await ctx.put(`/v1/bunits/${owner}/contracts/${contract}`, { ...body, currency: 'USD' }), 409, 'immutable-relation');
    expectProblem(await ctx.put(`/v1/bunits/${owner}/contracts/${contract}`, { ...body, bunitId: alice }), 409, 'immutable-relation');
    const after = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    expect(after.body).to.deep.equal(before.body);
    expect(after.headers.etag).to.equal(before.headers.etag);
  });

  it('answers 404 for a contract of another business unit under the path, on GET, PUT and DELETE, and changes nothing', async () => {
    const { owner, alice, contract } = await world(ctx);
    const before = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    expectProblem(await ctx.get(`/v1/bunits/${alice}/contracts/${contract}`), 404, 'not-found');
    expectProblem(await ctx.put(`/v1/bunits/${alice}/contracts/${contract}`, { ...before.body, name: 'Hijacked' }), 404, 'not-found');
    expectProblem(await ctx.del(`/v1/bunits/${alice}/contracts/${contract}`), 404, 'not-found');
    const after = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    expect(after.body).to.deep.equal(before.body);
    expect(after.headers.etag).to.equal(before.headers.etag);
  });

  it('answers 404 for an unknown business unit or contract, and creates nothing', async () => {
    const { owner } = await world(ctx);
    expectProblem(await ctx.get('/v1/bunits/4242/contracts'), 404, 'not-found');
    expectProblem(await ctx.post('/v1/bunits/4242/contracts', contractBody()), 404, 'not-found');
    expectProblem(await ctx.get('/v1/bunits/4242/contracts/1'), 404, 'not-found');
    expectProblem(await ctx.get(`/v1/bunits/${owner}/contracts/4242`), 404, 'not-found');
    expectProblem(await ctx.put(`/v1/bunits/${owner}/contracts/4242`, contractBody()), 404, 'not-found');
    expectProblem(await ctx.del(`/v1/bunits/${owner}/contracts/4242`), 404, 'not-found');
    expect((await read(ctx, `/v1/bunits/${owner}/contracts?archived=include`)).body.meta.total).to.equal(1);
  });

  it('archives on DELETE (204): still readable with archivedDate, listed by the archived filter, and read-only', async () => {
    const { owner, contract } = await world(ctx);
    const kept = await createContract(ctx, owner, { number: 'C-2' });
    const before = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    ctx.clock.set('2026-11-23T15:45:00.000Z');
    expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);
    const after = await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`);
    expect(after.body).to.deep.equal({ ...before.body, archivedDate: '2026-11-23T15:45:00.000Z' });
    expect(after.headers.etag).to.not.equal(before.headers.etag);

    const list = (q: string) => read(ctx, `/v1/bunits/${owner}/contracts${q}`);
    expect(ids(await list(''))).to.deep.equal([kept]);
    expect(ids(await list('?archived=exclude'))).to.deep.equal([kept]);
    expect(ids(await list('?archived=include'))).to.deep.equal([contract, kept]);
    expect(ids(await list('?archived=only'))).to.deep.equal([contract]);

    expectProblem(await ctx.put(`/v1/bunits/${owner}/contracts/${contract}`, { ...after.body, name: 'Revived' }), 409, 'archived');
    expect((await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`)).body).to.deep.equal(after.body);

    ctx.clock.set('2026-11-25T09:00:00.000Z');
    expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status, 'DELETE again').to.equal(204);
    expect((await read(ctx, `/v1/bunits/${owner}/contracts/${contract}`)).body.archivedDate).to.equal('2026-11-23T15:45:00.000Z');
  });

  it('archives the referrals of a contract it archives, in the same step (R12)', async () => {
    const { owner, alice, bob, contract } = await world(ctx);
    const a = await createReferral(ctx, owner, contract, alice, { billingStartDate: '2026-11-01' });
    const b = await createReferral(ctx, owner, contract, bob, { billingStartDate: '2026-11-01' });
    ctx.clock.set('2026-11-23T16:00:00.000Z');
    expect((await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`)).status).to.equal(204);
    for (const r of [a, b]) {
      expect((await read(ctx, `/v1/bunits/${owner}/referrals/${r.id}`)).body.archivedDate).to.equal('2026-11-23T16:00:00.000Z');
    }
    expect((await read(ctx, `/v1/bunits/${owner}/referrals`)).body.meta.total).to.equal(0);
  });

  describe('If-Match (SPEC §7.3)', () => {
    it('answers 412 precondition-failed to a PUT with a stale ETag and changes nothing', async () => {
      const owner = await createBunit(ctx, 'OWNER');
      const created = await ctx.post(`/v1/bunits/${owner}/contracts`, contractBody());
      const path = `/v1/bunits/${owner}/contracts/${created.body.id}`;
      const first = await ctx.put(path, contractBody({ name: 'First change' })).set('If-Match', created.headers.etag!);
      expect(first.status, JSON.stringify(first.body)).to.equal(200);
      expectProblem(await ctx.put(path, contractBody({ name: 'Lost update' })).set('If-Match', created.headers.etag!), 412, 'precondition-failed');
      const got = await read(ctx, path);
      expect(got.body.name).to.equal('First change');
      expect(got.headers.etag).to.equal(first.headers.etag);
    });

    it('answers 412 precondition-failed to a DELETE with a stale ETag and archives neither it nor its referrals', async () => {
      const { owner, alice, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/contracts/${contract}`;
      const stale = (await read(ctx, path)).headers.etag!;
      const current = await ctx.put(path, contractBody({ number: 'C-1', name: 'Renamed' }));
      expect(current.status).to.equal(200);
      const referral = await createReferral(ctx, owner, contract, alice);
      expectProblem(await ctx.del(path).set('If-Match', stale), 412, 'precondition-failed');
      expect((await read(ctx, path)).body.archivedDate).to.equal(null);
      expect((await read(ctx, `/v1/bunits/${owner}/referrals/${referral.id}`)).body.archivedDate).to.equal(null);
      expect((await ctx.del(path).set('If-Match', current.headers.etag!)).status).to.equal(204);
      expect((await read(ctx, path)).body.archivedDate).to.equal('2026-11-23T12:00:00.000Z');
    });
  });
});
