import { expect } from 'chai';
import { KeyCache } from '../../src/services/api-key.service';
import type request from 'supertest';
import { apiRoutes } from '../../src/http/routes';
import { describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createContract, createReferral, expectProblem, referralBody } from '../helpers/fixtures';

/**
 * Object-level authorisation (SPEC §7.1, R11; OWASP API1). Three business units ALPHA (A),
 * BRAVO (B) and CHARLIE (C); contracts A-1 and A-2 of A, B-1 of B; referral rAB on A-1 earning
 * for B and rBC on B-1 earning for C; October revenue on every contract, settled, so that A pays
 * B one statement (sAB) and B pays C another (sBC). Keys are made through the API: read and write
 * for A, read and write for B, an admin key, and a revoked key.
 */

const KEY_COLUMNS = ['readA', 'writeA', 'readB', 'writeB', 'admin'] as const;
type KeyColumn = (typeof KEY_COLUMNS)[number];
type Expected = [readA: number, writeA: number, readB: number, writeB: number, admin: number];

interface Key {
  id: number;
  name: string;
  secret: string;
}

interface Agent {
  get(path: string): request.Test;
  post(path: string, body?: unknown): request.Test;
  put(path: string, body?: unknown): request.Test;
  del(path: string): request.Test;
}

interface Ids {
  A: number;
  B: number;
  C: number;
  cA: number;
  cA2: number;
  cB: number;
  rAB: number;
  rBC: number;
  lineA: number;
  lineA2: number;
  lineB: number;
  sAB: number;
  sBC: number;
  run: number;
  /** An id no business unit has. */
  missing: number;
}

interface World {
  ids: Ids;
  keys: Record<KeyColumn | 'revoked', Key>;
}

/** The problem code that must come with each refusal. */
const CODE_OF: Record<number, string> = {
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not-found',
  409: 'immutable-relation',
  422: 'invalid-reference',
};

function agentFor(ctx: ApiContext, secret: string): Agent {
  const auth = { Authorization: `Bearer ${secret}` };
  const withBody = (t: request.Test, body: unknown) => (body === undefined ? t : t.send(body as object));
  return {
    get: (p) => ctx.anonymous.get(p).set(auth),
    post: (p, b) => withBody(ctx.anonymous.post(p).set(auth), b),
    put: (p, b) => withBody(ctx.anonymous.put(p).set(auth), b),
    del: (p) => ctx.anonymous.delete(p).set(auth),
  };
}

async function createKey(ctx: ApiContext, name: string, role: 'read' | 'write' | 'admin', bunitIds?: number[]): Promise<Key> {
  const res = await ctx.post('/v1/api-keys', bunitIds === undefined ? { name, role } : { name, role, bunitIds });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return { id: res.body.id as number, name, secret: res.body.key as string };
}

