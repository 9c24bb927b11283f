import { expect } from 'chai';
import type request from 'supertest';
import { ADMIN_KEY, describeApi, type ApiContext } from '../helpers/api';
import { createReferral, expectProblem, referralBody, world } from '../helpers/fixtures';

/**
 * The HTTP details of SPEC §14 that clients tripped on (issue 13): 405 with Allow, 406, no body on
 * GET or DELETE, "is required" for a field left out, a PUT that changes nothing, If-None-Match with
 * Cache-Control: no-cache, and lone UTF-16 surrogates. Every answer is checked against openapi.yaml.
 */

interface FieldError {
  path: string;
  message: string;
}

const auth = { Authorization: `Bearer ${ADMIN_KEY}` };

/** A request whose body is sent byte for byte under the given content type. */
function raw(ctx: ApiContext, method: 'get' | 'post' | 'put' | 'delete', path: string, body: string, contentType = 'application/json'): request.Test {
  return ctx.anonymous[method](path)
    .set(auth)
    .set('Content-Type', contentType)
    .serialize((b: unknown) => b as string)
    .send(body);
}

const errorsOf = (res: request.Response) => (res.body as { errors: FieldError[] }).errors;

/** An owner whose contract has a referral to alice and one settled EUR statement. */
async function settledStatement(ctx: ApiContext) {
  const w = await world(ctx);
  await createReferral(ctx, w.owner, w.contract, w.alice, { percentage: '10', billingStartDate: '2026-10-01' });
  const ingested = await ctx.post(`/v1/bunits/${w.owner}/contracts/${w.contract}/revenue`, {
    lines: [{ externalId: 'INV-1', amount: '100.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' }],
  });
  expect(ingested.status, JSON.stringify(ingested.body)).to.equal(201);
  const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
  expect(run.status, JSON.stringify(run.body)).to.equal(201);
  const list = await ctx.get(`/v1/bunits/${w.owner}/statements`);
  return { ...w, runId: run.body.id as number, statementId: list.body.data[0].id as number };
}

