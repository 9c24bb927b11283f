import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_keys', (t) => {
    t.increments('id').primary();
    t.string('name', 200).notNullable();
    t.string('role', 8).notNullable();
    // JSON array of business unit ids; null for an admin key (all of them).
    t.text('bunit_ids').nullable();
    // SHA-256 of the secret (hex). The secret itself is never stored.
    t.string('secret_hash', 64).notNullable().unique();
    timestampColumn(knex, t, 'created_at').notNullable();
    timestampColumn(knex, t, 'revoked_at').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('api_keys');
}
