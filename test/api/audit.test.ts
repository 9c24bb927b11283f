import { expect } from 'chai';
import request from 'supertest';
import { describeApi, type ApiContext } from '../helpers/api';
import { createReferral, expectProblem, referralBody, world } from '../helpers/fixtures';

interface Change {
  field: string;
  from: unknown;
  to: unknown;
}
interface Entry {
  id: number;
  at: string;
  action: string;
  keyName: string;
  reason: string | null;
  changes: Change[];
}
interface AuditRow {
  entityType: string;
  entityId: number;
  action: string;
  keyName: string;
  keyId: number | null;
  reason: string | null;
  changes: Change[];
  at: string;
}

async function history(ctx: ApiContext, bunit: number, referral: number): Promise<Entry[]> {
  const res = await ctx.get(`/v1/bunits/${bunit}/referrals/${referral}/history`);
  expect(res.status, JSON.stringify(res.body)).to.equal(200);
  expect(res.body.meta.total).to.equal(res.body.data.length);
  return res.body.data as Entry[];
}

/** The audit rows of one kind of entity, oldest first, as plain objects. */
async function auditRows(ctx: ApiContext, entityType: string): Promise<AuditRow[]> {
  const rows = await ctx.db('audit_events').where({ entity_type: entityType }).orderBy('id');
  return rows.map((r) => ({
    entityType: r.entity_type,
    entityId: r.entity_id,
    action: r.action,
    keyName: r.key_name,
    keyId: r.key_id,
    reason: r.reason,
    changes: JSON.parse(r.changes) as Change[],
    at: new Date(r.at).toISOString(),
  }));
}

const changeOf = (entry: { changes: Change[] }, field: string) => entry.changes.find((c) => c.field === field);
const count = async (ctx: ApiContext, table: string) => Number((await ctx.db(table).count({ n: '*' }).first())?.n ?? 0);

