import type { Knex } from 'knex';
import { calendarDate, isPostgres, minorUnitsColumn, timestampColumn } from './lib/columns';

/**
 * Statements after the run (SPEC §15): a statement belongs to a period (the calendar month of its
 * run's `through`) and is `issued`, then `accepted` (by a key, or `auto`), then `closed` (§16).
 * Either party may dispute lines of it; a dispute holds its lines while it is open.
 *
 * - `disputes`: one row per dispute, with its amount (Σ of its lines' amounts, in minor units) and,
 *   once it has ended, who ended it, how, the correction named and the day it ended
 *   (`ended_date`, in BUSINESS_TIMEZONE: §16 nets the released lines in the period of that day).
 * - `dispute_lines`: the lines of a dispute, for good.
 * - `held_lines`: a row exactly while a line is held by an open dispute. Its primary key is the
 *   line, so that two disputes over one line cannot both be open: the database holds that.
 * - `statement_lines.dispute_id`: the line's open or last dispute.
 *
 * Every existing statement gets its run's period and the status `issued`.
 */
export async function up(knex: Knex): Promise<void> {
  const pg = isPostgres(knex);

  await knex.schema.alterTable('statements', (t) => {
    // SQLite adds a NOT NULL column only with a default; the UPDATE below gives every row its period.
    t.string('period', 7).notNullable().defaultTo('');
    t.string('status', 10).notNullable().defaultTo('issued');
    t.string('accepted_by', 200).nullable();
    calendarDate(knex, t, 'accepted_date').nullable();
  });
  if (pg) {
    await knex.raw(`UPDATE statements SET period = to_char(r.through, 'YYYY-MM') FROM settlement_runs r WHERE r.id = statements.run_id`);
    // Every statement written from now on names its period.
    await knex.raw('ALTER TABLE statements ALTER COLUMN period DROP DEFAULT');
  } else {
    await knex.raw('UPDATE statements SET period = (SELECT substr(r.through, 1, 7) FROM settlement_runs r WHERE r.id = statements.run_id)');
  }
  // The statement list's filters (status and period, always under one business unit, as payer or
  // as referrer): one range of one index per side (bench scenario 16). No index on (period, status)
  // alone: SQLite, planning without statistics, chose it over these and read every unit's
  // statements of the period for each page.
  await knex.schema.alterTable('statements', (t) => {
    t.index(['payer_id', 'period', 'status']);
    t.index(['referrer_id', 'period', 'status']);
  });

  await knex.schema.createTable('disputes', (t) => {
    t.increments('id').primary();
    t.integer('statement_id').notNullable().references('id').inTable('statements');
    // The party that raised it.
    t.integer('bunit_id').notNullable().references('id').inTable('business_units');
    t.string('raised_by', 200).notNullable();
    t.integer('raised_by_key_id').nullable();
    t.string('reason_code', 20).notNullable();
    t.text('comment').notNullable();
    // open, rejected, upheld, withdrawn
    t.string('status', 10).notNullable();
    minorUnitsColumn(knex, t, 'amount_minor').notNullable();
    t.integer('line_count').notNullable();
    t.string('resolved_by', 200).nullable();
    t.integer('resolved_by_key_id').nullable();
    t.string('outcome', 10).nullable();
    t.text('resolution_reason').nullable();
    t.integer('correction_change_request_id').nullable();
    t.integer('correction_revenue_line_id').nullable();
    calendarDate(knex, t, 'ended_date').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.index(['statement_id']);
    t.index(['status']);
  });

  await knex.schema.createTable('dispute_lines', (t) => {
    t.integer('dispute_id').notNullable().references('id').inTable('disputes');
    t.integer('statement_line_id').notNullable().references('id').inTable('statement_lines');
    t.primary(['dispute_id', 'statement_line_id']);
  });

  await knex.schema.createTable('held_lines', (t) => {
    t.integer('statement_line_id').notNullable().primary().references('id').inTable('statement_lines');
    t.integer('dispute_id').notNullable().references('id').inTable('disputes');
  });

  await knex.schema.alterTable('statement_lines', (t) => {
    t.integer('dispute_id').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  // Plain ALTER TABLE … DROP COLUMN: Knex would rebuild the tables on SQLite, which their foreign keys refuse.
  await knex.raw('ALTER TABLE statement_lines DROP COLUMN dispute_id');
  await knex.schema.dropTable('held_lines');
  await knex.schema.dropTable('dispute_lines');
  await knex.schema.dropTable('disputes');
  await knex.schema.alterTable('statements', (t) => {
    t.dropIndex(['payer_id', 'period', 'status']);
    t.dropIndex(['referrer_id', 'period', 'status']);
  });
  for (const column of ['accepted_date', 'accepted_by', 'status', 'period']) await knex.raw(`ALTER TABLE statements DROP COLUMN ${column}`);
}
