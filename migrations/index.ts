import type { Knex } from 'knex';
import * as m1 from './202611231200_create_business_units';
import * as m2 from './202611231201_create_contracts';
import * as m3 from './202611231202_create_referrals';
import * as m4 from './202611231300_create_revenue_lines';
import * as m5 from './202611231301_create_settlement';
import * as m6 from './202611231400_create_api_keys';
import * as m7 from './202611231401_create_audit_events';
import * as m8 from './202611231402_create_idempotency_keys';
import * as m9 from './202611241000_cover_referral_percentages';
import * as m10 from './202612010900_settlement_partitions';
import * as m11 from './202612010901_idempotency_owner';
import * as m12 from './202612011000_approval';
import * as m13 from './202612011100_amendments';
import * as m14 from './202612011200_events';
import * as m15 from './202612011300_settlement_events';
import * as m16 from './202612011400_pending_events';
import * as m17 from './202612061100_claims';
import * as m18 from './202612061400_statement_disputes';
import * as m19 from './202612061600_period_close';
import * as m20 from './202612070010_deliveries_due_by_endpoint';
import * as m21 from './202612070030_referrals_by_referrer';
import * as m22 from './202612070100_sqlite_ledger_keys';
import * as m23 from './202612070400_staged_event_release';

/**
 * Migrations in order. Listed here rather than discovered on disk so that they load the same way
 * under tsx, in tests and in the CLI. A landed migration is never edited: add a new one.
 */
const migrations: Record<string, Knex.Migration> = {
  '202611231200_create_business_units': m1,
  '202611231201_create_contracts': m2,
  '202611231202_create_referrals': m3,
  '202611231300_create_revenue_lines': m4,
  '202611231301_create_settlement': m5,
  '202611231400_create_api_keys': m6,
  '202611231401_create_audit_events': m7,
  '202611231402_create_idempotency_keys': m8,
  '202611241000_cover_referral_percentages': m9,
  '202612010900_settlement_partitions': m10,
  '202612010901_idempotency_owner': m11,
  '202612011000_approval': m12,
  '202612011100_amendments': m13,
  '202612011200_events': m14,
  '202612011300_settlement_events': m15,
  '202612011400_pending_events': m16,
  '202612061100_claims': m17,
  '202612061400_statement_disputes': m18,
  '202612061600_period_close': m19,
  '202612070010_deliveries_due_by_endpoint': m20,
  '202612070030_referrals_by_referrer': m21,
  '202612070100_sqlite_ledger_keys': m22,
  '202612070400_staged_event_release': m23,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

/**
 * Applies the pending migrations; the names of those applied. With nothing pending it only reads,
 * so that several instances starting at once on one database do not queue for Knex's migration
 * lock. When another instance is migrating at that moment, it waits for it and tries again.
 */
export async function migrateLatest(db: Knex): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    try {
      const [, pending] = (await db.migrate.list({ migrationSource })) as [unknown[], unknown[]];
      if (pending.length === 0) return [];
      const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
      return applied;
    } catch (err) {
      const locked = (err as { name?: string }).name === 'MigrationLocked' || /already locked|SQLITE_BUSY/.test(String(err));
      if (!locked || attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
