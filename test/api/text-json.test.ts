import { expect } from 'chai';
import { describeApi } from '../helpers/api';
import { createContract, createReferral, world } from '../helpers/fixtures';

/**
 * SPEC §2 and the seed beside it: the service this one replaces took and gave `text/json` as well as
 * `application/json`. A client migrating from it must not notice the difference: a `text/json` body
 * is read as JSON, and an Accept that prefers `text/json` gets the same JSON under that name, errors
 * included. Every answer here is also checked against openapi.yaml, which documents both.
 */
describeApi('text/json, the seed’s second media type (SPEC §2)', (ctx) => {
  const TEXT_JSON = /^text\/json; charset=utf-8$/;

  it('reads a request body sent as text/json as JSON: POST and PUT, decimals kept exact', async () => {
    const { owner, alice, contract } = await world(ctx);
    const created = await ctx
      .post(`/v1/bunits/${owner}/referrals`)
      .set('Content-Type', 'text/json; charset=utf-8')
      .send(JSON.stringify({ contract: { id: contract }, referrer: { id: alice }, percentage: 12.3456, billingStartDate: '2026-12-01' }));
    expect(created.status, created.text).to.equal(201);
    expect(JSON.parse(created.text)).to.deep.include({ percentage: '12.3456', billingStartDate: '2026-12-01' });

    const put = await ctx
      .put(`/v1/bunits/${owner}/referrals/${JSON.parse(created.text).id}`)
      .set('Content-Type', 'text/json')
      .send(JSON.stringify({ contract: { id: contract }, referrer: { id: alice }, percentage: '10', billingStartDate: '2026-12-01' }));
    expect(put.status, put.text).to.equal(200);
    expect(JSON.parse(put.text).percentage).to.equal('10');
  });

  it('answers Accept: text/json with the same JSON, labelled text/json', async () => {
    const { owner, alice, contract } = await world(ctx);
    const referral = await createReferral(ctx, owner, contract, alice, { percentage: '12.5', billingStartDate: '2026-10-01' });
    for (const path of [`/v1/bunits/${owner}`, `/v1/bunits/${owner}/referrals/${referral.id}`, `/v1/bunits/${owner}/referrals`, '/v1/bunits']) {
      const json = await ctx.get(path);
      const text = await ctx.get(path).set('Accept', 'text/json');
      expect(json.headers['content-type']).to.match(/^application\/json/);
      expect(text.status, path).to.equal(200);
      expect(text.headers['content-type'], path).to.match(TEXT_JSON);
      expect(text.text, path).to.equal(json.text);
      expect(text.headers.etag, path).to.equal(json.headers.etag);
    }
  });

  it('labels a created resource text/json too, and a body sent and answered as text/json on the same request', async () => {
    const res = await ctx
      .post('/v1/bunits')
      .set('Content-Type', 'text/json')
      .set('Accept', 'text/json')
      .send(JSON.stringify({ code: 'OLD-CLIENT', name: 'Migrated from the old service' }));
    expect(res.status, res.text).to.equal(201);
    expect(res.headers['content-type']).to.match(TEXT_JSON);
    expect(res.headers.location).to.match(/^\/v1\/bunits\/\d+$/);
    expect(JSON.parse(res.text)).to.deep.include({ code: 'OLD-CLIENT' });
  });

  it('answers errors as text/json to a client that prefers it: the same problem body', async () => {
    const { owner } = await world(ctx);
    const missing = await ctx.get(`/v1/bunits/${owner}/referrals/9999`).set('Accept', 'text/json');
    expect(missing.status).to.equal(404);
    expect(missing.headers['content-type']).to.match(TEXT_JSON);
    expect(JSON.parse(missing.text)).to.deep.include({ status: 404, code: 'not-found' });

    const invalid = await ctx
      .post(`/v1/bunits/${owner}/contracts`)
      .set('Content-Type', 'text/json')
      .set('Accept', 'text/json')
      .send(JSON.stringify({ number: '', currency: 'EURO' }));
    expect(invalid.status).to.equal(400);
    expect(invalid.headers['content-type']).to.match(TEXT_JSON);
    const problem = JSON.parse(invalid.text) as { code: string; errors: { path: string }[] };
    expect(problem.code).to.equal('validation-failed');
    expect(problem.errors.map((e) => e.path)).to.include.members(['body.number', 'body.currency', 'body.name', 'body.startDate']);

    const unauthenticated = await ctx.anonymous.get('/v1/bunits').set('Accept', 'text/json');
    expect(unauthenticated.status).to.equal(401);
    expect(unauthenticated.headers['content-type']).to.match(TEXT_JSON);

    const malformed = await ctx.post('/v1/bunits').set('Content-Type', 'text/json').set('Accept', 'text/json').send('{"code": ');
    expect(malformed.status).to.equal(400);
    expect(malformed.headers['content-type']).to.match(TEXT_JSON);
    expect(JSON.parse(malformed.text).code).to.equal('malformed-json');
  });

  it('goes by the Accept header’s preference: application/json wins ties and higher qualities; text/json a higher quality', async () => {
    const { owner } = await world(ctx);
    const cases: [string, RegExp][] = [
      ['application/json, text/json', /^application\/json/],
      ['text/json, application/json', /^application\/json/],
      ['text/json;q=0.5, application/json', /^application\/json/],
      ['application/json;q=0.5, text/json', /^text\/json/],
      ['text/json, */*;q=0.1', /^text\/json/],
      ['text/*', /^text\/json/],
      ['*/*', /^application\/json/],
    ];
    for (const [accept, type] of cases) {
      const res = await ctx.get(`/v1/bunits/${owner}`).set('Accept', accept);
      expect(res.status, accept).to.equal(200);
      expect(res.headers['content-type'], accept).to.match(type);
    }
  });

  it('keeps CSV for statements, answers their JSON as text/json, and still refuses other text bodies with 415', async () => {
    const { owner, alice } = await world(ctx);
    const contract = await createContract(ctx, owner, { number: 'C-TJ' });
    await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
    await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'T-1', amount: '100.00', date: '2026-10-10' }] });
    const run = await ctx.post('/v1/settlement-runs').set('Content-Type', 'text/json').send(JSON.stringify({ through: '2026-10-31' }));
    expect(run.status, run.text).to.equal(201);
    const list = await ctx.get(`/v1/bunits/${alice}/statements`).set('Accept', 'text/json');
    expect(list.headers['content-type']).to.match(TEXT_JSON);
    const id = JSON.parse(list.text).data[0].id as number;
    const csv = await ctx.get(`/v1/bunits/${alice}/statements/${id}`).set('Accept', 'text/csv, text/json;q=0.5');
    expect(csv.headers['content-type']).to.match(/^text\/csv/);
    const json = await ctx.get(`/v1/bunits/${alice}/statements/${id}`).set('Accept', 'text/json');
    expect(json.headers['content-type']).to.match(TEXT_JSON);
    expect(JSON.parse(json.text).total).to.equal('10.00');

    const plain = await ctx.post('/v1/bunits').set('Content-Type', 'text/plain').send('{"code":"X1","name":"x"}');
    expect(plain.status).to.equal(415);
  });

  it('replays an idempotent POST under the media type the retry asks for', async () => {
    const first = await ctx.post('/v1/bunits').set('Idempotency-Key', 'tj-1').send({ code: 'REPLAY', name: 'Replay' });
    expect(first.status).to.equal(201);
    const again = await ctx
      .post('/v1/bunits')
      .set('Idempotency-Key', 'tj-1')
      .set('Content-Type', 'text/json')
      .set('Accept', 'text/json')
      .send(JSON.stringify({ code: 'REPLAY', name: 'Replay' }));
    expect(again.status).to.equal(201);
    expect(again.headers['idempotent-replayed']).to.equal('true');
    expect(again.headers['content-type']).to.match(TEXT_JSON);
    expect(again.text).to.equal(first.text);
  });
});
