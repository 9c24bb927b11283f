import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

/**
 * One way to claim work (src/db/claim.ts):
 *
 * - `background_jobs`: singleton periodic jobs (the retention sweep, statement auto-acceptance),
 *   one row per job, claimed with a lease by whichever instance or command gets there first.
 * - `webhook_endpoints.claimed_at`: when an instance last claimed the endpoint; endpoints are
 *   claimed least recently claimed first, so that none waits behind the others.
 * - `settlement_partitions.lease_owner|lease_until`: partitions are claimed like every other job.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('background_jobs', (t) => {
    t.string('name', 100).primary();
    t.string('claimed_by', 64).nullable();
    timestampColumn(knex, t, 'lease_until').nullable();
    timestampColumn(knex, t, 'last_started_at').nullable();
    timestampColumn(knex, t, 'last_finished_at').nullable();
  });
  await knex.schema.alterTable('webhook_endpoints', (t) => {
    timestampColumn(knex, t, 'claimed_at').nullable();
  });
  await knex.schema.alterTable('settlement_partitions', (t) => {
    t.string('lease_owner', 64).nullable();
    timestampColumn(knex, t, 'lease_until').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('settlement_partitions', (t) => {
    t.dropColumn('lease_until');
    t.dropColumn('lease_owner');
  });
  await knex.schema.alterTable('webhook_endpoints', (t) => {
    t.dropColumn('claimed_at');
  });
  await knex.schema.dropTable('background_jobs');
}
