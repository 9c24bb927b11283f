import { expect } from 'chai';
import type { Knex } from 'knex';
import { migrateLatest, migrationSource } from '../../migrations';
import { convertLine } from '../../migrations/202612010900_settlement_partitions';
import { Dec } from '../../src/domain/decimal';
import { exactAmountText, shareOf, splitMinor } from '../../src/domain/settlement-math';
import { findStatementLines, findStatement } from '../../src/repositories/statement.repository';
import { testDatabases } from '../helpers/databases';

/**
 * The settlement engine's migration (202612010900) converts what runs settled before exactly:
 * the 20-decimal exactAmount a line kept determines its exact numerator, and its amount the
 * floor and the round-up; totals keep every digit.
 */
describe('migration of settled statement lines to exact numerators', () => {
  it('recovers the exact numerator, floor and round-up of any share from its 20-decimal display (property)', () => {
    let seed = 11;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 2000; i++) {
      const digits = [0, 2, 3][i % 3]!;
      const currency = ['JPY', 'EUR', 'KWD'][i % 3]!;
      const amount = new Dec(`${random() < 0.2 ? '-' : ''}${Math.floor(random() * 10 ** (1 + Math.floor(random() * 17)))}.${String(Math.floor(random() * 1e6)).padStart(6, '0')}`);
      if (amount.isZero()) continue;
      const periodDays = 1 + Math.floor(random() * 366);
      const billable = 1 + Math.floor(random() * periodDays);
      const percentDays = new Dec(`${1 + Math.floor(random() * 1000000)}`).div(10000).times(billable);
      const share = shareOf(amount, percentDays, periodDays);
      const { floor } = splitMinor(share, digits);
      const roundUp = random() < 0.5 ? 0n : 1n;
      const converted = convertLine({
        currency,
        revenue_amount: amount.toFixed(),
        period_days: periodDays,
        exact_amount: exactAmountText(share),
        amount_minor: String(floor + roundUp),
      });
      expect(converted.exactNum, `${amount} × ${percentDays} / ${periodDays}`).to.equal(share.num);
      expect(converted.floorMinor).to.equal(floor);
      expect(converted.roundUp).to.equal(Number(roundUp));
    }
  });
});

