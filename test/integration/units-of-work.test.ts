import { expect } from 'chai';
import type { Knex } from 'knex';
import { BusinessCalendar } from '../../src/clock';
import { transaction } from '../../src/db';
import { Dec } from '../../src/domain/decimal';
import { ApiError } from '../../src/domain/errors';
import { createServices, type Services } from '../../src/services';
import { UnitOfWork, systemActor, withUnitOfWork } from '../../src/services/unit-of-work';
import { TestClock } from '../helpers/clock';
import { resetDatabase, testDatabases } from '../helpers/databases';

/**
 * Transactions that compose (issue 11): services called inside one unit of work share its
 * transaction, its instant and its record of changes, on every database.
 */
for (const database of testDatabases) {
  describe(`units of work [${database.name}]`, function () {
    this.timeout(10_000);
    let db: Knex;
    let drop: () => Promise<void>;
    let services: Services;
    const clock = new TestClock();
    const actor = { ...systemActor('unit-of-work test'), reason: 'testing' };

    before(async () => {
      const created = await database.create();
      db = created.db;
      drop = created.drop;
      services = createServices({ db, calendar: new BusinessCalendar(clock, 'UTC') });
    });
    beforeEach(async () => {
      clock.set('2026-11-23T12:00:00.000Z');
      await resetDatabase(db);
    });
    after(async () => drop());

    const count = async (table: string) => Number((await db(table).count({ n: '*' }).first())?.n);

    /** A business unit that owns a contract, and one that refers it. */
    async function portfolio(uow: UnitOfWork) {
      const owner = await services.bunits.create({ code: 'OWNER', name: 'Owner' }, uow);
      const referrer = await services.bunits.create({ code: 'REFERRER', name: 'Referrer' }, uow);
      const contract = await services.contracts.create(
        owner.id,
        { number: 'C-1', name: 'Fleet', customer: null, currency: 'EUR', startDate: '2026-01-01', endDate: null },
        uow,
      );
      return { owner, referrer, contract };
    }
    const referralInput = (contractId: number, referrerId: number, percentage: string) => ({
      contract: { id: contractId },
      referrer: { id: referrerId },
      percentage: new Dec(percentage),
      billingStartDate: '2026-11-01',
    });

    it('service calls made inside one unit of work commit together, at one instant, each recorded once', async () => {
      const created = await withUnitOfWork(services.ctx, actor, async (uow) => {
        const { owner, referrer, contract } = await portfolio(uow);
        // The clock moves on while the work runs: the unit of work keeps its own instant.
        clock.advanceMs(5_000);
        const referral = await services.referrals.create(owner.id, referralInput(contract.id, referrer.id, '10'), uow);
        return { owner, referral };
      });
      expect(await count('business_units')).to.equal(2);
      expect(await count('referrals')).to.equal(1);
      expect(created.referral.createdAt).to.equal('2026-11-23T12:00:00.000Z');
      const audit: { entity_type: string; at: string | Date; reason: string; key_name: string }[] = await db('audit_events').orderBy('id');
      expect(audit.map((a) => a.entity_type)).to.deep.equal(['bunit', 'bunit', 'contract', 'referral']);
      for (const entry of audit) {
        expect(new Date(entry.at).toISOString()).to.equal('2026-11-23T12:00:00.000Z');
        expect(entry).to.deep.include({ reason: 'testing', key_name: 'unit-of-work test' });
      }
    });

    it('roll back together when a later call fails: nothing of the unit of work is left', async () => {
      let failure: unknown;
      try {
        await withUnitOfWork(services.ctx, actor, async (uow) => {
          const { owner, referrer, contract } = await portfolio(uow);
          await services.referrals.create(owner.id, referralInput(contract.id, referrer.id, '60'), uow);
          const other = await services.bunits.create({ code: 'OTHER', name: 'Other' }, uow);
          // R5: 60 % + 60 % on the same days.
          await services.referrals.create(owner.id, referralInput(contract.id, other.id, '60'), uow);
        });
      } catch (err) {
        failure = err;
      }
      expect(failure).to.be.instanceOf(ApiError);
      expect((failure as ApiError).code).to.equal('over-allocated');
      for (const table of ['business_units', 'contracts', 'referrals', 'referral_percentages', 'audit_events']) {
        expect(await count(table), table).to.equal(0);
      }
    });

    it('a transaction opened inside a transaction is the same transaction (no second connection is waited for)', async () => {
      const started = Date.now();
      await transaction(db, async (outer) => {
        await outer('business_units').insert({ code: 'A', name: 'A', created_at: '2026-11-23T12:00:00.000Z', version: 1 });
        await transaction(outer, async (inner) => {
          expect(inner).to.equal(outer);
          await inner('business_units').insert({ code: 'B', name: 'B', created_at: '2026-11-23T12:00:00.000Z', version: 1 });
        });
        // A service given a unit of work on the open transaction writes in it, and reads what it wrote.
        const uow = new UnitOfWork(outer, actor, services.ctx.calendar);
        const c = await services.bunits.create({ code: 'C', name: 'C' }, uow);
        await uow.flush();
        expect((await services.bunits.get(c.id, outer)).code).to.equal('C');
        expect(Number((await outer('business_units').count({ n: '*' }).first())?.n)).to.equal(3);
      });
      expect(await count('business_units')).to.equal(3);
      expect(await count('audit_events')).to.equal(1);
      expect(Date.now() - started, 'no wait for a pooled connection').to.be.below(2_000);
    });

    it('a change that changes nothing records nothing and keeps the version', async () => {
      const { owner, referrer, contract, referral } = await withUnitOfWork(services.ctx, actor, async (uow) => {
        const p = await portfolio(uow);
        return { ...p, referral: await services.referrals.create(p.owner.id, referralInput(p.contract.id, p.referrer.id, '10'), uow) };
      });
      const before = await count('audit_events');
      const same = await services.referrals.update(
        owner.id,
        referral.id,
        { contract: { id: contract.id }, referrer: { id: referrer.id }, percentage: new Dec('10.000'), billingEndDate: null },
        actor,
      );
      expect('referral' in same && same.referral.version).to.equal(referral.version);
      const unit = await services.bunits.update(owner.id, { code: 'OWNER', name: 'Owner' }, actor);
      expect(unit.version).to.equal(owner.version);
      const sameContract = await services.contracts.update(
        owner.id,
        contract.id,
        { number: 'C-1', name: 'Fleet', customer: null, currency: 'EUR', startDate: '2026-01-01', endDate: null },
        actor,
      );
      expect(sameContract.version).to.equal(contract.version);
      expect(await count('audit_events')).to.equal(before);
    });

    it('effects meant for after the commit run only once it committed, and never after a rollback', async () => {
      const seen: string[] = [];
      await withUnitOfWork(services.ctx, actor, async (uow) => {
        uow.afterCommit(() => seen.push('committed'));
        expect(seen).to.deep.equal([]);
      });
      expect(seen).to.deep.equal(['committed']);
      await withUnitOfWork(services.ctx, actor, async (uow) => {
        uow.afterCommit(() => seen.push('rolled back'));
        throw new Error('rollback');
      }).catch(() => undefined);
      expect(seen).to.deep.equal(['committed']);
    });
  });
}
