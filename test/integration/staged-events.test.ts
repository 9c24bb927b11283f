import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrateLatest, migrationSource } from '../../migrations';
import { transaction } from '../../src/db';
import { insertEvents, publishPendingEvents, stageEvents } from '../../src/repositories/event.repository';
import { resetDatabase, testDatabases } from '../helpers/databases';

/**
 * A long job's events (a settlement run's statement.created, SPEC §13) are staged in its short
 * transactions and released by the one that makes its change visible, with one row whatever their
 * number. The publisher numbers them where the release stands, in their staged order and with the
 * release's instant, a limited number at a time, and what was written after the release waits for
 * the whole batch: sequences stay dense and in the order the events became visible.
 */
const RELEASE_MIGRATION = '202612070400_staged_event_release';
const RELEASED_AT = '2026-11-02T03:00:00.000Z';
const event = (type: string, at: string, units: number[] = [1]) => ({ type, createdAt: at, bunitIds: units, data: JSON.stringify({ type }) });
const staged = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => ({ type: 'statement.created', bunitIds: [from + i, 100, from + i], data: JSON.stringify({ statement: from + i }) }));

for (const database of testDatabases) {
  describe(`staged events released by one row [${database.name}]`, function () {
    this.timeout(30_000);
    let db: Knex;
    let drop: () => Promise<void>;
    const feed = async () =>
      (await db('events').select('id', 'type', 'created_at', 'bunit_ids', 'data').orderBy('id')).map((e) => ({
        id: Number(e.id),
        type: e.type as string,
        createdAt: new Date(e.created_at as string).toISOString(),
        data: JSON.parse(e.data as string) as Record<string, unknown>,
      }));

    before(async () => {
      ({ db, drop } = await database.create());
    });
    beforeEach(async () => resetDatabase(db));
    after(async () => drop());

    it('numbers a released batch where its release stands, in staged order, a limited number at a time, before what came after it', async () => {
      await transaction(db, (trx) => insertEvents(trx, [event('business_unit.created', '2026-11-02T01:00:00.000Z')]));
      // Staged in two of the job's transactions: numbered on from the first.
      await transaction(db, (trx) => stageEvents(trx, 'run:7', staged(3, 1)));
      await transaction(db, (trx) => stageEvents(trx, 'run:7', staged(2, 4)));
      expect(await transaction(db, (trx) => publishPendingEvents(trx, 10)), 'staged, not released: nobody sees them').to.deep.equal({ published: 1, more: false });

      const written = await transaction(db, (trx) => insertEvents(trx, [event('settlement_run.completed', RELEASED_AT, [])], { batch: 'run:7', createdAt: RELEASED_AT }));
      expect(Object.fromEntries(written)).to.deep.equal({ 'statement.created': 5, 'settlement_run.completed': 1 });
      await transaction(db, (trx) => insertEvents(trx, [event('business_unit.updated', '2026-11-02T04:00:00.000Z')]));
      expect(await db('pending_events').count({ n: '*' }).first().then((r) => Number(r!.n)), 'the release is one row').to.equal(3);

      const rounds: number[] = [];
      for (let more = true; more; ) {
        const round = await transaction(db, (trx) => publishPendingEvents(trx, 2));
        rounds.push(round.published);
        more = round.more;
      }
      expect(rounds.reduce((a, b) => a + b, 0)).to.equal(7);
      expect(Math.max(...rounds)).to.equal(2);
      expect(await db('pending_events').count({ n: '*' }).first().then((r) => Number(r!.n)), 'nothing left once it says so').to.equal(0);

      const events = await feed();
      expect(events.map((e) => e.id)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(events.map((e) => e.type)).to.deep.equal([
        'business_unit.created',
        ...Array<string>(5).fill('statement.created'),
        'settlement_run.completed',
        'business_unit.updated',
      ]);
      expect(events.slice(1, 6).map((e) => e.data.statement)).to.deep.equal([1, 2, 3, 4, 5]);
      for (const e of events.slice(1, 7)) expect(e.createdAt, 'the release’s instant').to.equal(RELEASED_AT);
      // Each staged event names its units once, for the scoped feed.
      const units = await db('event_bunits').where({ event_id: 2 }).orderBy('bunit_id').pluck('bunit_id');
      expect(units.map(Number)).to.deep.equal([1, 100]);
      expect(await db('staged_events').count({ n: '*' }).first().then((r) => Number(r!.n)), 'nothing stays staged').to.equal(0);
    });

    it('never numbers more than the limit at once, and says more may wait until nothing does (a batch that ends on the limit, events after it)', async () => {
      await transaction(db, (trx) => stageEvents(trx, 'run:10', staged(4, 1)));
      await transaction(db, (trx) => insertEvents(trx, [], { batch: 'run:10', createdAt: RELEASED_AT }));
      for (let i = 0; i < 5; i++) await transaction(db, (trx) => insertEvents(trx, [event('business_unit.updated', RELEASED_AT)]));
      const rounds: { published: number; more: boolean }[] = [];
      for (let more = true; more; ) {
        const round = await transaction(db, (trx) => publishPendingEvents(trx, 4));
        rounds.push(round);
        more = round.more;
      }
      // The batch fills the first round exactly; the next reads its release row (nothing left to number)
      // and three events, fewer than the limit, yet says more may wait: two events do.
      expect(rounds.map((r) => r.published)).to.deep.equal([4, 3, 2]);
      expect(rounds.every((r) => r.published <= 4)).to.equal(true);
      expect((await feed()).map((e) => e.id)).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(await db('pending_events').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(0);
    });

    it('writes no release for an empty batch, and counts nothing for it', async () => {
      const written = await transaction(db, (trx) => insertEvents(trx, [], { batch: 'run:8', createdAt: RELEASED_AT }));
      expect(written.size).to.equal(0);
      expect(await db('pending_events').count({ n: '*' }).first().then((r) => Number(r!.n))).to.equal(0);
    });

    it('refuses to roll back past the release while one waits to be published, and rolls back once it is', async () => {
      await transaction(db, (trx) => stageEvents(trx, 'run:9', staged(2, 1)));
      await transaction(db, (trx) => insertEvents(trx, [], { batch: 'run:9', createdAt: RELEASED_AT }));
      const later = (await migrationSource.getMigrations([])).filter((n) => n > RELEASE_MIGRATION);
      for (let i = 0; i < later.length; i++) await db.migrate.down({ migrationSource });
      let refusal = 'rolled back';
      try {
        await db.migrate.down({ migrationSource });
      } catch (err) {
        refusal = String(err);
      }
      expect(refusal).to.match(/staged releases not yet published/);
      while ((await transaction(db, (trx) => publishPendingEvents(trx, 1000))).more);
      await db.migrate.down({ migrationSource });
      expect(await db.schema.hasTable('staged_event_bunits')).to.equal(true);
      expect(await db.schema.hasColumn('pending_events', 'staged_batch')).to.equal(false);
      await migrateLatest(db);
      expect(await db.schema.hasTable('staged_event_bunits')).to.equal(false);
    });
  });
}
