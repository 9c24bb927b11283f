import type { Knex } from 'knex';
import { calendarDate, exactDecimal, timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('revenue_lines', (t) => {
    t.increments('id').primary();
    t.integer('contract_id').notNullable().references('id').inTable('contracts');
    t.string('external_id', 128).notNullable();
    exactDecimal(knex, t, 'amount', 24, 6).notNullable();
    t.string('currency', 3).notNullable();
    calendarDate(knex, t, 'period_start').notNullable();
    calendarDate(knex, t, 'period_end').notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.unique(['contract_id', 'external_id']);
    t.index(['period_end', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('revenue_lines');
}
