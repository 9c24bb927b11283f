import type { Knex } from 'knex';
import { calendarDate, exactDecimal, minorUnitsColumn, timestampColumn } from './lib/columns';

/**
 * Settlement runs, their statements and statement lines, and the ledger of settled
 * (revenue line, referral) pairs whose primary key guarantees a pair is settled at most once.
 * Amounts of statements and lines are integers of the currency's minor units (exact, and
 * adjustable in SQL during the run's rounding step).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('settlement_runs', (t) => {
    t.increments('id').primary();
    calendarDate(knex, t, 'through').notNullable();
    t.integer('statement_count').notNullable().defaultTo(0);
    t.integer('line_count').notNullable().defaultTo(0);
    t.string('created_by', 200).notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
  });

  await knex.schema.createTable('settlement_run_totals', (t) => {
    t.integer('run_id').notNullable().references('id').inTable('settlement_runs');
    t.string('currency', 3).notNullable();
    minorUnitsColumn(knex, t, 'amount_minor').notNullable();
    t.primary(['run_id', 'currency']);
  });

  await knex.schema.createTable('statements', (t) => {
    t.increments('id').primary();
    t.integer('run_id').notNullable().references('id').inTable('settlement_runs');
    t.integer('payer_id').notNullable().references('id').inTable('business_units');
    t.integer('referrer_id').notNullable().references('id').inTable('business_units');
    t.string('currency', 3).notNullable();
    minorUnitsColumn(knex, t, 'total_minor').notNullable().defaultTo(0);
    t.integer('line_count').notNullable().defaultTo(0);
    timestampColumn(knex, t, 'created_at').notNullable();
    t.unique(['run_id', 'payer_id', 'referrer_id', 'currency']);
    t.index(['payer_id']);
    t.index(['referrer_id']);
  });

  await knex.schema.createTable('statement_lines', (t) => {
    t.increments('id').primary();
    t.integer('statement_id').notNullable().references('id').inTable('statements');
    t.integer('revenue_line_id').notNullable().references('id').inTable('revenue_lines');
    t.integer('referral_id').notNullable().references('id').inTable('referrals');
    t.integer('contract_id').notNullable().references('id').inTable('contracts');
    calendarDate(knex, t, 'period_start').notNullable();
    calendarDate(knex, t, 'period_end').notNullable();
    t.integer('period_days').notNullable();
    t.integer('billable_days').notNullable();
    exactDecimal(knex, t, 'revenue_amount', 24, 6).notNullable();
    // The exact share for people to read (20 decimals); the rounding used the exact rational.
    exactDecimal(knex, t, 'exact_amount', 50, 20).notNullable();
    minorUnitsColumn(knex, t, 'amount_minor').notNullable();
    // Rank of the rounding remainder (fixed-width digits), used once, inside the run.
    t.string('remainder_key', 40).notNullable();
    t.unique(['revenue_line_id', 'referral_id']);
    t.index(['statement_id', 'remainder_key']);
  });

  await knex.schema.createTable('settled_pairs', (t) => {
    t.integer('revenue_line_id').notNullable().references('id').inTable('revenue_lines');
    t.integer('referral_id').notNullable().references('id').inTable('referrals');
    t.integer('run_id').notNullable().references('id').inTable('settlement_runs');
    // The last billable day the pair paid for (null: no billable day); R9 keeps billingEndDate at or after it.
    calendarDate(knex, t, 'last_billable_date').nullable();
    t.primary(['revenue_line_id', 'referral_id']);
    t.index(['referral_id', 'last_billable_date']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['settled_pairs', 'statement_lines', 'statements', 'settlement_run_totals', 'settlement_runs']) {
    await knex.schema.dropTable(table);
  }
}