describeApi('HTTP details (SPEC §14)', (ctx) => {
  describe('405 method-not-allowed', () => {
    it('answers a method a known path does not serve with 405 and Allow (GET implies HEAD), and changes nothing', async () => {
      const { owner } = await world(ctx);
      const cases: [request.Test, string][] = [
        [ctx.anonymous.patch(`/v1/bunits/${owner}`).set(auth).send({ name: 'Patched' }), 'GET, HEAD, PUT, DELETE'],
        [ctx.anonymous.options(`/v1/bunits/${owner}`).set(auth), 'GET, HEAD, PUT, DELETE'],
        [ctx.anonymous.options('/v1/bunits').set(auth), 'GET, HEAD, POST'],
        [ctx.put('/v1/bunits', { code: 'LIST', name: 'A PUT on a list' }), 'GET, HEAD, POST'],
        [ctx.del(`/v1/bunits/${owner}/referrals`), 'GET, HEAD, POST'],
        [ctx.post(`/v1/bunits/${owner}/statements/1`, {}), 'GET, HEAD'],
        [ctx.anonymous.patch(`/v1/bunits/${owner}/contracts/1/revenue/7`).set(auth), 'DELETE'],
        [ctx.anonymous.post('/healthz'), 'GET, HEAD'],
        [ctx.anonymous.delete('/docs'), 'GET, HEAD'],
      ];
      for (const [req, allow] of cases) {
        const res = await req;
        const { method, path } = (res as unknown as { req: { method: string; path: string } }).req;
        expectProblem(res, 405, 'method-not-allowed');
        expect(res.headers.allow, path).to.equal(allow);
        expect(res.body.detail, path).to.contain(method).and.contain(allow);
      }
      const unit = await ctx.get(`/v1/bunits/${owner}`);
      expect(unit.body).to.deep.include({ name: 'OWNER unit', archivedDate: null });
      expect((await ctx.get('/v1/bunits')).body.meta.total).to.equal(3);
    });

    it('answers 405 before authentication: which methods a path serves is no secret (the OpenAPI document is public)', async () => {
      const res = await ctx.anonymous.patch('/v1/bunits/1');
      expectProblem(res, 405, 'method-not-allowed');
      expect(res.headers.allow).to.equal('GET, HEAD, PUT, DELETE');
    });

    it('answers HEAD wherever GET is served, and 404 for a path that does not exist, whatever the method', async () => {
      const { owner } = await world(ctx);
      const head = await ctx.anonymous.head(`/v1/bunits/${owner}`).set(auth);
      expect(head.status).to.equal(200);
      expect(head.headers.etag).to.match(/^"/);
      expectProblem(await ctx.get('/v1/colours'), 404, 'not-found');
      expectProblem(await ctx.anonymous.patch('/v1/colours/1').set(auth), 404, 'not-found');
      expectProblem(await ctx.get(`/v1/bunits/${owner}/colours`), 404, 'not-found');
    });
  });

  describe('406 not-acceptable', () => {
    it('answers an Accept that names no representation of the operation with 406, and writes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice);
      // (text/* is not among them: it names text/json, SPEC §2, test/api/text-json.test.ts.)
      for (const accept of ['application/xml', 'text/csv', 'text/plain', 'image/png', 'application/json;q=0', 'application/json;q=0, text/json;q=0']) {
        expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals/${referral.id}`).set('Accept', accept), 406, 'not-acceptable');
      }
      const refused = await ctx.post('/v1/bunits', { code: 'XML', name: 'Wants XML' }).set('Accept', 'application/xml');
      expectProblem(refused, 406, 'not-acceptable');
      expect(refused.body.detail).to.contain('application/json').and.contain('application/xml');
      expect((await ctx.get('/v1/bunits')).body.meta.total, 'nothing created').to.equal(3);
    });

    it('answers JSON to no Accept, */*, application/*, application/json and a browser’s Accept', async () => {
      const { owner } = await world(ctx);
      const accepts = [undefined, '*/*', 'application/*', 'application/json', 'application/json; charset=utf-8', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8'];
      for (const accept of accepts) {
        const req = ctx.get(`/v1/bunits/${owner}`);
        const res = await (accept === undefined ? req.unset('Accept') : req.set('Accept', accept));
        expect(res.status, String(accept)).to.equal(200);
        expect(res.headers['content-type'], String(accept)).to.match(/^application\/json/);
      }
    });

    it('answers errors as problem+json whatever the Accept, and takes application/problem+json as asking for JSON', async () => {
      const { owner } = await world(ctx);
      for (const accept of ['application/json', 'application/problem+json', 'application/json, application/problem+json']) {
        expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals/999`).set('Accept', accept), 404, 'not-found');
        const ok = await ctx.get(`/v1/bunits/${owner}`).set('Accept', accept);
        expect(ok.status, accept).to.equal(200);
        expect(ok.headers['content-type'], accept).to.match(/^application\/json/);
      }
      expectProblem(await ctx.post('/v1/bunits', { code: 'x' }).set('Accept', 'application/problem+json'), 400, 'validation-failed');
    });

    it('chooses between JSON and CSV on a statement and a run’s statements, and refuses what is neither', async () => {
      const { owner, runId, statementId } = await settledStatement(ctx);
      for (const path of [`/v1/bunits/${owner}/statements/${statementId}`, `/v1/settlement-runs/${runId}/statements`]) {
        for (const [accept, type] of [
          ['text/csv', /^text\/csv/],
          ['text/*', /^text\/csv/],
          ['application/json;q=0, text/csv', /^text\/csv/],
          ['text/csv;q=0.5, application/json', /^application\/json/],
          ['*/*', /^application\/json/],
          ['application/*', /^application\/json/],
          ['application/problem+json', /^application\/json/],
        ] as const) {
          const res = await ctx.get(path).set('Accept', accept);
          expect(res.status, `${path} ${accept}`).to.equal(200);
          expect(res.headers['content-type'], `${path} ${accept}`).to.match(type);
        }
        for (const accept of ['application/xml', 'text/html', 'application/pdf']) {
          const res = await ctx.get(path).set('Accept', accept);
          expectProblem(res, 406, 'not-acceptable');
          expect(res.body.detail).to.contain('application/json or text/csv');
        }
      }
    });

    it('does not negotiate an answer that has no body (DELETE answers 204)', async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice);
      expect((await ctx.del(`/v1/bunits/${owner}/referrals/${referral.id}`).set('Accept', 'application/xml')).status).to.equal(204);
    });
  });

  describe('no body on GET or DELETE', () => {
    it('answers DELETE of a referral with the body {"at": in 30 days} with 400, and archives nothing (issue 13)', async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice);
      const path = `/v1/bunits/${owner}/referrals/${referral.id}`;
      const before = await ctx.get(`${path}/history`);
      const at = new Date(Date.parse('2026-11-23T12:00:00.000Z') + 30 * 86_400_000).toISOString();

      const res = await ctx.del(path).send({ at });
      expectProblem(res, 400, 'validation-failed');
      expect(errorsOf(res)).to.deep.equal([{ path: 'body', message: 'must be absent: DELETE takes no body (its parameters go in the query, e.g. ?at=)' }]);
      const after = await ctx.get(path);
      expect(after.body.archivedDate, 'not archived now, nor at the instant in the body').to.equal(null);
      expect((await ctx.get(`${path}/history`)).body, 'no audit entry').to.deep.equal(before.body);

      // The same instant in the query schedules the archive.
      expect((await ctx.del(`${path}?at=${encodeURIComponent(at)}`)).status).to.equal(204);
      expect((await ctx.get(path)).body.archivedDate).to.equal(at);
    });

    it('answers a body on DELETE of a business unit or contract, or on a GET, with 400, whatever its content type', async () => {
      const { owner, contract } = await world(ctx);
      for (const path of [`/v1/bunits/${owner}/contracts/${contract}`, `/v1/bunits/${owner}`]) {
        expectProblem(await raw(ctx, 'delete', path, '{}'), 400, 'validation-failed');
        expectProblem(await raw(ctx, 'delete', path, 'not even JSON', 'text/plain'), 400, 'validation-failed');
        expect((await ctx.get(path)).body.archivedDate, path).to.equal(null);
      }
      const get = await raw(ctx, 'get', `/v1/bunits/${owner}`, '{"expand":"contracts"}');
      expectProblem(get, 400, 'validation-failed');
      expect(errorsOf(get)).to.deep.equal([{ path: 'body', message: 'must be absent: GET takes no body' }]);
      expectProblem(await raw(ctx, 'get', '/v1/bunits', '{', 'application/json'), 400, 'validation-failed');
      // Listed with the other bad fields of the request.
      const both = await raw(ctx, 'get', '/v1/bunits?colour=red', '{}');
      expect(errorsOf(both).map((e) => e.path)).to.have.members(['query.colour', 'body']);
    });
  });

  describe('"is required" for a field left out', () => {
    it('reports a missing body field as required, nested ones too, not as a value of the wrong type', async () => {
      const { owner, alice, contract } = await world(ctx);
      const unit = await ctx.post('/v1/bunits', {});
      expectProblem(unit, 400, 'validation-failed');
      expect(errorsOf(unit)).to.have.deep.members([
        { path: 'body.code', message: 'is required' },
        { path: 'body.name', message: 'is required' },
      ]);

      const referral = await ctx.post(`/v1/bunits/${owner}/referrals`, { contract: {}, referrer: { id: alice } });
      expect(errorsOf(referral)).to.have.deep.members([
        { path: 'body.contract.id', message: 'is required' },
        { path: 'body.percentage', message: 'is required' },
      ]);

      const contractCreate = await ctx.post(`/v1/bunits/${owner}/contracts`, { number: 'C-2', name: 'No currency, no start' });
      expect(errorsOf(contractCreate)).to.have.deep.members([
        { path: 'body.currency', message: 'is required' },
        { path: 'body.startDate', message: 'is required' },
      ]);

      const revenue = await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'INV-1', date: '2026-10-01' }] });
      expect(errorsOf(revenue)).to.deep.equal([{ path: 'body.lines.0.amount', message: 'is required' }]);

      // A value that is there but of the wrong type is still told so.
      const typed = await ctx.post('/v1/bunits', { code: 'NEW', name: 42 });
      expect(errorsOf(typed)).to.deep.equal([{ path: 'body.name', message: 'must be a string' }]);
      const nullId = await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, alice, { contract: { id: null } }));
      expect(errorsOf(nullId)).to.deep.equal([{ path: 'body.contract.id', message: 'must be an integer' }]);
    });

    it('reports a missing query parameter as required', async () => {
      const { owner } = await world(ctx);
      const res = await ctx.get(`/v1/bunits/${owner}/billing-windows?to=2026-12-31`);
      expectProblem(res, 400, 'validation-failed');
      expect(errorsOf(res)).to.deep.equal([{ path: 'query.from', message: 'is required' }]);
      const none = await ctx.get(`/v1/bunits/${owner}/billing-windows`);
      expect(errorsOf(none)).to.have.deep.members([
        { path: 'query.from', message: 'is required' },
        { path: 'query.to', message: 'is required' },
      ]);
    });
  });

  describe('a PUT that changes nothing', () => {
    const auditCount = async (entityType: string) =>
      Number((await ctx.db('audit_events').where({ entity_type: entityType }).count({ n: '*' }).first())?.n ?? 0);

    it('answers 200 with the same ETag and writes no audit entry, for a business unit, a contract and a referral', async () => {
      const { owner, alice, contract } = await world(ctx);
      const referral = await createReferral(ctx, owner, contract, alice, { percentage: '12.5', billingStartDate: '2026-11-01' });
      const resources = [
        { entity: 'bunit', path: `/v1/bunits/${alice}`, change: (b: Record<string, unknown>) => ({ ...b, name: 'Alice renamed' }) },
        { entity: 'contract', path: `/v1/bunits/${owner}/contracts/${contract}`, change: (b: Record<string, unknown>) => ({ ...b, customer: 'Acme' }) },
        { entity: 'referral', path: `/v1/bunits/${owner}/referrals/${referral.id}`, change: (b: Record<string, unknown>) => ({ ...b, percentage: '15' }) },
      ];
      for (const r of resources) {
        ctx.clock.advanceMs(60_000);
        const read = await ctx.get(r.path);
        const audits = await auditCount(r.entity);

        // Sent back as read (read-only fields included, which a PUT ignores), with and without If-Match.
        for (const ifMatch of [undefined, read.headers.etag!]) {
          const req = ctx.put(r.path, read.body);
          const saved = await (ifMatch ? req.set('If-Match', ifMatch) : req);
          expect(saved.status, `${r.entity}: ${JSON.stringify(saved.body)}`).to.equal(200);
          expect(saved.headers.etag, r.entity).to.equal(read.headers.etag);
          expect(saved.body, r.entity).to.deep.equal(read.body);
        }
        expect(await auditCount(r.entity), `${r.entity}: no audit entry`).to.equal(audits);
        const again = await ctx.get(r.path);
        expect(again.headers.etag, r.entity).to.equal(read.headers.etag);
        expect((await ctx.get(r.path).set('If-None-Match', read.headers.etag!)).status, `${r.entity}: other copies stay current`).to.equal(304);

        // A change does bump the version and is recorded: the test above would see one.
        const changed = await ctx.put(r.path, r.change(read.body)).set('If-Match', read.headers.etag!);
        expect(changed.status, `${r.entity}: ${JSON.stringify(changed.body)}`).to.equal(200);
        expect(changed.headers.etag, r.entity).not.to.equal(read.headers.etag);
        expect(await auditCount(r.entity), r.entity).to.equal(audits + 1);
      }
      expect((await ctx.get(`/v1/bunits/${owner}/referrals/${referral.id}/history`)).body.meta.total).to.equal(2);
    });
  });

  describe('If-None-Match', () => {
    it('is evaluated with Cache-Control: no-cache (fetch() and Postman send it): 304 while the ETag is current', async () => {
      const { owner } = await world(ctx);
      const path = `/v1/bunits/${owner}`;
      const etag = (await ctx.get(path)).headers.etag!;
      const conditional = (value: string, headers: Record<string, string> = {}) => ctx.get(path).set('If-None-Match', value).set(headers);

      const variants: Record<string, string>[] = [{}, { 'Cache-Control': 'no-cache' }, { 'Cache-Control': 'no-cache, no-store' }, { Pragma: 'no-cache' }, { 'Cache-Control': 'max-age=0' }];
      for (const headers of variants) {
        const where = JSON.stringify(headers);
        const res = await conditional(etag, headers);
        expect(res.status, where).to.equal(304);
        expect(res.headers.etag, where).to.equal(etag);
        expect(res.text ?? '', where).to.equal('');
        expect((await conditional(`W/${etag}`, headers)).status, `${where}: weak comparison`).to.equal(304);
        expect((await conditional(`"other", ${etag}`, headers)).status, `${where}: one of a list`).to.equal(304);
        expect((await conditional('*', headers)).status, `${where}: any`).to.equal(304);
        expect((await conditional('"other"', headers)).status, `${where}: another tag`).to.equal(200);
        expect((await conditional(etag.slice(1, -1), headers)).status, `${where}: an unquoted tag is none`).to.equal(200);
      }
      expect((await ctx.put(path, { code: 'OWNER', name: 'Renamed' })).status).to.equal(200);
      const changed = await conditional(etag, { 'Cache-Control': 'no-cache' });
      expect(changed.status).to.equal(200);
      expect(changed.body.name).to.equal('Renamed');
    });
  });

  describe('lone UTF-16 surrogates', () => {
    it('answers a lone surrogate in a revenue line’s externalId with 400 naming the field, never a 500, and stores nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice);
      const path = `/v1/bunits/${owner}/contracts/${contract}/revenue`;
      const res = await raw(ctx, 'post', path, '{"lines":[{"externalId":"OK-1","amount":"10","date":"2026-10-01"},{"externalId":"SUR-\\ud800","amount":"10","date":"2026-10-01"}]}');
      expectProblem(res, 400, 'validation-failed');
      expect(errorsOf(res)).to.deep.equal([
        { path: 'body.lines.1.externalId', message: 'must be well-formed Unicode: a lone UTF-16 surrogate (such as \\ud800) is not text' },
      ]);
      expect((await ctx.get(path)).body.meta.total).to.equal(0);
    });

    it('refuses one in a business unit or contract name, on create and on save, low surrogates and field names too', async () => {
      const { owner, contract } = await world(ctx);
      const before = await ctx.get(`/v1/bunits/${owner}`);
      const cases: [request.Test, string][] = [
        [raw(ctx, 'post', '/v1/bunits', '{"code":"SUR","name":"Nordic \\ud800 Sales"}'), 'body.name'],
        [raw(ctx, 'post', '/v1/bunits', '{"code":"SUR","name":"\\udc00 first"}'), 'body.name'],
        [raw(ctx, 'put', `/v1/bunits/${owner}`, '{"code":"OWNER","name":"end \\ud83d"}'), 'body.name'],
        [raw(ctx, 'post', `/v1/bunits/${owner}/contracts`, '{"number":"C-9","name":"Fleet \\uDFFF","currency":"EUR","startDate":"2026-01-01"}'), 'body.name'],
        [raw(ctx, 'post', '/v1/bunits', '{"code":"SUR","name":"x","col\\ud800our":"red"}'), 'body.col\\ud800our'],
      ];
      for (const [req, path] of cases) {
        const res = await req;
        expectProblem(res, 400, 'validation-failed');
        expect(errorsOf(res).map((e) => e.path), path).to.deep.equal([path]);
      }
      expect((await ctx.get('/v1/bunits')).body.meta.total).to.equal(3);
      expect((await ctx.get(`/v1/bunits/${owner}`)).body).to.deep.equal(before.body);
      expect((await ctx.get(`/v1/bunits/${owner}/contracts`)).body.data.map((c: { id: number }) => c.id)).to.deep.equal([contract]);
    });

    it('keeps a surrogate pair written as escapes, which is one character (😀)', async () => {
      await world(ctx);
      const res = await raw(ctx, 'post', '/v1/bunits', '{"code":"EMOJI","name":"Smile \\ud83d\\ude00"}');
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      expect(res.body.name).to.equal('Smile 😀');
      expect((await ctx.get(`/v1/bunits/${res.body.id}`)).body.name).to.equal('Smile 😀');
    });
  });
});
