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
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest({ migrationSource })) as [number, string[]];
  return applied;
}
