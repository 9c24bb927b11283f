import type { Knex } from 'knex';
import { calendarDate, exactDecimal, timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('referrals', (t) => {
    t.increments('id').primary();
    t.integer('contract_id').notNullable().references('id').inTable('contracts');
    t.integer('referrer_id').notNullable().references('id').inTable('business_units');
    // The percentage of the last history segment, i.e. the one in effect from today on: kept here
    // so that lists can sort by it without reading the history.
    exactDecimal(knex, t, 'percentage', 7, 4).notNullable();
    calendarDate(knex, t, 'billing_start_date').notNullable();
    calendarDate(knex, t, 'billing_end_date').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    timestampColumn(knex, t, 'archived_at').nullable();
    t.integer('version').notNullable().defaultTo(1);
    t.index(['contract_id']);
    t.index(['referrer_id']);
  });

  // percentageHistory (R8): one row per segment; `to_date` inclusive, null for the open one.
  await knex.schema.createTable('referral_percentages', (t) => {
    t.increments('id').primary();
    t.integer('referral_id').notNullable().references('id').inTable('referrals');
    calendarDate(knex, t, 'from_date').notNullable();
    calendarDate(knex, t, 'to_date').nullable();
    exactDecimal(knex, t, 'percentage', 7, 4).notNullable();
    t.unique(['referral_id', 'from_date']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('referral_percentages');
  await knex.schema.dropTable('referrals');
}