describeApi('audit trail (SPEC §7.4)', (ctx) => {
  describe('GET …/referrals/{id}/history', () => {
    it('lists create, update and archive, oldest first, with when, which key, the fields changed and the reason', async () => {
      const { owner, alice, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/referrals`;
      const created = await ctx
        .post(path, referralBody(contract, alice, { percentage: '10', billingStartDate: '2026-11-01' }))
        .set('X-Change-Reason', 'Deal signed with Alice');
      expect(created.status).to.equal(201);
      const id = created.body.id as number;

      ctx.clock.set('2026-11-24T09:30:00.000Z');
      const put = await ctx.put(`${path}/${id}`, referralBody(contract, alice, { percentage: '15', billingEndDate: '2027-06-30' }));
      expect(put.status, JSON.stringify(put.body)).to.equal(200);

      ctx.clock.set('2026-11-25T08:00:00.000Z');
      expect((await ctx.del(`${path}/${id}`).set('X-Change-Reason', 'Customer left')).status).to.equal(204);

      const entries = await history(ctx, owner, id);
      expect(entries.map((e) => e.action)).to.deep.equal(['create', 'update', 'archive']);
      expect(entries.map((e) => e.at)).to.deep.equal(['2026-11-23T12:00:00.000Z', '2026-11-24T09:30:00.000Z', '2026-11-25T08:00:00.000Z']);
      expect(entries.map((e) => e.keyName)).to.deep.equal(['ADMIN_API_KEY', 'ADMIN_API_KEY', 'ADMIN_API_KEY']);
      expect(entries.map((e) => e.reason)).to.deep.equal(['Deal signed with Alice', null, 'Customer left']);
      expect(entries[0]!.id).to.be.below(entries[1]!.id);

      const [create, update, archive] = entries;
      expect(changeOf(create!, 'contract')).to.deep.equal({ field: 'contract', from: null, to: contract });
      expect(changeOf(create!, 'referrer')).to.deep.equal({ field: 'referrer', from: null, to: alice });
      expect(changeOf(create!, 'percentage')).to.deep.equal({ field: 'percentage', from: null, to: '10' });
      expect(changeOf(create!, 'billingStartDate')).to.deep.equal({ field: 'billingStartDate', from: null, to: '2026-11-01' });

      expect(changeOf(update!, 'percentage')).to.deep.equal({ field: 'percentage', from: '10', to: '15' });
      expect(changeOf(update!, 'billingEndDate')).to.deep.equal({ field: 'billingEndDate', from: null, to: '2027-06-30' });
      expect(changeOf(update!, 'billingStartDate'), 'an unchanged field is not listed').to.equal(undefined);
      expect(changeOf(update!, 'percentageHistory')?.to).to.deep.equal([
        { from: '2026-11-01', to: '2026-11-23', percentage: '10' },
        { from: '2026-11-24', to: null, percentage: '15' },
      ]);

      expect(archive!.changes).to.deep.equal([{ field: 'archivedDate', from: null, to: '2026-11-25T08:00:00.000Z' }]);
    });

    it('records a scheduled archive and its rescheduling with the dates from → to', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const path = `/v1/bunits/${owner}/referrals/${r.id}`;
      expect((await ctx.del(`${path}?at=2026-12-31T23:00:00.000Z`)).status).to.equal(204);
      expect((await ctx.del(`${path}?at=2027-01-31T23:00:00.000Z`)).status).to.equal(204);
      const entries = await history(ctx, owner, r.id);
      expect(entries.slice(1).map((e) => [e.action, e.changes])).to.deep.equal([
        ['archive', [{ field: 'archivedDate', from: null, to: '2026-12-31T23:00:00.000Z' }]],
        ['archive', [{ field: 'archivedDate', from: '2026-12-31T23:00:00.000Z', to: '2027-01-31T23:00:00.000Z' }]],
      ]);
    });

    it('records the archive caused by archiving the contract (R12), by the key that archived it, with its reason', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const a = await createReferral(ctx, owner, contract, alice, { percentage: '10' });
      const b = await createReferral(ctx, owner, contract, bob, { percentage: '20' });
      // b was going to end later anyway; archiving the contract brings that forward.
      expect((await ctx.del(`/v1/bunits/${owner}/referrals/${b.id}?at=2027-01-01T00:00:00.000Z`)).status).to.equal(204);
      ctx.clock.set('2026-11-23T15:00:00.000Z');
      const del = await ctx.del(`/v1/bunits/${owner}/contracts/${contract}`).set('X-Change-Reason', 'Contract terminated');
      expect(del.status).to.equal(204);

      const cascaded = { action: 'archive', at: '2026-11-23T15:00:00.000Z', keyName: 'ADMIN_API_KEY', reason: 'Contract terminated' };
      const ofA = await history(ctx, owner, a.id);
      expect(ofA.map((e) => e.action)).to.deep.equal(['create', 'archive']);
      expect(ofA[1]).to.deep.include(cascaded);
      expect(ofA[1]!.changes).to.deep.equal([{ field: 'archivedDate', from: null, to: '2026-11-23T15:00:00.000Z' }]);
      const ofB = await history(ctx, owner, b.id);
      expect(ofB.map((e) => e.action)).to.deep.equal(['create', 'archive', 'archive']);
      expect(ofB[2]).to.deep.include(cascaded);
      expect(ofB[2]!.changes).to.deep.equal([{ field: 'archivedDate', from: '2027-01-01T00:00:00.000Z', to: '2026-11-23T15:00:00.000Z' }]);
      const contractRows = await auditRows(ctx, 'contract');
      expect(contractRows.map((r) => r.action)).to.deep.equal(['create', 'archive']);
      expect(contractRows[1]).to.deep.include({ reason: 'Contract terminated', at: '2026-11-23T15:00:00.000Z' });
    });

    it('names the API key that made each change', async () => {
      const { owner, alice, contract } = await world(ctx);
      const keyRes = await ctx.post('/v1/api-keys', { name: 'billing-hq', role: 'write', bunitIds: [owner] });
      expect(keyRes.status).to.equal(201);
      const asBilling = (req: request.Test) => req.set('Authorization', `Bearer ${keyRes.body.key}`);

      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10' });
      const put = await asBilling(request(ctx.app).put(`/v1/bunits/${owner}/referrals/${r.id}`)).send(
        referralBody(contract, alice, { percentage: '12' }),
      );
      expect(put.status, JSON.stringify(put.body)).to.equal(200);
      const entries = await history(ctx, owner, r.id);
      expect(entries.map((e) => [e.action, e.keyName])).to.deep.equal([
        ['create', 'ADMIN_API_KEY'],
        ['update', 'billing-hq'],
      ]);
      const row = (await auditRows(ctx, 'referral'))[1]!;
      expect(row.keyId).to.equal(keyRes.body.id);
    });

    it('is visible to the owner and the referrer, 404 under any other business unit', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const asOwner = await history(ctx, owner, r.id);
      const asReferrer = await history(ctx, alice, r.id);
      expect(asReferrer).to.deep.equal(asOwner);
      expectProblem(await ctx.get(`/v1/bunits/${bob}/referrals/${r.id}/history`), 404, 'not-found');
      expectProblem(await ctx.get(`/v1/bunits/${owner}/referrals/${r.id + 100}/history`), 404, 'not-found');
      expectProblem(await ctx.get(`/v1/bunits/9999/referrals/${r.id}/history`), 404, 'not-found');
    });

    it('is readable with a read key of the referrer, and forbidden (403) under a business unit outside the key', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice);
      const key = await ctx.post('/v1/api-keys', { name: 'alice-reader', role: 'read', bunitIds: [alice] });
      expect(key.status).to.equal(201);
      const asAlice = (p: string) => request(ctx.app).get(p).set('Authorization', `Bearer ${key.body.key}`);
      const own = await asAlice(`/v1/bunits/${alice}/referrals/${r.id}/history`);
      expect(own.status).to.equal(200);
      expect(own.body.data.map((e: Entry) => e.action)).to.deep.equal(['create']);
      expectProblem(await asAlice(`/v1/bunits/${owner}/referrals/${r.id}/history`), 403, 'forbidden');
    });

    it('pages through a long history, oldest first', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-11-01' });
      for (const [i, pct] of ['11', '12', '13'].entries()) {
        ctx.clock.setToday(`2026-11-2${4 + i}`);
        expect((await ctx.put(`/v1/bunits/${owner}/referrals/${r.id}`, referralBody(contract, alice, { percentage: pct }))).status).to.equal(200);
      }
      const page = await ctx.get(`/v1/bunits/${owner}/referrals/${r.id}/history?limit=2&offset=1`);
      expect(page.status).to.equal(200);
      expect(page.body.meta).to.deep.equal({ total: 4, limit: 2, offset: 1 });
      expect(page.body.data.map((e: Entry) => changeOf(e, 'percentage'))).to.deep.equal([
        { field: 'percentage', from: '10', to: '11' },
        { field: 'percentage', from: '11', to: '12' },
      ]);
    });
  });

  describe('X-Change-Reason', () => {
    it('is stored as given up to 500 characters; longer answers 400 and changes nothing', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-12-01' });
      const path = `/v1/bunits/${owner}/referrals/${r.id}`;

      const tooLong = await ctx.put(path, referralBody(contract, alice, { percentage: '20' })).set('X-Change-Reason', 'x'.repeat(501));
      expectProblem(tooLong, 400, 'validation-failed');
      expect(tooLong.body.errors.map((e: { path: string }) => e.path)).to.include('header.X-Change-Reason');
      expect((await ctx.get(path)).body.percentage).to.equal('10');
      expectProblem(await ctx.del(path).set('X-Change-Reason', 'y'.repeat(501)), 400, 'validation-failed');
      expect((await ctx.get(path)).body.archivedDate).to.equal(null);
      expect(await history(ctx, owner, r.id)).to.have.length(1);

      const longest = 'Renegotiated: ' + 'z'.repeat(486);
      const ok = await ctx.put(path, referralBody(contract, alice, { percentage: '20' })).set('X-Change-Reason', longest);
      expect(ok.status).to.equal(200);
      const entries = await history(ctx, owner, r.id);
      expect(entries[1]!.reason).to.equal(longest);
      expect(longest).to.have.length(500);
    });

    it('reads a reason sent as UTF-8 bytes as UTF-8 (not as Latin-1)', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-12-01' });
      const reason = 'Änderung: 20 % ab Dezember – €';
      // As curl sends it: the UTF-8 bytes. Node's client writes a header string as Latin-1 (when the
      // body is a Buffer; with a string body it would re-encode the header as UTF-8).
      const asBytes = Buffer.from(reason, 'utf8').toString('latin1');
      const put = await ctx
        .put(`/v1/bunits/${owner}/referrals/${r.id}`, referralBody(contract, alice, { percentage: '20' }))
        .serialize((body: unknown) => Buffer.from(JSON.stringify(body)) as unknown as string)
        .set('X-Change-Reason', asBytes);
      expect(put.status).to.equal(200);
      expect((await history(ctx, owner, r.id))[1]!.reason).to.equal(reason);
    });
  });

  describe('in the same transaction as the change', () => {
    it('a change refused with 409 over-allocated writes no audit entry', async () => {
      const { owner, alice, bob, contract } = await world(ctx);
      const a = await createReferral(ctx, owner, contract, alice, { percentage: '60' });
      const b = await createReferral(ctx, owner, contract, bob, { percentage: '30' });
      const before = await count(ctx, 'audit_events');

      const put = await ctx.put(`/v1/bunits/${owner}/referrals/${b.id}`, referralBody(contract, bob, { percentage: '50' }));
      expectProblem(put, 409, 'over-allocated');
      const carol = await ctx.post('/v1/bunits', { code: 'CAROL', name: 'Carol' });
      const afterCarol = await count(ctx, 'audit_events');
      expectProblem(
        await ctx.post(`/v1/bunits/${owner}/referrals`, referralBody(contract, carol.body.id, { percentage: '20' })),
        409,
        'over-allocated',
      );
      expect(await count(ctx, 'audit_events')).to.equal(afterCarol);
      expect(afterCarol).to.equal(before + 1);
      expect((await history(ctx, owner, b.id)).map((e) => e.action)).to.deep.equal(['create']);
      expect((await history(ctx, owner, a.id)).map((e) => e.action)).to.deep.equal(['create']);
    });

    it('a change refused with 412 precondition-failed writes no audit entry', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10' });
      const path = `/v1/bunits/${owner}/referrals/${r.id}`;
      expectProblem(await ctx.put(path, referralBody(contract, alice, { percentage: '11' })).set('If-Match', '"stale"'), 412, 'precondition-failed');
      expectProblem(await ctx.del(path).set('If-Match', '"stale"'), 412, 'precondition-failed');
      expect((await history(ctx, owner, r.id)).map((e) => e.action)).to.deep.equal(['create']);
    });

    it('when the audit entry cannot be written, the change itself is rolled back', async () => {
      const { owner, alice, contract } = await world(ctx);
      const r = await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-12-01' });
      const path = `/v1/bunits/${owner}/referrals/${r.id}`;
      await ctx.db.schema.renameTable('audit_events', 'audit_events_away');
      let put;
      let del;
      try {
        put = await ctx.put(path, referralBody(contract, alice, { percentage: '25' }));
        del = await ctx.del(path);
      } finally {
        await ctx.db.schema.renameTable('audit_events_away', 'audit_events');
      }
      expectProblem(put, 500, 'internal');
      expectProblem(del, 500, 'internal');
      const read = await ctx.get(path);
      expect(read.body).to.deep.include({ percentage: '10', archivedDate: null });
      expect((await history(ctx, owner, r.id)).map((e) => e.action)).to.deep.equal(['create']);
    });
  });

  describe('audit_events for the other resources', () => {
    it('records business unit create, update and archive', async () => {
      const res = await ctx.post('/v1/bunits', { code: 'HQ', name: 'Head office' }).set('X-Change-Reason', 'Reorganisation');
      const id = res.body.id as number;
      ctx.clock.advanceMs(1000);
      expect((await ctx.put(`/v1/bunits/${id}`, { code: 'HQ', name: 'Headquarters' })).status).to.equal(200);
      ctx.clock.advanceMs(1000);
      expect((await ctx.del(`/v1/bunits/${id}`)).status).to.equal(204);

      const rows = await auditRows(ctx, 'bunit');
      expect(rows.map((r) => [r.entityId, r.action, r.keyName, r.reason])).to.deep.equal([
        [id, 'create', 'ADMIN_API_KEY', 'Reorganisation'],
        [id, 'update', 'ADMIN_API_KEY', null],
        [id, 'archive', 'ADMIN_API_KEY', null],
      ]);
      expect(changeOf(rows[0]!, 'code')).to.deep.equal({ field: 'code', from: null, to: 'HQ' });
      expect(rows[1]!.changes).to.deep.equal([{ field: 'name', from: 'Head office', to: 'Headquarters' }]);
      expect(rows[2]!.changes).to.deep.equal([{ field: 'archivedDate', from: null, to: '2026-11-23T12:00:02.000Z' }]);
      expect(rows.map((r) => r.at)).to.deep.equal(['2026-11-23T12:00:00.000Z', '2026-11-23T12:00:01.000Z', '2026-11-23T12:00:02.000Z']);
    });

    it('records contract create, update and archive', async () => {
      const { owner, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/contracts/${contract}`;
      const current = (await ctx.get(path)).body;
      expect((await ctx.put(path, { ...current, name: 'Fleet telematics II', endDate: '2027-12-31' })).status).to.equal(200);
      expect((await ctx.del(path)).status).to.equal(204);
      const rows = await auditRows(ctx, 'contract');
      expect(rows.map((r) => [r.entityId, r.action])).to.deep.equal([
        [contract, 'create'],
        [contract, 'update'],
        [contract, 'archive'],
      ]);
      expect(changeOf(rows[0]!, 'number')).to.deep.equal({ field: 'number', from: null, to: 'C-1' });
      expect(changeOf(rows[1]!, 'name')).to.deep.equal({ field: 'name', from: 'Fleet telematics', to: 'Fleet telematics II' });
      expect(changeOf(rows[1]!, 'endDate')).to.deep.equal({ field: 'endDate', from: null, to: '2027-12-31' });
    });

    it('records revenue line create and delete, one entry per line', async () => {
      const { owner, contract } = await world(ctx);
      const path = `/v1/bunits/${owner}/contracts/${contract}/revenue`;
      const ingest = await ctx
        .post(path, {
          lines: [
            { externalId: 'INV-1', amount: '100.50', date: '2026-10-01' },
            { externalId: 'INV-2', amount: '-20', periodStart: '2026-10-01', periodEnd: '2026-10-31' },
          ],
        })
        .set('X-Change-Reason', 'October import');
      expect(ingest.status, JSON.stringify(ingest.body)).to.equal(201);
      const [one, two] = ingest.body.data as { id: number }[];
      // Ingesting the same line again creates nothing and records nothing.
      expect((await ctx.post(path, { lines: [{ externalId: 'INV-1', amount: '100.50', date: '2026-10-01' }] })).body.existing).to.equal(1);
      expect((await ctx.del(`${path}/${two!.id}`)).status).to.equal(204);

      const rows = await auditRows(ctx, 'revenue-line');
      expect(rows.map((r) => [r.entityId, r.action, r.reason])).to.deep.equal([
        [one!.id, 'create', 'October import'],
        [two!.id, 'create', 'October import'],
        [two!.id, 'delete', null],
      ]);
      expect(changeOf(rows[0]!, 'amount')?.to).to.equal('100.5');
      expect(changeOf(rows[2]!, 'externalId')).to.deep.include({ from: 'INV-2', to: null });
    });

    it('records a settlement run, but not a dry run', async () => {
      const { owner, alice, contract } = await world(ctx);
      await createReferral(ctx, owner, contract, alice, { percentage: '10', billingStartDate: '2026-10-01' });
      await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, { lines: [{ externalId: 'A', amount: '100', date: '2026-10-15' }] });
      expect((await ctx.post('/v1/settlement-runs', { through: '2026-10-31', dryRun: true })).status).to.equal(200);
      expect(await auditRows(ctx, 'settlement-run')).to.have.length(0);

      const run = await ctx.post('/v1/settlement-runs', { through: '2026-10-31' }).set('X-Change-Reason', 'October close');
      expect(run.status).to.equal(201);
      const rows = await auditRows(ctx, 'settlement-run');
      expect(rows.map((r) => r.action)).to.deep.equal(['create', 'complete']);
      expect(rows[0]).to.deep.include({ entityId: run.body.id, action: 'create', keyName: 'ADMIN_API_KEY', reason: 'October close' });
      expect(changeOf(rows[0]!, 'through')).to.deep.include({ from: null, to: '2026-10-31' });
      expect(changeOf(rows[0]!, 'status')).to.deep.include({ from: null, to: 'running' });
      expect(rows[1]).to.deep.include({ entityId: run.body.id, action: 'complete', keyName: 'ADMIN_API_KEY', reason: 'October close' });
      expect(changeOf(rows[1]!, 'status')).to.deep.include({ from: 'running', to: 'completed' });
      expect(changeOf(rows[1]!, 'lineCount')).to.deep.include({ from: null, to: 1 });
    });

    it('records API key create and revoke, never the secret', async () => {
      const hq = await ctx.post('/v1/bunits', { code: 'HQ', name: 'Head office' });
      const created = await ctx.post('/v1/api-keys', { name: 'reporting', role: 'read', bunitIds: [hq.body.id] });
      expect(created.status, JSON.stringify(created.body)).to.equal(201);
      ctx.clock.advanceMs(1000);
      expect((await ctx.del(`/v1/api-keys/${created.body.id}`).set('X-Change-Reason', 'Leaked in a ticket')).status).to.equal(204);

      const rows = await auditRows(ctx, 'api-key');
      expect(rows.map((r) => [r.entityId, r.action, r.keyName, r.reason])).to.deep.equal([
        [created.body.id, 'create', 'ADMIN_API_KEY', null],
        [created.body.id, 'revoke', 'ADMIN_API_KEY', 'Leaked in a ticket'],
      ]);
      expect(changeOf(rows[0]!, 'name')).to.deep.equal({ field: 'name', from: null, to: 'reporting' });
      expect(changeOf(rows[0]!, 'role')).to.deep.equal({ field: 'role', from: null, to: 'read' });
      expect(changeOf(rows[0]!, 'bunitIds')).to.deep.equal({ field: 'bunitIds', from: null, to: [hq.body.id] });
      expect(rows[1]!.changes).to.deep.equal([{ field: 'revokedDate', from: null, to: '2026-11-23T12:00:01.000Z' }]);
      const everything = JSON.stringify(await ctx.db('audit_events').select());
      expect(everything).not.to.include(created.body.key);
    });
  });
});