async function addLine(ctx: ApiContext, bunitId: number, contractId: number, externalId: string, date: string): Promise<number> {
  const res = await ctx.post(`/v1/bunits/${bunitId}/contracts/${contractId}/revenue`, {
    lines: [{ externalId, amount: '100', date }],
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.data[0].id as number;
}

async function statementBetween(ctx: ApiContext, payer: number, referrer: number): Promise<number> {
  const res = await ctx.get(`/v1/bunits/${payer}/statements?role=payer`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  const found = (res.body.data as { id: number; referrer: { id: number } }[]).find((s) => s.referrer.id === referrer);
  expect(found, `a statement from ${payer} to ${referrer}`).to.not.equal(undefined);
  return found!.id;
}

async function buildWorld(ctx: ApiContext): Promise<World> {
  const A = await createBunit(ctx, 'ALPHA');
  const B = await createBunit(ctx, 'BRAVO');
  const C = await createBunit(ctx, 'CHARLIE');
  const cA = await createContract(ctx, A, { number: 'A-1' });
  const cA2 = await createContract(ctx, A, { number: 'A-2' });
  const cB = await createContract(ctx, B, { number: 'B-1' });
  const rAB = (await createReferral(ctx, A, cA, B, { billingStartDate: '2026-10-01' })).id;
  const rBC = (await createReferral(ctx, B, cB, C, { billingStartDate: '2026-10-01' })).id;
  const lineA = await addLine(ctx, A, cA, 'A-OCT', '2026-10-15');
  const lineA2 = await addLine(ctx, A, cA2, 'A2-OCT', '2026-10-15');
  const lineB = await addLine(ctx, B, cB, 'B-OCT', '2026-10-15');
  const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' });
  expect(run.status, JSON.stringify(run.body)).to.equal(201);
  const sAB = await statementBetween(ctx, A, B);
  const sBC = await statementBetween(ctx, B, C);

  const revoked = await createKey(ctx, 'alpha-retired', 'write', [A]);
  expect((await ctx.del(`/v1/api-keys/${revoked.id}`)).status).to.equal(204);
  return {
    ids: { A, B, C, cA, cA2, cB, rAB, rBC, lineA, lineA2, lineB, sAB, sBC, run: run.body.id as number, missing: 9999 },
    keys: {
      readA: await createKey(ctx, 'alpha-reader', 'read', [A]),
      writeA: await createKey(ctx, 'alpha-writer', 'write', [A]),
      readB: await createKey(ctx, 'bravo-reader', 'read', [B]),
      writeB: await createKey(ctx, 'bravo-writer', 'write', [B]),
      admin: await createKey(ctx, 'ops-admin', 'admin'),
      revoked,
    },
  };
}

/**
 * One line of the matrix: `request` reads like `PUT /v1/bunits/{A}/contracts/{cA}`; a placeholder
 * names an id of the world, or `new …` for an object made (with the admin key) just for this
 * request, so that every key that may make the change really makes it.
 */
interface Row {
  request: string;
  expected: Expected;
  body?: (w: World, n: number) => unknown;
  accept?: string;
}

const row = (request: string, expected: Expected, body?: Row['body'], accept?: string): Row => ({ request, expected, body, accept });

function freshObjects(ctx: ApiContext, w: World, n: () => number): Record<string, () => Promise<number>> {
  const { A, cA, cA2, C } = w.ids;
  return {
    'new contract of A': () => createContract(ctx, A, { number: `A-NEW-${n()}` }),
    'new referral of A': async () => (await createReferral(ctx, A, cA, C, oneYearFor(n()))).id,
    'new line of cA': () => addLine(ctx, A, cA, `A-NEW-${n()}`, '2026-11-01'),
    'new line of cA2': () => addLine(ctx, A, cA2, `A2-NEW-${n()}`, '2026-11-01'),
    'new key': async () => (await createKey(ctx, `spare-${n()}`, 'read', [A])).id,
  };
}

/** A one-year, 1 % window of its own for referrer C on A-1, so that such referrals never overlap. */
const oneYearFor = (n: number) => ({
  percentage: '1',
  billingStartDate: `${2030 + n}-01-01`,
  billingEndDate: `${2030 + n}-12-31`,
});

const contractBody = (number: string) => ({ number, name: 'Fleet telematics', currency: 'EUR', startDate: '2026-01-01' });

async function checkMatrix(ctx: ApiContext, w: World, rows: Row[]): Promise<void> {
  let counter = 0;
  const n = () => ++counter;
  const fresh = freshObjects(ctx, w, n);
  const mismatches: string[] = [];
  for (const r of rows) {
    const method = r.request.slice(0, r.request.indexOf(' '));
    const template = r.request.slice(method.length + 1);
    for (const [i, column] of KEY_COLUMNS.entries()) {
      let path = template;
      for (const [, name] of template.matchAll(/\{([^}]+)\}/g)) {
        const id = name!.startsWith('new ') ? await fresh[name!]!() : (w.ids as unknown as Record<string, number | undefined>)[name!];
        expect(id, `placeholder {${name}}`).to.be.a('number');
        path = path.replace(`{${name}}`, String(id));
      }
      const agent = agentFor(ctx, w.keys[column].secret);
      const body = r.body?.(w, n());
      let test: request.Test;
      if (method === 'GET') test = agent.get(path);
      else if (method === 'POST') test = agent.post(path, body);
      else if (method === 'PUT') test = agent.put(path, body);
      else test = agent.del(path);
      if (r.accept) test = test.set('Accept', r.accept);
      const res = await test;
      const want = r.expected[i]!;
      const code = CODE_OF[want];
      if (res.status !== want || (code !== undefined && res.body?.code !== code)) {
        mismatches.push(`${column} ${r.request}: expected ${want}${code ? ` ${code}` : ''}, got ${res.status} ${res.text.slice(0, 200)}`);
      }
    }
  }
  expect(mismatches).to.deep.equal([]);
}

describeApi('access control (SPEC §7.1, R11)', (ctx) => {
  let w: World;
  beforeEach(async function () {
    w = await buildWorld(ctx);
  });

  describe('authentication', () => {
    /** Every /v1 operation, with the ids of the world in its path. */
    const operations = () =>
      apiRoutes.map((route) => {
        const params: Record<string, number> = {
          bunitId: w.ids.A,
          contractId: w.ids.cA,
          referralId: w.ids.rAB,
          lineId: w.ids.lineA,
          statementId: w.ids.sAB,
          runId: w.ids.run,
          keyId: w.keys.readA.id,
        };
        const path = route.path.replace(/\{(\w+)\}/g, (_, p: string) => String(params[p]));
        return { method: route.method, path };
      });

    it('refuses every /v1 operation without a key, with an unknown key, with a revoked key or another scheme: 401 with WWW-Authenticate: Bearer', async () => {
      const authorizations: [string, string | undefined][] = [
        ['no Authorization header', undefined],
        ['an unknown key', `Bearer rsk_${'x'.repeat(43)}`],
        ['a revoked key', `Bearer ${w.keys.revoked.secret}`],
        ['Basic credentials', `Basic ${Buffer.from(`ops-admin:${w.keys.admin.secret}`).toString('base64')}`],
      ];
      const ops = operations();
      expect(ops.length).to.be.at.least(25);
      const mismatches: string[] = [];
      for (const { method, path } of ops) {
        for (const [label, authorization] of authorizations) {
          let test = ctx.anonymous[method](path);
          if (authorization !== undefined) test = test.set('Authorization', authorization);
          const res = method === 'get' || method === 'delete' ? await test : await test.send({});
          if (res.status !== 401 || res.body.code !== 'unauthenticated' || res.headers['www-authenticate'] !== 'Bearer') {
            mismatches.push(`${method.toUpperCase()} ${path} with ${label}: ${res.status} ${res.headers['www-authenticate']} ${res.text.slice(0, 120)}`);
          }
        }
      }
      expect(mismatches).to.deep.equal([]);
    });

    it('refuses a key revoked through the API at once, although this instance had it cached', async () => {
      const alpha = agentFor(ctx, w.keys.writeA.secret);
      expect((await alpha.get(`/v1/bunits/${w.ids.A}`)).status).to.equal(200);

      expect((await ctx.del(`/v1/api-keys/${w.keys.writeA.id}`)).status).to.equal(204);

      const res = await alpha.get(`/v1/bunits/${w.ids.A}`);
      expectProblem(res, 401, 'unauthenticated');
      expect(res.headers['www-authenticate']).to.equal('Bearer');
      expectProblem(await alpha.post(`/v1/bunits/${w.ids.A}/contracts/${w.ids.cA}/revenue`, { lines: [{ externalId: 'late', amount: '1', date: '2026-11-01' }] }), 401, 'unauthenticated');
      expect(await ctx.db('revenue_lines').where({ external_id: 'late' })).to.have.length(0);
    });

    it('refuses a key revoked in the database by another instance once the revocation poll has seen it', async () => {
      const alpha = agentFor(ctx, w.keys.readA.secret);
      await ctx.keys.poll();
      expect((await alpha.get(`/v1/bunits/${w.ids.A}`)).status).to.equal(200);

      await ctx.db('api_keys').where({ id: w.keys.readA.id }).update({ revoked_at: '2026-11-23T12:00:05.000Z' });
      // Not yet: this instance answers from its cache until the poll tells it otherwise.
      expect((await alpha.get(`/v1/bunits/${w.ids.A}`)).status).to.equal(200);

      await ctx.keys.poll();
      const res = await alpha.get(`/v1/bunits/${w.ids.A}`);
      expectProblem(res, 401, 'unauthenticated');
      expect(res.headers['www-authenticate']).to.equal('Bearer');
      expect((await agentFor(ctx, w.keys.readB.secret).get(`/v1/bunits/${w.ids.B}`)).status).to.equal(200);
    });
  });

  describe('a fresh instance', () => {
    it('drops keys it cached before its first revocation poll, since the poll cannot tell what came before', async () => {
      const created = await ctx.post('/v1/api-keys', { name: 'early', role: 'admin' });
      expect(created.status).to.equal(201);
      const cache = new KeyCache(ctx.db, undefined);
      expect(await cache.resolve(created.body.key)).to.deep.include({ keyId: created.body.id });
      await ctx.db('api_keys').where({ id: created.body.id }).update({ revoked_at: '2026-11-23T12:00:05.000Z' });
      await cache.poll();
      expect(await cache.resolve(created.body.key)).to.equal(null);
    });
  });

  describe('API keys (admin only)', () => {
    it('shows the secret once, in the answer to its creation, and never in GET', async () => {
      const res = await ctx.post('/v1/api-keys', { name: 'nordics-billing', role: 'write', bunitIds: [w.ids.B, w.ids.A, w.ids.B] });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
      const secret = res.body.key as string;
      expect(secret).to.be.a('string').with.length.of.at.least(43);
      expect(res.headers.location).to.equal(`/v1/api-keys/${res.body.id}`);
      expect(res.body).to.include({ name: 'nordics-billing', role: 'write', revokedDate: null });
      expect(res.body.bunitIds).to.have.members([w.ids.A, w.ids.B]);

      const one = await ctx.get(`/v1/api-keys/${res.body.id}`);
      expect(one.status).to.equal(200);
      expect(one.body).to.deep.equal(omitKey(res.body));
      expect(one.text).to.not.include(secret);
      const list = await ctx.get('/v1/api-keys?revoked=include&limit=200');
      expect(list.status).to.equal(200);
      expect(list.body.data.map((k: { id: number }) => k.id)).to.include(res.body.id);
      expect(list.body.data.every((k: Record<string, unknown>) => !('key' in k))).to.equal(true);
      expect(list.text).to.not.include(secret);

      expect((await agentFor(ctx, secret).get(`/v1/bunits/${w.ids.A}`)).status).to.equal(200);
    });

    it('stores only a hash of each secret', async () => {
      const rows = await ctx.db('api_keys').select('*');
      const audit = await ctx.db('audit_events').select('*');
      expect(rows).to.have.length(6);
      for (const key of Object.values(w.keys)) {
        const tail = key.secret.replace(/^rsk_/, '');
        expect(JSON.stringify(rows)).to.not.include(tail);
        expect(JSON.stringify(audit)).to.not.include(tail);
      }
    });

    it('keeps a new secret out of the stored idempotent answer: a replay comes without it, and no table holds it', async () => {
      const body = { name: 'retried', role: 'read', bunitIds: [w.ids.A] };
      const first = await ctx.post('/v1/api-keys', body).set('Idempotency-Key', 'key-creation-1');
      expect(first.status).to.equal(201);
      expect(first.body.key).to.match(/^rsk_/);
      const replay = await ctx.post('/v1/api-keys', body).set('Idempotency-Key', 'key-creation-1');
      expect(replay.status).to.equal(201);
      expect(replay.headers['idempotent-replayed']).to.equal('true');
      expect(replay.headers.location).to.equal(first.headers.location);
      const { key, ...withoutSecret } = first.body as { key: string };
      expect(key).to.be.a('string');
      expect(replay.body).to.deep.equal(withoutSecret);

      const tail = first.body.key.replace(/^rsk_/, '');
      for (const table of ['api_keys', 'audit_events', 'idempotency_keys']) {
        expect(JSON.stringify(await ctx.db(table).select('*')), table).to.not.include(tail);
      }
      // The secret still works.
      expect((await ctx.anonymous.get(`/v1/bunits/${w.ids.A}`).set('Authorization', `Bearer ${first.body.key}`)).status).to.equal(200);
      expect((await ctx.del(`/v1/api-keys/${first.body.id}`)).status).to.equal(204);
    });

    it('lists revoked keys with their revokedDate only when asked', async () => {
      const listed = async (q: string) => ((await ctx.get(`/v1/api-keys${q}`)).body.data as { id: number }[]).map((k) => k.id);
      expect(await listed('')).to.not.include(w.keys.revoked.id);
      expect(await listed('?revoked=only')).to.deep.equal([w.keys.revoked.id]);
      const res = await ctx.get(`/v1/api-keys/${w.keys.revoked.id}`);
      expect(res.body.revokedDate).to.equal('2026-11-23T12:00:00.000Z');
    });

    it('rejects bunitIds on an admin key, a read or write key without any, and business units that do not exist', async () => {
      const adminWithUnits = await ctx.post('/v1/api-keys', { name: 'x', role: 'admin', bunitIds: [w.ids.A] });
      expectProblem(adminWithUnits, 400, 'validation-failed');
      expect(adminWithUnits.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.bunitIds']);
      for (const role of ['read', 'write']) {
        expectProblem(await ctx.post('/v1/api-keys', { name: 'x', role }), 400, 'validation-failed');
        expectProblem(await ctx.post('/v1/api-keys', { name: 'x', role, bunitIds: [] }), 400, 'validation-failed');
      }
      const unknown = await ctx.post('/v1/api-keys', { name: 'x', role: 'read', bunitIds: [w.ids.A, 9999] });
      expectProblem(unknown, 422, 'invalid-reference');
      expect(unknown.body.errors.map((e: { path: string }) => e.path)).to.deep.equal(['body.bunitIds.1']);
      // The paths name the places in the request, not in the sorted list.
      const unsorted = await ctx.post('/v1/api-keys', { name: 'x', role: 'read', bunitIds: [9999, w.ids.A, 9998] });
      expectProblem(unsorted, 422, 'invalid-reference');
      expect(unsorted.body.errors.map((e: { path: string }) => e.path)).to.have.members(['body.bunitIds.0', 'body.bunitIds.2']);
      expect(await count(ctx, 'api_keys')).to.equal(6);
    });

    it('lets only admin keys manage keys', async () => {
      await checkMatrix(ctx, w, [
        //   request                            readA writeA readB writeB admin
        row('POST /v1/api-keys',                [403, 403, 403, 403, 201], (x, n) => ({ name: `k-${n}`, role: 'read', bunitIds: [x.ids.A] })),
        row('GET /v1/api-keys',                 [403, 403, 403, 403, 200]),
        row('GET /v1/api-keys/{new key}',       [403, 403, 403, 403, 200]),
        row('DELETE /v1/api-keys/{new key}',    [403, 403, 403, 403, 204]),
      ]);
    });
  });

  describe('requests × keys', () => {
    it('business units: read for the units in scope, changes for admin only', async () => {
      await checkMatrix(ctx, w, [
        //   request                            readA writeA readB writeB admin
        row('GET /v1/bunits/{A}',               [200, 200, 403, 403, 200]),
        row('GET /v1/bunits/{B}',               [403, 403, 200, 200, 200]),
        row('GET /v1/bunits/{C}',               [403, 403, 403, 403, 200]),
        // outside the scope, a unit that does not exist looks like one that does
        row('GET /v1/bunits/{missing}',         [403, 403, 403, 403, 404]),
        row('GET /v1/bunits/{missing}/referrals', [403, 403, 403, 403, 404]),
        row('POST /v1/bunits',                  [403, 403, 403, 403, 201], (_, n) => ({ code: `NEW-${n}`, name: 'New unit' })),
        row('PUT /v1/bunits/{A}',               [403, 403, 403, 403, 200], () => ({ code: 'ALPHA', name: 'ALPHA unit' })),
        row('DELETE /v1/bunits/{A}',            [403, 403, 403, 403, 204]),
      ]);
    });

    it('contracts: a contract of another unit is not found under this one', async () => {
      await checkMatrix(ctx, w, [
        //   request                                          readA writeA readB writeB admin
        row('GET /v1/bunits/{A}/contracts',                   [200, 200, 403, 403, 200]),
        row('POST /v1/bunits/{A}/contracts',                  [403, 201, 403, 403, 201], (_, n) => contractBody(`A-POST-${n}`)),
        row('GET /v1/bunits/{A}/contracts/{cA}',              [200, 200, 403, 403, 200]),
        row('PUT /v1/bunits/{A}/contracts/{cA}',              [403, 200, 403, 403, 200], () => contractBody('A-1')),
        // nor can A's contract be moved to B
        row('PUT /v1/bunits/{A}/contracts/{cA}',              [403, 409, 403, 403, 409], (x) => ({ ...contractBody('A-1'), bunitId: x.ids.B })),
        row('DELETE /v1/bunits/{A}/contracts/{new contract of A}', [403, 204, 403, 403, 204]),
        row('GET /v1/bunits/{B}/contracts',                   [403, 403, 200, 200, 200]),
        row('POST /v1/bunits/{B}/contracts',                  [403, 403, 403, 201, 201], (_, n) => contractBody(`B-POST-${n}`)),
        row('GET /v1/bunits/{B}/contracts/{cB}',              [403, 403, 200, 200, 200]),
        row('GET /v1/bunits/{A}/contracts/{cB}',              [404, 404, 403, 403, 404]),
        row('PUT /v1/bunits/{A}/contracts/{cB}',              [403, 404, 403, 403, 404], () => contractBody('B-1-CHANGED')),
        row('DELETE /v1/bunits/{A}/contracts/{cB}',           [403, 404, 403, 403, 404]),
        row('GET /v1/bunits/{B}/contracts/{cA}',              [403, 403, 404, 404, 404]),
        row('DELETE /v1/bunits/{B}/contracts/{cA}',           [403, 403, 403, 404, 404]),
        row('GET /v1/bunits/{C}/contracts',                   [403, 403, 403, 403, 200]),
      ]);
      const cB = await ctx.get(`/v1/bunits/${w.ids.B}/contracts/${w.ids.cB}`);
      expect(cB.body).to.include({ number: 'B-1', archivedDate: null });
      expect((await ctx.get(`/v1/bunits/${w.ids.A}/contracts/${w.ids.cA}`)).body).to.include({ archivedDate: null });
    });

    it('referrals: visible under the owner and the referrer (R11), changed only by the owner, not found elsewhere', async () => {
      const rAB = (x: World) => referralBody(x.ids.cA, x.ids.B, { billingStartDate: '2026-10-01' });
      const rBC = (x: World) => referralBody(x.ids.cB, x.ids.C, { percentage: '50', billingStartDate: '2026-10-01' });
      await checkMatrix(ctx, w, [
        //   request                                              readA writeA readB writeB admin
        row('GET /v1/bunits/{A}/referrals',                       [200, 200, 403, 403, 200]),
        row('POST /v1/bunits/{A}/referrals',                      [403, 201, 403, 403, 201], (x, n) => referralBody(x.ids.cA, x.ids.C, oneYearFor(n))),
        // a referral on B's contract cannot be made under A (R1)
        row('POST /v1/bunits/{A}/referrals',                      [403, 422, 403, 403, 422], (x, n) => referralBody(x.ids.cB, x.ids.C, oneYearFor(n))),
        row('GET /v1/bunits/{A}/referrals/{rAB}',                 [200, 200, 403, 403, 200]),
        row('PUT /v1/bunits/{A}/referrals/{rAB}',                 [403, 200, 403, 403, 200], rAB),
        row('DELETE /v1/bunits/{A}/referrals/{new referral of A}', [403, 204, 403, 403, 204]),
        row('GET /v1/bunits/{A}/referrals/{rAB}/history',         [200, 200, 403, 403, 200]),
        // R11: the referrer sees it and its history, but may not change it, whatever its key
        row('GET /v1/bunits/{B}/referrals/{rAB}',                 [403, 403, 200, 200, 200]),
        row('GET /v1/bunits/{B}/referrals/{rAB}/history',         [403, 403, 200, 200, 200]),
        row('PUT /v1/bunits/{B}/referrals/{rAB}',                 [403, 403, 403, 403, 403], rAB),
        row('DELETE /v1/bunits/{B}/referrals/{rAB}',              [403, 403, 403, 403, 403]),
        // a referral between B and C does not exist under A
        row('GET /v1/bunits/{A}/referrals/{rBC}',                 [404, 404, 403, 403, 404]),
        row('GET /v1/bunits/{A}/referrals/{rBC}/history',         [404, 404, 403, 403, 404]),
        row('PUT /v1/bunits/{A}/referrals/{rBC}',                 [403, 404, 403, 403, 404], rBC),
        row('DELETE /v1/bunits/{A}/referrals/{rBC}',              [403, 404, 403, 403, 404]),
        row('POST /v1/bunits/{B}/referrals',                      [403, 403, 403, 201, 201], (x, n) => referralBody(x.ids.cB, x.ids.A, oneYearFor(n))),
        row('GET /v1/bunits/{C}/referrals',                       [403, 403, 403, 403, 200]),
        row('GET /v1/bunits/{C}/referrals/{rBC}',                 [403, 403, 403, 403, 200]),
      ]);
      for (const [bunit, id] of [[w.ids.A, w.ids.rAB], [w.ids.B, w.ids.rBC]] as const) {
        const res = await ctx.get(`/v1/bunits/${bunit}/referrals/${id}`);
        expect(res.body, `referral ${id}`).to.include({ percentage: '10', archivedDate: null });
      }
    });

    it('revenue: lines of a contract of another unit, or of another contract, are not found', async () => {
      const line = (_: World, n: number) => ({ lines: [{ externalId: `POST-${n}`, amount: '5', date: '2026-11-02' }] });
      await checkMatrix(ctx, w, [
        //   request                                                              readA writeA readB writeB admin
        row('GET /v1/bunits/{A}/contracts/{cA}/revenue',                          [200, 200, 403, 403, 200]),
        row('POST /v1/bunits/{A}/contracts/{cA}/revenue',                         [403, 201, 403, 403, 201], line),
        row('DELETE /v1/bunits/{A}/contracts/{cA}/revenue/{new line of cA}',      [403, 204, 403, 403, 204]),
        row('GET /v1/bunits/{B}/contracts/{cB}/revenue',                          [403, 403, 200, 200, 200]),
        row('POST /v1/bunits/{B}/contracts/{cB}/revenue',                         [403, 403, 403, 201, 201], line),
        row('GET /v1/bunits/{A}/contracts/{cB}/revenue',                          [404, 404, 403, 403, 404]),
        row('POST /v1/bunits/{A}/contracts/{cB}/revenue',                         [403, 404, 403, 403, 404], line),
        row('DELETE /v1/bunits/{A}/contracts/{cB}/revenue/{lineB}',               [403, 404, 403, 403, 404]),
        row('DELETE /v1/bunits/{A}/contracts/{cA}/revenue/{new line of cA2}',     [403, 404, 403, 403, 404]),
        row('DELETE /v1/bunits/{A}/contracts/{cA}/revenue/{lineB}',               [403, 404, 403, 403, 404]),
        // the referrer sees statements, not the payer's revenue
        row('GET /v1/bunits/{B}/contracts/{cA}/revenue',                          [403, 403, 404, 404, 404]),
      ]);
      // nothing reached B's contract through A's path: its October line and the two lines B and admin posted
      const onB = await ctx.db('revenue_lines').where({ contract_id: w.ids.cB }).orderBy('id');
      expect(onB.map((r: { external_id: string }) => r.external_id.replace(/\d+$/, 'n'))).to.deep.equal(['B-OCT', 'POST-n', 'POST-n']);
    });

    it('statements and billing windows: visible to payer and referrer only, as JSON and as CSV', async () => {
      const windows = 'billing-windows?from=2026-10-01&to=2026-12-31';
      await checkMatrix(ctx, w, [
        //   request                                         readA writeA readB writeB admin
        row('GET /v1/bunits/{A}/statements',                 [200, 200, 403, 403, 200]),
        row('GET /v1/bunits/{A}/statements/{sAB}',           [200, 200, 403, 403, 200]),
        row('GET /v1/bunits/{B}/statements/{sAB}',           [403, 403, 200, 200, 200]),
        row('GET /v1/bunits/{B}/statements/{sBC}',           [403, 403, 200, 200, 200]),
        row('GET /v1/bunits/{A}/statements/{sBC}',           [404, 404, 403, 403, 404]),
        row('GET /v1/bunits/{A}/statements/{sBC}',           [404, 404, 403, 403, 404], undefined, 'text/csv'),
        row('GET /v1/bunits/{C}/statements',                 [403, 403, 403, 403, 200]),
        row('GET /v1/bunits/{C}/statements/{sBC}',           [403, 403, 403, 403, 200]),
        row(`GET /v1/bunits/{A}/${windows}`,                 [200, 200, 403, 403, 200]),
        row(`GET /v1/bunits/{B}/${windows}`,                 [403, 403, 200, 200, 200]),
        row(`GET /v1/bunits/{C}/${windows}`,                 [403, 403, 403, 403, 200]),
      ]);
    });

    it('settlement runs: admin only', async () => {
      await checkMatrix(ctx, w, [
        //   request                                  readA writeA readB writeB admin
        row('POST /v1/settlement-runs',               [403, 403, 403, 403, 200], () => ({ through: '2026-10-31', dryRun: true })),
        row('GET /v1/settlement-runs',                [403, 403, 403, 403, 200]),
        row('GET /v1/settlement-runs/{run}',          [403, 403, 403, 403, 200]),
        row('POST /v1/settlement-runs',               [403, 403, 403, 403, 201], () => ({ through: '2026-11-22' })),
      ]);
      expect(await count(ctx, 'settlement_runs')).to.equal(2);
    });
  });

  describe('the path unit', () => {
    it('cannot be slipped past the scope check by writing its id another way', async () => {
      const bravo = agentFor(ctx, w.keys.readB.secret);
      const { A, cA } = w.ids;
      const paths = (unit: string) => [`/v1/bunits/${unit}`, `/v1/bunits/${unit}/contracts/${cA}`, `/v1/bunits/${unit}/referrals`];
      for (const written of [`0${A}`, `00${A}`, `${A}.0`, `%2B${A}`, `${A}%20`, `${A}e0`]) {
        for (const path of paths(written)) expectProblem(await bravo.get(path), 400, 'validation-failed');
      }
      const percentEncoded = [...String(A)].map((digit) => `%3${digit}`).join('');
      for (const path of paths(percentEncoded)) expectProblem(await bravo.get(path), 403, 'forbidden');
    });
  });

  describe('Idempotency-Key', () => {
    it('never replays one key’s response to another key of the same unit', async () => {
      const { A } = w.ids;
      const other = await createKey(ctx, 'alpha-writer-2', 'write', [A]);
      const send = (secret: string) =>
        agentFor(ctx, secret).post(`/v1/bunits/${A}/contracts`, contractBody('A-IDEM')).set('Idempotency-Key', 'shared-key');
      const first = await send(w.keys.writeA.secret);
      expect(first.status, first.text).to.equal(201);
      expect((await send(w.keys.writeA.secret)).headers['idempotent-replayed']).to.equal('true');

      const second = await send(other.secret);
      expect(second.headers['idempotent-replayed']).to.equal(undefined);
      expectProblem(second, 409, 'duplicate-contract-number');
    });
  });

  describe('what a key sees in lists', () => {
    it('GET /v1/bunits lists only the units the key may act for, and counts only those', async () => {
      const ids = async (secret: string, q = '') => {
        const res = await agentFor(ctx, secret).get(`/v1/bunits${q}`);
        expect(res.status).to.equal(200);
        return { ids: (res.body.data as { id: number }[]).map((b) => b.id), total: res.body.meta.total as number };
      };
      const { A, B, C } = w.ids;
      expect(await ids(w.keys.readA.secret)).to.deep.equal({ ids: [A], total: 1 });
      expect(await ids(w.keys.writeB.secret)).to.deep.equal({ ids: [B], total: 1 });
      expect(await ids(w.keys.admin.secret)).to.deep.equal({ ids: [A, B, C], total: 3 });

      const both = await createKey(ctx, 'alpha-charlie', 'read', [C, A]);
      expect(await ids(both.secret)).to.deep.equal({ ids: [A, C], total: 2 });
      expect(await ids(both.secret, '?limit=1&offset=1')).to.deep.equal({ ids: [C], total: 2 });
      expect(await ids(both.secret, '?sort=-code&archived=include')).to.deep.equal({ ids: [C, A], total: 2 });
    });

    it('lists under a unit only what that unit owns, earns or pays, whatever the filters ask for', async () => {
      const { A, B, C, cB, rAB, rBC, sAB, sBC } = w.ids;
      const alpha = agentFor(ctx, w.keys.readA.secret);
      const bravo = agentFor(ctx, w.keys.readB.secret);
      const listed = async (agent: Agent, path: string) => {
        const res = await agent.get(path);
        expect(res.status, `${path}: ${res.text}`).to.equal(200);
        expect(res.body.meta.total, path).to.equal(res.body.data.length);
        return (res.body.data as { id?: number; referral?: { id: number } }[]).map((x) => x.id ?? x.referral!.id);
      };
      expect(await listed(alpha, `/v1/bunits/${A}/referrals`)).to.deep.equal([rAB]);
      expect(await listed(alpha, `/v1/bunits/${A}/referrals?contractId=${cB}`)).to.deep.equal([]);
      expect(await listed(alpha, `/v1/bunits/${A}/referrals?referrerId=${C}`)).to.deep.equal([]);
      expect(await listed(alpha, `/v1/bunits/${A}/referrals?archived=include&role=referrer`)).to.deep.equal([]);
      expect(await listed(bravo, `/v1/bunits/${B}/referrals`)).to.deep.equal([rAB, rBC]);
      expect(await listed(bravo, `/v1/bunits/${B}/referrals?role=referrer`)).to.deep.equal([rAB]);
      expect(await listed(bravo, `/v1/bunits/${B}/referrals?role=owner`)).to.deep.equal([rBC]);

      expect(await listed(alpha, `/v1/bunits/${A}/contracts`)).to.deep.equal([w.ids.cA, w.ids.cA2]);
      expect(await listed(alpha, `/v1/bunits/${A}/statements`)).to.deep.equal([sAB]);
      expect(await listed(alpha, `/v1/bunits/${A}/statements?role=referrer`)).to.deep.equal([]);
      expect(await listed(bravo, `/v1/bunits/${B}/statements`)).to.deep.equal([sAB, sBC]);
      expect(await listed(alpha, `/v1/bunits/${A}/statements?runId=${w.ids.run}&currency=EUR`)).to.deep.equal([sAB]);

      const windows = 'billing-windows?from=2026-10-01&to=2026-12-31';
      expect(await listed(alpha, `/v1/bunits/${A}/${windows}`)).to.deep.equal([rAB]);
      expect(await listed(bravo, `/v1/bunits/${B}/${windows}`)).to.deep.equal([rAB, rBC]);
    });
  });

  describe('R11: the referrer', () => {
    it('reads the referral and its history, and its write key cannot change or archive it', async () => {
      const { A, B, cA, rAB } = w.ids;
      const bravo = agentFor(ctx, w.keys.writeB.secret);
      const read = await bravo.get(`/v1/bunits/${B}/referrals/${rAB}`);
      expect(read.status).to.equal(200);
      expect(read.body).to.include({ id: rAB, percentage: '10' });
      expect(read.body.contract.id).to.equal(cA);

      const body = referralBody(cA, B, { percentage: '90', billingStartDate: '2026-10-01' });
      expectProblem(await bravo.put(`/v1/bunits/${B}/referrals/${rAB}`, body), 403, 'forbidden');
      expectProblem(await bravo.del(`/v1/bunits/${B}/referrals/${rAB}`), 403, 'forbidden');
      expectProblem(await bravo.put(`/v1/bunits/${A}/referrals/${rAB}`, body), 403, 'forbidden');

      const after = await ctx.get(`/v1/bunits/${A}/referrals/${rAB}`);
      expect(after.body).to.include({ percentage: '10', archivedDate: null });
      expect(after.headers.etag).to.equal(read.headers.etag);
      const history = await bravo.get(`/v1/bunits/${B}/referrals/${rAB}/history`);
      expect(history.body.data.map((e: { action: string }) => e.action)).to.deep.equal(['create']);
    });
  });

  describe('audit trail', () => {
    it('names the key that made each change, with its reason, under the owner and the referrer alike', async () => {
      const { A, B, cA2 } = w.ids;
      const alpha = agentFor(ctx, w.keys.writeA.secret);
      const admin = agentFor(ctx, w.keys.admin.secret);
      const created = await alpha
        .post(`/v1/bunits/${A}/referrals`, referralBody(cA2, B, { percentage: '5', billingStartDate: '2027-01-01' }))
        .set('X-Change-Reason', 'Signed with Bravo');
      expect(created.status, created.text).to.equal(201);
      const id = created.body.id as number;
      const put = await admin.put(`/v1/bunits/${A}/referrals/${id}`, referralBody(cA2, B, { percentage: '6', billingStartDate: '2027-01-01' }));
      expect(put.status, put.text).to.equal(200);
      expect((await alpha.del(`/v1/bunits/${A}/referrals/${id}`).set('X-Change-Reason', 'Deal fell through')).status).to.equal(204);

      const expected = [
        { action: 'create', keyName: 'alpha-writer', reason: 'Signed with Bravo' },
        { action: 'update', keyName: 'ops-admin', reason: null },
        { action: 'archive', keyName: 'alpha-writer', reason: 'Deal fell through' },
      ];
      for (const [agent, bunit] of [[agentFor(ctx, w.keys.readA.secret), A], [agentFor(ctx, w.keys.readB.secret), B]] as const) {
        const res = await agent.get(`/v1/bunits/${bunit}/referrals/${id}/history`);
        expect(res.status).to.equal(200);
        expect(res.body.data.map((e: { action: string; keyName: string; reason: string | null }) => ({ action: e.action, keyName: e.keyName, reason: e.reason })))
          .to.deep.equal(expected);
      }
    });
  });
});

async function count(ctx: ApiContext, table: string): Promise<number> {
  return Number((await ctx.db(table).count({ n: '*' }).first())?.n ?? 0);
}

function omitKey(body: Record<string, unknown>): Record<string, unknown> {
  const { key: _key, ...rest } = body;
  return rest;
}
