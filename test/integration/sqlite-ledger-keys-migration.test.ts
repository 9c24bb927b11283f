import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrateLatest, migrationSource } from '../../migrations';
import { testDatabases } from '../helpers/databases';

/**
 * 202612070100 rebuilds statement_lines and settled_pairs on SQLite without the per-row keys
 * PostgreSQL never had (the settlement run's inserts). It must keep every row of the ledger, the
 * keys that still matter (a settled revenue line cannot be deleted; a dispute line needs its
 * statement line), and ids that go on from the highest; and roll back to the old tables.
 */
const MIGRATION = '202612070100_sqlite_ledger_keys';
const at = '2026-11-01T02:00:00.000Z';

const line = (id: number, revenueLineId: number) => ({
  id, run_id: 1, statement_id: 1, kind: 'share', revenue_line_id: revenueLineId, referral_id: 1, contract_id: 1, period_start: '2026-09-01',
  period_end: '2026-09-30', period_days: 30, billable_days: 30, revenue_amount: '100', exact_num: '300000000000000', floor_minor: '1000',
  remainder_key: '0'.repeat(40),
});

async function refused(write: Promise<unknown>): Promise<string> {
  try {
    await write;
  } catch (err) {
    return String(err);
  }
  return 'accepted';
}

for (const database of testDatabases) {
  describe(`the ledger keys migration on a database settled before it [${database.name}]`, function () {
    this.timeout(30_000);
    let db: Knex;
    let drop: () => Promise<void>;
    let original: { lines: unknown[]; pairs: unknown[] };
    const ledger = async () => ({
      lines: await db('statement_lines').select('*').orderBy('id'),
      pairs: await db('settled_pairs').select('*').orderBy(['revenue_line_id', 'referral_id']),
    });

    before(async () => {
      ({ db, drop } = await database.create({ migrate: false }));
    });
    after(async () => drop());

    it('keeps every statement line and settled pair', async () => {
      const earlier = (await migrationSource.getMigrations([])).filter((n) => n < MIGRATION);
      for (let i = 0; i < earlier.length; i++) await db.migrate.up({ migrationSource });
      await db('business_units').insert([1, 2].map((id) => ({ id, code: `BU-${id}`, name: `Unit ${id}`, created_at: at, version: 1 })));
      await db('contracts').insert({ id: 1, bunit_id: 1, number: 'C', name: 'C', currency: 'EUR', start_date: '2026-01-01', created_at: at, version: 1 });
      await db('referrals').insert({ id: 1, contract_id: 1, referrer_id: 2, percentage: '10', billing_start_date: '2026-01-01', created_at: at, version: 1 });
      await db('revenue_lines').insert(
        [1, 2, 3, 4].map((id) => ({ id, contract_id: 1, external_id: `L${id}`, amount: '100', currency: 'EUR', period_start: '2026-09-01', period_end: '2026-09-30', created_at: at })),
      );
      await db('settlement_runs').insert({ id: 1, through: '2026-09-30', statement_count: 1, line_count: 2, created_by: 'nightly', created_at: at });
      await db('statements').insert({ id: 1, run_id: 1, payer_id: 1, referrer_id: 2, currency: 'EUR', total_minor: '2000', line_count: 2, created_at: at, period: '2026-09', status: 'issued' });
      await db('settled_pairs').insert([1, 2].map((id) => ({ revenue_line_id: id, referral_id: 1, run_id: 1, last_billable_date: '2026-09-30' })));
      await db('statement_lines').insert([line(7, 1), line(41, 2)]);
      const [dispute] = await db('disputes')
        .insert({ statement_id: 1, bunit_id: 1, raised_by: 'payer-key', reason_code: 'other', comment: 'c', status: 'open', amount_minor: '1000', line_count: 1, created_at: at })
        .returning('id');
      const disputeId = typeof dispute === 'object' ? dispute.id : dispute;
      await db('dispute_lines').insert({ dispute_id: disputeId, statement_line_id: 41 });
      await db('held_lines').insert({ statement_line_id: 41, dispute_id: disputeId });
      original = await ledger();

      expect(await migrateLatest(db)).to.include(MIGRATION);

      expect(await ledger()).to.deep.equal(original);
      expect(await db('dispute_lines').select('statement_line_id')).to.deep.equal([{ statement_line_id: 41 }]);
    });

    // PostgreSQL's ids come from its sequence, which the rows written with their ids above did not move.
    if (database.name === 'sqlite') it('gives a new line the id after the highest', async () => {
      const { id: _, ...next } = line(0, 3);
      const [inserted] = await db('statement_lines').insert(next).returning('id');
      expect(typeof inserted === 'object' ? inserted.id : inserted).to.equal(42);
      await db('statement_lines').where({ id: 42 }).del();
    });

    it('still refuses to delete a settled revenue line, and a dispute line without its statement line', async () => {
      expect(await refused(db('revenue_lines').where({ id: 1 }).del())).to.match(/FOREIGN KEY|foreign key/);
      expect(await refused(db('dispute_lines').insert({ dispute_id: 1, statement_line_id: 999 }))).to.match(/FOREIGN KEY|foreign key/);
      // An unsettled line goes.
      expect(await db('revenue_lines').where({ id: 4 }).del()).to.equal(1);
    });

    it('rolls back to the tables before it, and forward again, keeping the rows', async () => {
      const later = (await migrationSource.getMigrations([])).filter((n) => n >= MIGRATION);
      for (let i = 0; i < later.length; i++) await db.migrate.down({ migrationSource });
      expect(await ledger()).to.deep.equal(original);
      if (database.name !== 'postgres') {
        // The old keys are back: a line of an unknown statement is refused again.
        const { id: _, ...orphan } = line(0, 3);
        expect(await refused(db('statement_lines').insert({ ...orphan, statement_id: 99 }))).to.match(/FOREIGN KEY/);
      }
      await migrateLatest(db);
      expect(await ledger()).to.deep.equal(original);
    });
  });
}
