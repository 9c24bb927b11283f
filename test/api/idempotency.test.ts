import { expect } from 'chai';
import { pino } from 'pino';
import request from 'supertest';
import { createApp } from '../../src/app';
import { ADMIN_KEY, describeApi, type ApiContext } from '../helpers/api';
import { createBunit, createReferral, expectProblem, referralBody, world } from '../helpers/fixtures';

const count = async (ctx: ApiContext, table: string, where: Record<string, unknown> = {}) =>
  Number((await ctx.db(table).where(where).count({ n: '*' }).first())?.n ?? 0);

const HOUR = 60 * 60 * 1000;

/** A POST with the admin key and an Idempotency-Key. */
const postWithKey = (ctx: ApiContext, path: string, key: string, body: unknown) => ctx.post(path, body).set('Idempotency-Key', key);

/** Creates an admin key through the API and answers its secret. */
async function secondAdminKey(ctx: ApiContext, name = 'second-admin'): Promise<string> {
  const res = await ctx.post('/v1/api-keys', { name, role: 'admin' });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.key as string;
}

describeApi('idempotency (SPEC §7.2)', (ctx) => {
  describe('a retry with the same key and the same request', () => {
    it('replays the first response (status, body, Location, ETag) with Idempotent-Replayed: true and creates nothing more', async () => {
      const body = { code: 'NORDICS', name: 'Nordic Sales' };
      const first = await postWithKey(ctx, '/v1/bunits', 'create-nordics', body);
      expect(first.status).to.equal(201);
      expect(first.headers).not.to.have.property('idempotent-replayed');

      ctx.clock.advanceMs(5 * 60 * 1000);
      const retry = await postWithKey(ctx, '/v1/bunits', 'create-nordics', body);
      expect(retry.status).to.equal(201);
      expect(retry.headers['idempotent-replayed']).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      expect(retry.headers.location).to.equal(first.headers.location);
      expect(retry.headers.etag).to.equal(first.headers.etag);
      expect(retry.headers['content-type']).to.match(/^application\/json/);

      expect((await ctx.get('/v1/bunits')).body.meta.total).to.equal(1);
      expect(await count(ctx, 'business_units')).to.equal(1);
      expect(await count(ctx, 'audit_events', { entity_type: 'bunit' })).to.equal(1);
    });

    it('treats the same JSON with its properties in another order and other spacing as the same body', async () => {
      const { owner, alice, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/referrals`;
      const first = await ctx
        .post(path)
        .set('Idempotency-Key', 'ref-1')
        .set('Content-Type', 'application/json')
        .send(`{"contract":{"id":${contract}},"referrer":{"id":${alice}},"percentage":"12.5"}`);
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      const reordered = await ctx
        .post(path)
        .set('Idempotency-Key', 'ref-1')
        .set('Content-Type', 'application/json')
        .send(`{ "percentage": "12.5", "referrer": {"id": ${alice}}, "contract": {"id": ${contract}} }`);
      expect(reordered.status).to.equal(201);
      expect(reordered.headers['idempotent-replayed']).to.equal('true');
      expect(reordered.body).to.deep.equal(first.body);
      expect((await ctx.get(`${path}?contractId=${contract}`)).body.meta.total).to.equal(1);
    });

    it('replays a first request that failed with a 4xx as that 4xx, even after the cause is gone', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const blocker = await createReferral(ctx, owner, contract, alice, { percentage: '95' });
      const path = `/v1/bunits/${owner}/referrals`;
      const body = referralBody(contract, bob, { percentage: '10' });

      const first = await postWithKey(ctx, path, 'bob-referral', body);
      expectProblem(first, 409, 'over-allocated');
      expect((await ctx.del(`${path}/${blocker.id}`)).status).to.equal(204);

      const retry = await postWithKey(ctx, path, 'bob-referral', body);
      expectProblem(retry, 409, 'over-allocated');
      expect(retry.headers['idempotent-replayed']).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      expect((await ctx.get(`${path}?referrerId=${bob}&archived=include`)).body.meta.total).to.equal(0);

      // A new key is a new request, and now it succeeds.
      expect((await postWithKey(ctx, path, 'bob-referral-2', body)).status).to.equal(201);
    });

    it('replays a 422 invalid-reference as well', async () => {
      const owner = await createBunit(ctx, 'OWNER');
      const path = `/v1/bunits/${owner}/contracts`;
      const first = await postWithKey(ctx, path, 'k', { number: 'C-1', name: 'N', currency: 'EUR', startDate: '2026-01-01' });
      expect(first.status).to.equal(201);
      const ref = await postWithKey(ctx, `/v1/bunits/${owner}/referrals`, 'k', referralBody(9999, owner));
      expectProblem(ref, 422, 'invalid-reference');
      const again = await postWithKey(ctx, `/v1/bunits/${owner}/referrals`, 'k', referralBody(9999, owner));
      expectProblem(again, 422, 'invalid-reference');
      expect(again.headers['idempotent-replayed']).to.equal('true');
    });

    it('does not hold the key after a 5xx: once the fault is gone a retry is processed, not replayed', async () => {
      await ctx.db.schema.renameTable('audit_events', 'audit_events_away');
      let failed;
      try {
        failed = await postWithKey(ctx, '/v1/bunits', 'after-outage', { code: 'HQ', name: 'Head office' });
      } finally {
        await ctx.db.schema.renameTable('audit_events_away', 'audit_events');
      }
      expectProblem(failed, 500, 'internal');
      expect(await count(ctx, 'business_units')).to.equal(0);

      const retry = await postWithKey(ctx, '/v1/bunits', 'after-outage', { code: 'HQ', name: 'Head office' });
      expect(retry.status).to.equal(201);
      expect(retry.headers).not.to.have.property('idempotent-replayed');
      expect(await count(ctx, 'business_units')).to.equal(1);
    });
  });

  describe('a retry that does not match', () => {
    it('answers 422 idempotency-key-mismatch for a different body, and creates nothing', async () => {
      const first = await postWithKey(ctx, '/v1/bunits', 'k-1', { code: 'HQ', name: 'Head office' });
      expect(first.status).to.equal(201);
      const other = await postWithKey(ctx, '/v1/bunits', 'k-1', { code: 'OTHER', name: 'Other unit' });
      expectProblem(other, 422, 'idempotency-key-mismatch');
      expect(other.headers).not.to.have.property('idempotent-replayed');
      expect(await count(ctx, 'business_units')).to.equal(1);
      // A body differing only in one number is a different body too.
      const { owner, alice, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/referrals`;
      expect((await postWithKey(ctx, path, 'r', referralBody(contract, alice, { percentage: '10' }))).status).to.equal(201);
      expectProblem(await postWithKey(ctx, path, 'r', referralBody(contract, alice, { percentage: '10.5' })), 422, 'idempotency-key-mismatch');
    });

    it('scopes keys to method and path: the same key on another path is a new request', async () => {
      const bunit = await postWithKey(ctx, '/v1/bunits', 'shared-key', { code: 'OWNER', name: 'Owner' });
      expect(bunit.status).to.equal(201);
      const contract = await postWithKey(ctx, `/v1/bunits/${bunit.body.id}/contracts`, 'shared-key', {
        number: 'C-1',
        name: 'Fleet',
        currency: 'EUR',
        startDate: '2026-01-01',
      });
      expect(contract.status).to.equal(201);
      expect(contract.headers).not.to.have.property('idempotent-replayed');
      expect(contract.body).to.include({ bunitId: bunit.body.id, number: 'C-1' });
      expect(await count(ctx, 'contracts')).to.equal(1);
    });

    it('scopes keys to the API key: another key may use the same Idempotency-Key independently', async () => {
      const secret = await secondAdminKey(ctx);
      const first = await postWithKey(ctx, '/v1/bunits', 'per-key', { code: 'FIRST', name: 'First' });
      expect(first.status).to.equal(201);

      const bySecond = await request(ctx.app)
        .post('/v1/bunits')
        .set('Authorization', `Bearer ${secret}`)
        .set('Idempotency-Key', 'per-key')
        .send({ code: 'SECOND', name: 'Second' });
      expect(bySecond.status, JSON.stringify(bySecond.body)).to.equal(201);
      expect(bySecond.headers).not.to.have.property('idempotent-replayed');
      expect(bySecond.body.id).not.to.equal(first.body.id);

      // The same body again through the second key is a new request for it: the code is taken.
      const sameBody = await request(ctx.app)
        .post('/v1/bunits')
        .set('Authorization', `Bearer ${secret}`)
        .set('Idempotency-Key', 'other-key')
        .send({ code: 'FIRST', name: 'First' });
      expectProblem(sameBody, 409, 'duplicate-code');

      // And each key still replays its own first response.
      const replayFirst = await postWithKey(ctx, '/v1/bunits', 'per-key', { code: 'FIRST', name: 'First' });
      expect(replayFirst.headers['idempotent-replayed']).to.equal('true');
      expect(replayFirst.body).to.deep.equal(first.body);
      expect(await count(ctx, 'business_units')).to.equal(2);
    });

    it('ignores Idempotency-Key on methods other than POST', async () => {
      const id = await createBunit(ctx, 'HQ', 'Head office');
      const one = await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'One' }).set('Idempotency-Key', 'put-key');
      const two = await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'Two' }).set('Idempotency-Key', 'put-key');
      expect([one.status, two.status]).to.deep.equal([200, 200]);
      expect(two.body.name).to.equal('Two');
      expect(await count(ctx, 'idempotency_keys')).to.equal(0);
    });
  });

  describe('a key still in use', () => {
    it('answers 409 idempotency-key-in-use while the first request is still running, and creates nothing', async () => {
      const body = { code: 'HQ', name: 'Head office' };
      expect((await postWithKey(ctx, '/v1/bunits', 'busy', body)).status).to.equal(201);
      // As if the first request were still running on some instance: its lease lies ahead.
      await ctx
        .db('idempotency_keys')
        .where({ idempotency_key: 'busy' })
        .update({
          state: 'running',
          response_status: null,
          response_headers: null,
          response_body: null,
          lease_until: new Date(ctx.clock.now().getTime() + 5 * 60 * 1000).toISOString(),
        });

      const retry = await postWithKey(ctx, '/v1/bunits', 'busy', body);
      expectProblem(retry, 409, 'idempotency-key-in-use');
      expect(retry.headers).not.to.have.property('idempotent-replayed');
      expect(await count(ctx, 'business_units')).to.equal(1);
      expect((await ctx.db('idempotency_keys').where({ idempotency_key: 'busy' }).first()).state).to.equal('running');
    });

    it('when the same key is sent several times at once, exactly one object is created and the others replay it or answer 409', async () => {
      for (let round = 0; round < 3; round++) {
        const body = { code: `RACE-${round}`, name: 'Race' };
        const results = await Promise.all(
          Array.from({ length: 4 }, () => postWithKey(ctx, '/v1/bunits', `race-${round}`, body)),
        );
        const created = results.filter((r) => r.status === 201 && r.headers['idempotent-replayed'] === undefined);
        expect(created, JSON.stringify(results.map((r) => [r.status, r.body]))).to.have.length(1);
        for (const r of results) {
          if (r.status === 201) expect(r.body).to.deep.equal(created[0]!.body);
          else expectProblem(r, 409, 'idempotency-key-in-use');
        }
        expect(await count(ctx, 'business_units', { code: `RACE-${round}` })).to.equal(1);
      }
    });
  });

  describe('retention', () => {
    it('replays for 24 hours; after that the key is free for a new request', async () => {
      const first = await postWithKey(ctx, '/v1/bunits', 'daily', { code: 'DAY-1', name: 'Day one' });
      expect(first.status).to.equal(201);

      ctx.clock.advanceMs(24 * HOUR - 60_000);
      const stillReplayed = await postWithKey(ctx, '/v1/bunits', 'daily', { code: 'DAY-1', name: 'Day one' });
      expect(stillReplayed.headers['idempotent-replayed']).to.equal('true');
      expectProblem(await postWithKey(ctx, '/v1/bunits', 'daily', { code: 'DAY-2', name: 'Day two' }), 422, 'idempotency-key-mismatch');

      ctx.clock.advanceMs(60_000);
      const fresh = await postWithKey(ctx, '/v1/bunits', 'daily', { code: 'DAY-2', name: 'Day two' });
      expect(fresh.status).to.equal(201);
      expect(fresh.headers).not.to.have.property('idempotent-replayed');
      expect(fresh.body.code).to.equal('DAY-2');

      // From now on the key replays the new response.
      const replay = await postWithKey(ctx, '/v1/bunits', 'daily', { code: 'DAY-2', name: 'Day two' });
      expect(replay.headers['idempotent-replayed']).to.equal('true');
      expect(replay.body).to.deep.equal(fresh.body);
      expect(await count(ctx, 'business_units')).to.equal(2);
    });
  });

  describe('the key itself', () => {
    it('answers 400 validation-failed for a key longer than 255 characters, and creates nothing', async () => {
      const res = await postWithKey(ctx, '/v1/bunits', 'k'.repeat(256), { code: 'HQ', name: 'Head office' });
      expectProblem(res, 400, 'validation-failed');
      expect(res.body.errors.map((e: { path: string }) => e.path)).to.include('header.Idempotency-Key');
      expect(await count(ctx, 'business_units')).to.equal(0);
      expect(await count(ctx, 'idempotency_keys')).to.equal(0);
    });

    it('answers 400 validation-failed for an empty key', async () => {
      expectProblem(await postWithKey(ctx, '/v1/bunits', '', { code: 'HQ', name: 'Head office' }), 400, 'validation-failed');
      expect(await count(ctx, 'business_units')).to.equal(0);
    });

    it('accepts a key of exactly 255 characters', async () => {
      const key = 'k'.repeat(255);
      expect((await postWithKey(ctx, '/v1/bunits', key, { code: 'HQ', name: 'Head office' })).status).to.equal(201);
      const retry = await postWithKey(ctx, '/v1/bunits', key, { code: 'HQ', name: 'Head office' });
      expect(retry.headers['idempotent-replayed']).to.equal('true');
    });
  });

  describe('on revenue ingest and settlement runs', () => {
    const october = [
      { externalId: 'INV-1', amount: '3100.00', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
      { externalId: 'INV-2', amount: '-100', date: '2026-10-15' },
    ];

    it('a replayed revenue ingest answers the first result (created, not existing) and adds no line', async () => {
      const { owner, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/contracts/${contract}/revenue`;
      const first = await postWithKey(ctx, path, 'ingest-oct', { lines: october });
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect(first.body).to.include({ created: 2, existing: 0 });

      const retry = await postWithKey(ctx, path, 'ingest-oct', { lines: october });
      expect(retry.status).to.equal(201);
      expect(retry.headers['idempotent-replayed']).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      expect(await count(ctx, 'revenue_lines')).to.equal(2);
      expect(await count(ctx, 'audit_events', { entity_type: 'revenue-line' })).to.equal(2);
    });

    it('a replayed settlement run answers the first run and does not run again', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
      const revenue = `/v1/bunits/${owner}/contracts/${contract}/revenue`;
      expect((await ctx.post(revenue, { lines: october })).status).to.equal(201);

      const first = await postWithKey(ctx, '/v1/settlement-runs', 'nightly-2026-10-31', { through: '2026-10-31' });
      expect(first.status, JSON.stringify(first.body)).to.equal(201);
      expect(first.body).to.deep.include({ lineCount: 2, totals: [{ currency: 'EUR', amount: '300.00' }] });

      // Revenue arrives late; a retry of the same run must not settle it.
      expect((await ctx.post(revenue, { lines: [{ externalId: 'LATE', amount: '500', date: '2026-10-20' }] })).status).to.equal(201);
      const retry = await postWithKey(ctx, '/v1/settlement-runs', 'nightly-2026-10-31', { through: '2026-10-31' });
      expect(retry.status).to.equal(201);
      expect(retry.headers['idempotent-replayed']).to.equal('true');
      expect(retry.headers.location).to.equal(first.headers.location);
      expect(retry.body).to.deep.equal(first.body);

      expect(await count(ctx, 'settlement_runs')).to.equal(1);
      expect(await count(ctx, 'settled_pairs')).to.equal(2);
      expect(await count(ctx, 'audit_events', { entity_type: 'settlement-run' }), 'one run: created and completed').to.equal(2);
      const unsettled = await ctx.get(`${revenue}?settled=false`);
      expect(unsettled.body.data.map((l: { externalId: string }) => l.externalId)).to.deep.equal(['LATE']);
    });
  });

  describe('across instances', () => {
    it('a retry through a second app on the same database replays the first response', async () => {
      const other = createApp({
        db: ctx.db,
        clock: ctx.clock,
        businessTimeZone: 'UTC',
        adminApiKey: ADMIN_KEY,
        logger: pino({ level: 'silent' }),
        keyPollMs: 0,
      });
      const body = { code: 'HQ', name: 'Head office' };
      const first = await postWithKey(ctx, '/v1/bunits', 'two-instances', body);
      expect(first.status).to.equal(201);
      const retry = await request(other.app)
        .post('/v1/bunits')
        .set('Authorization', `Bearer ${ADMIN_KEY}`)
        .set('Idempotency-Key', 'two-instances')
        .send(body);
      expect(retry.status).to.equal(201);
      expect(retry.headers['idempotent-replayed']).to.equal('true');
      expect(retry.body).to.deep.equal(first.body);
      expect(retry.headers.location).to.equal(first.headers.location);
      expect(retry.headers.etag).to.equal(first.headers.etag);

      const mismatch = await request(other.app)
        .post('/v1/bunits')
        .set('Authorization', `Bearer ${ADMIN_KEY}`)
        .set('Idempotency-Key', 'two-instances')
        .send({ ...body, name: 'Other' });
      expectProblem(mismatch, 422, 'idempotency-key-mismatch');
      expect(await count(ctx, 'business_units')).to.equal(1);
    });
  });
});
