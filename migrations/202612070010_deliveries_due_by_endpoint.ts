import type { Knex } from 'knex';

const INDEX = 'webhook_deliveries_endpoint_id_status_next_attempt_at_index';

/**
 * Whether an endpoint has a delivery due: one index range per endpoint. With only
 * `(status, next_attempt_at)`, SQLite read every endpoint's due deliveries for each endpoint it
 * looked at (bench scenario 10). `IF NOT EXISTS`: a database made before this migration by a build
 * that had the index in 202612061100_claims (never released) has it already.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`CREATE INDEX IF NOT EXISTS ${INDEX} ON webhook_deliveries (endpoint_id, status, next_attempt_at)`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`DROP INDEX IF EXISTS ${INDEX}`);
}
