import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('business_units', (t) => {
    t.increments('id').primary();
    t.string('code', 32).notNullable().unique();
    t.string('name', 200).notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    timestampColumn(knex, t, 'archived_at').nullable();
    t.integer('version').notNullable().defaultTo(1);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('business_units');
}
