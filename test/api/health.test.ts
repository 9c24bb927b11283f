import { expect } from 'chai';
import { describeApi } from '../helpers/api';
import { createBunit } from '../helpers/fixtures';

describeApi('service basics', (ctx) => {
  it('answers liveness and readiness without a key', async () => {
    expect((await ctx.anonymous.get('/healthz')).status).to.equal(200);
    const ready = await ctx.anonymous.get('/readyz');
    expect(ready.status).to.equal(200);
    expect(ready.body).to.deep.equal({ status: 'ready' });
  });

  it('answers 401 with WWW-Authenticate: Bearer when the key is missing or wrong', async () => {
    const missing = await ctx.anonymous.get('/v1/bunits');
    expect(missing.status).to.equal(401);
    expect(missing.headers['www-authenticate']).to.equal('Bearer');
    expect(missing.body.code).to.equal('unauthenticated');
    const wrong = await ctx.anonymous.get('/v1/bunits').set('Authorization', 'Bearer not-the-key');
    expect(wrong.status).to.equal(401);
    expect(wrong.headers['www-authenticate']).to.equal('Bearer');
  });

  it('creates a business unit and reads it back with a Location header', async () => {
    const res = await ctx.post('/v1/bunits', { code: 'NORDICS', name: 'Nordic Sales' });
    expect(res.status).to.equal(201);
    expect(res.headers.location).to.equal(`/v1/bunits/${res.body.id}`);
    const read = await ctx.get(res.headers.location!);
    expect(read.body).to.deep.include({ code: 'NORDICS', name: 'Nordic Sales', archivedDate: null });
    expect(read.body.createdDate).to.equal('2026-11-23T12:00:00.000Z');
    expect(await createBunit(ctx, 'HQ')).to.be.a('number');
  });
});
