import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrateLatest, migrationSource } from '../../migrations';
import { testDatabases } from '../helpers/databases';

/**
 * The statement lifecycle migration (202612061400, SPEC §15) gives every statement settled before
 * it its run's period and the status `issued`, and adds the dispute tables, whose primary key on
 * held lines lets a line be held by one open dispute only.
 */
for (const database of testDatabases) {
  describe(`the statement disputes migration on a database settled before it [${database.name}]`, function () {
    this.timeout(30_000);
    let db: Knex;
    let drop: () => Promise<void>;
    before(async () => {
      ({ db, drop } = await database.create({ migrate: false }));
    });
    after(async () => drop());

    it('gives every existing statement the month of its run’s through as period, and the status issued', async () => {
      const names = (await migrationSource.getMigrations([])).filter((n) => n < '202612061400');
      for (let i = 0; i < names.length; i++) await db.migrate.up({ migrationSource });
      const at = '2026-11-01T02:00:00.000Z';
      await db('business_units').insert([1, 2].map((id) => ({ id, code: `BU-${id}`, name: `Unit ${id}`, created_at: at, version: 1 })));
      await db('contracts').insert({ id: 1, bunit_id: 1, number: 'C', name: 'C', currency: 'EUR', start_date: '2026-01-01', created_at: at, version: 1 });
      await db('referrals').insert({ id: 1, contract_id: 1, referrer_id: 2, percentage: '10', billing_start_date: '2026-01-01', created_at: at, version: 1 });
      await db('revenue_lines').insert({ id: 1, contract_id: 1, external_id: 'L1', amount: '100', currency: 'EUR', period_start: '2026-09-01', period_end: '2026-09-30', created_at: at });
      await db('settlement_runs').insert([
        { id: 1, through: '2026-09-30', statement_count: 1, line_count: 1, created_by: 'nightly', created_at: at },
        { id: 2, through: '2026-10-31', statement_count: 1, line_count: 0, created_by: 'nightly', created_at: at },
      ]);
      await db('statements').insert([
        { id: 1, run_id: 1, payer_id: 1, referrer_id: 2, currency: 'EUR', total_minor: '1000', line_count: 1, created_at: at },
        { id: 2, run_id: 2, payer_id: 1, referrer_id: 2, currency: 'EUR', total_minor: '0', line_count: 0, created_at: at },
      ]);
      await db('statement_lines').insert({
        id: 1, run_id: 1, statement_id: 1, kind: 'share', revenue_line_id: 1, referral_id: 1, contract_id: 1, period_start: '2026-09-01',
        period_end: '2026-09-30', period_days: 30, billable_days: 30, revenue_amount: '100', exact_num: '300000000000000', floor_minor: '1000',
        remainder_key: '0'.repeat(40),
      });

      expect(await migrateLatest(db)).to.include('202612061400_statement_disputes');

      const statements = await db('statements').select('id', 'period', 'status', 'accepted_by', 'accepted_date').orderBy('id');
      expect(statements).to.deep.equal([
        { id: 1, period: '2026-09', status: 'issued', accepted_by: null, accepted_date: null },
        { id: 2, period: '2026-10', status: 'issued', accepted_by: null, accepted_date: null },
      ]);
      const line = await db('statement_lines').select('dispute_id').where({ id: 1 }).first();
      expect(line.dispute_id).to.equal(null);
    });

    it('holds a line for one open dispute only (primary key of held_lines)', async () => {
      const dispute = {
        statement_id: 1, bunit_id: 1, raised_by: 'payer-key', reason_code: 'other', comment: 'c', status: 'open', amount_minor: '1000',
        line_count: 1, created_at: '2026-11-02T00:00:00.000Z',
      };
      const [first] = await db('disputes').insert(dispute).returning('id');
      const [second] = await db('disputes').insert(dispute).returning('id');
      const firstId = typeof first === 'object' ? first.id : first;
      const secondId = typeof second === 'object' ? second.id : second;
      await db('dispute_lines').insert({ dispute_id: firstId, statement_line_id: 1 });
      await db('held_lines').insert({ statement_line_id: 1, dispute_id: firstId });
      let refused: unknown;
      try {
        await db('held_lines').insert({ statement_line_id: 1, dispute_id: secondId });
      } catch (err) {
        refused = err;
      }
      expect(String(refused)).to.match(/UNIQUE|unique|duplicate key/);
    });

    it('rolls back to the schema before it, and forward again', async () => {
      // Down, one migration at a time, to the one before it (later ones, such as §16's, go first).
      const later = (await migrationSource.getMigrations([])).filter((n) => n >= '202612061400');
      for (let i = 0; i < later.length; i++) await db.migrate.down({ migrationSource });
      const columns = await db('statements').columnInfo();
      expect(columns).not.to.have.property('period');
      expect(await db.schema.hasTable('disputes')).to.equal(false);
      await migrateLatest(db);
      expect((await db('statements').select('period').orderBy('id')).map((s) => s.period)).to.deep.equal(['2026-09', '2026-10']);
    });
  });
}
