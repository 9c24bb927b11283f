import type { Knex } from 'knex';
import { calendarDate, timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('contracts', (t) => {
    t.increments('id').primary();
    t.integer('bunit_id').notNullable().references('id').inTable('business_units');
    t.string('number', 64).notNullable();
    t.string('name', 200).notNullable();
    t.string('customer', 200).nullable();
    t.string('currency', 3).notNullable();
    calendarDate(knex, t, 'start_date').notNullable();
    calendarDate(knex, t, 'end_date').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    timestampColumn(knex, t, 'archived_at').nullable();
    t.integer('version').notNullable().defaultTo(1);
    t.unique(['bunit_id', 'number']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('contracts');
}