for (const database of testDatabases) {
  describe(`the settlement engine migration on a database settled before it [${database.name}]`, function () {
    this.timeout(30_000);
    let db: Knex;
    let drop: () => Promise<void>;
    before(async () => {
      ({ db, drop } = await database.create({ migrate: false }));
    });
    after(async () => drop());

    it('keeps every statement, line, amount and total of the worked example (SPEC §10), now exact', async () => {
      // The schema as it was before the engine: every migration up to 202611241000.
      const names = (await migrationSource.getMigrations([])).filter((n) => n < '202612010900');
      for (let i = 0; i < names.length; i++) await db.migrate.up({ migrationSource });
      const at = '2026-11-01T02:00:00.000Z';
      await db('business_units').insert([1, 2, 3].map((id) => ({ id, code: `BU-${id}`, name: `Unit ${id}`, created_at: at, version: 1 })));
      await db('contracts').insert({ id: 1, bunit_id: 1, number: 'C', name: 'C', currency: 'EUR', start_date: '2026-01-01', created_at: at, version: 1 });
      await db('referrals').insert([
        { id: 1, contract_id: 1, referrer_id: 2, percentage: '12.5', billing_start_date: '2026-10-01', billing_end_date: '2026-10-20', created_at: at, version: 1 },
        { id: 2, contract_id: 1, referrer_id: 3, percentage: '10', billing_start_date: '2026-10-01', created_at: at, version: 1 },
      ]);
      await db('revenue_lines').insert([
        { id: 1, contract_id: 1, external_id: 'L1', amount: '3000.00', currency: 'EUR', period_start: '2026-10-01', period_end: '2026-10-31', created_at: at },
        { id: 2, contract_id: 1, external_id: 'L2', amount: '-100.00', currency: 'EUR', period_start: '2026-10-15', period_end: '2026-10-15', created_at: at },
      ]);
      await db('settlement_runs').insert({ id: 1, through: '2026-10-31', statement_count: 2, line_count: 4, created_by: 'nightly', created_at: at });
      await db('settlement_run_totals').insert({ run_id: 1, currency: 'EUR', amount_minor: '51944' });
      await db('statements').insert([
        { id: 1, run_id: 1, payer_id: 1, referrer_id: 2, currency: 'EUR', total_minor: '22944', line_count: 2, created_at: at },
        { id: 2, run_id: 1, payer_id: 1, referrer_id: 3, currency: 'EUR', total_minor: '29000', line_count: 2, created_at: at },
      ]);
      const line = (id: number, statement: number, rl: number, ref: number, days: number, billable: number, revenue: string, exact: string, minor: string, key: string) => ({
        id, statement_id: statement, revenue_line_id: rl, referral_id: ref, contract_id: 1,
        period_start: rl === 1 ? '2026-10-01' : '2026-10-15', period_end: rl === 1 ? '2026-10-31' : '2026-10-15',
        period_days: days, billable_days: billable, revenue_amount: revenue, exact_amount: exact, amount_minor: minor, remainder_key: key,
      });
      await db('statement_lines').insert([
        line(1, 1, 1, 1, 31, 20, '3000.00', '241.93548387096774193548', '24194', '5483870967741935483870967741935483870967'),
        line(2, 1, 2, 1, 1, 1, '-100.00', '-12.5', '-1250', '0000000000000000000000000000000000000000'),
        line(3, 2, 1, 2, 31, 31, '3000.00', '300', '30000', '0000000000000000000000000000000000000000'),
        line(4, 2, 2, 2, 1, 1, '-100.00', '-10', '-1000', '0000000000000000000000000000000000000000'),
      ]);
      await db('settled_pairs').insert([
        { revenue_line_id: 1, referral_id: 1, run_id: 1, last_billable_date: '2026-10-20' },
        { revenue_line_id: 2, referral_id: 1, run_id: 1, last_billable_date: '2026-10-15' },
        { revenue_line_id: 1, referral_id: 2, run_id: 1, last_billable_date: '2026-10-31' },
        { revenue_line_id: 2, referral_id: 2, run_id: 1, last_billable_date: '2026-10-15' },
      ]);

      expect(await migrateLatest(db)).to.include('202612010900_settlement_partitions');

      const converted = await db('statement_lines').select('id', 'run_id', 'kind', db.raw('CAST(exact_num AS TEXT) AS exact_num'), db.raw('CAST(floor_minor AS TEXT) AS floor_minor')).orderBy('id');
      expect(converted.map((l) => [l.id, l.run_id, l.kind, l.exact_num, l.floor_minor])).to.deep.equal([
        // 3000 × 10^6 × (12.5 × 20 × 10^4) over 10^12 × 31
        [1, 1, 'share', '7500000000000000', '24193'],
        [2, 1, 'share', '-12500000000000', '-1250'],
        [3, 1, 'share', '9300000000000000', '30000'],
        [4, 1, 'share', '-10000000000000', '-1000'],
      ]);
      const statement = (await findStatement(db, 1))!;
      expect(statement.totalMinor).to.equal(22944n);
      expect(statement.roundUpThrough).to.deep.equal({ remainderKey: '5483870967741935483870967741935483870967', revenueLineId: 1, referralId: 1 });
      expect((await findStatement(db, 2))!.roundUpThrough).to.equal(null);
      const lines = await findStatementLines(db, statement);
      expect(lines.map((l) => [l.amountMinor, exactAmountText({ num: l.exactNum, periodDays: l.periodDays })])).to.deep.equal([
        [24194n, '241.93548387096774193548'],
        [-1250n, '-12.5'],
      ]);
      const run = await db('settlement_runs').select('status').where({ id: 1 }).first();
      expect(run.status).to.equal('completed');
    });
  });
}
