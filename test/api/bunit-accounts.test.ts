import { expect } from 'chai';
import { describeApi } from '../helpers/api';
import { createBunit } from '../helpers/fixtures';

/**
 * SPEC §16: a business unit gains `accounts`, the accounts its journals book on; they show in the
 * business unit's resource, and change only by the admin PUT of …/accounts.
 */
const DEFAULTS = {
  receivable: 'intercompany-receivable',
  payable: 'intercompany-payable',
  income: 'revenue-share-income',
  expense: 'revenue-share-expense',
  clearing: 'intercompany-clearing',
};

describeApi('a business unit’s accounts in its resource (SPEC §16)', (ctx) => {
  it('a new unit shows the default accounts, in its GET, the list and its business_unit.created event', async () => {
    const id = await createBunit(ctx, 'ACC-NEW');
    expect((await ctx.get(`/v1/bunits/${id}`)).body.accounts).to.deep.equal(DEFAULTS);
    const listed = (await ctx.get('/v1/bunits?limit=200')).body.data as { id: number; accounts: unknown }[];
    expect(listed.find((b) => b.id === id)?.accounts).to.deep.equal(DEFAULTS);
    const events = (await ctx.get('/v1/events?limit=1000')).body.data as { type: string; data: { id: number; accounts?: unknown } }[];
    expect(events.find((e) => e.type === 'business_unit.created' && e.data.id === id)?.data.accounts).to.deep.equal(DEFAULTS);
  });

  it('a change of the accounts shows in the resource, moves its ETag and publishes business_unit.updated', async () => {
    const id = await createBunit(ctx, 'ACC-CHG');
    const before = await ctx.get(`/v1/bunits/${id}`);
    const accounts = { receivable: '1410', payable: '2410', income: '4800', expense: '6800', clearing: '1290' };
    expect((await ctx.put(`/v1/bunits/${id}/accounts`, accounts)).status).to.equal(200);
    const after = await ctx.get(`/v1/bunits/${id}`);
    expect(after.body.accounts).to.deep.equal(accounts);
    expect(after.headers.etag).to.be.a('string').and.not.equal(before.headers.etag);
    // A client holding the old ETag reads the new accounts, not 304.
    expect((await ctx.get(`/v1/bunits/${id}`).set('If-None-Match', before.headers.etag as string)).status).to.equal(200);
    const events = (await ctx.get('/v1/events?limit=1000')).body.data as { type: string; data: { id: number; accounts?: unknown } }[];
    const updated = events.filter((e) => e.type === 'business_unit.updated' && e.data.id === id);
    expect(updated.map((e) => e.data.accounts)).to.deep.equal([accounts]);
    // The same accounts again change nothing: no new version, no event.
    await ctx.put(`/v1/bunits/${id}/accounts`, accounts);
    expect((await ctx.get(`/v1/bunits/${id}`)).headers.etag).to.equal(after.headers.etag);
  });

  it('a PUT of the business unit ignores the accounts it is sent back (read-only there), as its other read-only fields', async () => {
    const id = await createBunit(ctx, 'ACC-RO');
    const read = (await ctx.get(`/v1/bunits/${id}`)).body;
    const res = await ctx.put(`/v1/bunits/${id}`, { ...read, name: 'Renamed', accounts: { ...DEFAULTS, payable: 'changed-here' } });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.name).to.equal('Renamed');
    expect(res.body.accounts).to.deep.equal(DEFAULTS);
  });
});
