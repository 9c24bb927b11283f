import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('idempotency_keys', (t) => {
    t.increments('id').primary();
    // Which API key sent it ("key:17", or "env-admin" for ADMIN_API_KEY): keys are scoped per API key.
    t.string('owner', 64).notNullable();
    t.string('idempotency_key', 255).notNullable();
    t.string('method', 8).notNullable();
    t.string('path', 1000).notNullable();
    t.string('request_hash', 64).notNullable();
    t.string('state', 8).notNullable();
    t.integer('response_status').nullable();
    t.text('response_headers').nullable();
    t.text('response_body').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    // While running: the instant after which a crashed first request no longer holds the key.
    timestampColumn(knex, t, 'lease_until').notNullable();
    t.unique(['owner', 'idempotency_key', 'method', 'path']);
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('idempotency_keys');
}
