import type { Knex } from 'knex';
import { calendarDate, exactInteger, isPostgres, timestampColumn } from './lib/columns';

/**
 * Period close, netting, journals and payments (SPEC §16). Every money row is append-only:
 *
 * - `periods`: a row once a close has claimed the period (`closing`), `closed` when the close is
 *   done. Nettings and journals of a period are shown only once it is `closed`.
 * - `held_at_close`: the lines held by an open dispute when their period's close claimed it; they
 *   are left out of that period's nettings and netted in the period in which their dispute ends.
 * - `nettings`: one per pair {A, B} (A the lower id) and currency of a period, with what each owes.
 * - `netting_statements`: each statement netted once, ever (primary key): with it, every line of
 *   the statement that is not in `held_at_close` is netted, in that netting, and in no other.
 * - `netted_lines`: a line held at its own period's close and netted on its own, in the period in
 *   which its dispute ended (released). Its primary key nets it once, ever; its foreign key to
 *   `held_at_close` admits only lines its statement's netting left out. So a line is netted exactly
 *   once: through its statement (not held at the close) or on its own (held at the close, then
 *   released), never both, each by a unique key, as settled_pairs holds settlement. The close
 *   writes a row per statement, not per line: it never reads the lines of a statement.
 * - `payments`: the payments of a netting, a reference once per netting.
 * - `business_units.account_*`: a unit's accounts for its journals.
 * - `journals`, `journal_entries`: double-entry journals (`close`: one per unit, period and
 *   currency; `payment`: one per unit and payment); `journal_postings`: the ERP's acknowledgement.
 */
export async function up(knex: Knex): Promise<void> {
  const pg = isPostgres(knex);

  await knex.schema.createTable('periods', (t) => {
    t.string('period', 7).primary();
    // closing: claimed by a close that has not finished; closed: for good.
    t.string('status', 8).notNullable();
    t.string('closed_by', 200).notNullable();
    t.integer('closed_by_key_id').nullable();
    timestampColumn(knex, t, 'started_at').notNullable();
    timestampColumn(knex, t, 'closed_at').nullable();
  });

  await knex.schema.createTable('held_at_close', (t) => {
    t.integer('statement_line_id').primary();
    t.string('period', 7).notNullable().references('period').inTable('periods');
    t.integer('dispute_id').notNullable();
  });

  await knex.schema.createTable('nettings', (t) => {
    t.increments('id').primary();
    t.string('period', 7).notNullable().references('period').inTable('periods');
    t.integer('bunit_a_id').notNullable().references('id').inTable('business_units');
    t.integer('bunit_b_id').notNullable().references('id').inTable('business_units');
    t.string('currency', 3).notNullable();
    exactInteger(knex, t, 'owes_a_minor', 50).notNullable();
    exactInteger(knex, t, 'owes_b_minor', 50).notNullable();
    exactInteger(knex, t, 'amount_minor', 50).notNullable();
    t.integer('payer_id').nullable();
    t.integer('payee_id').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.unique(['period', 'bunit_a_id', 'bunit_b_id', 'currency']);
    t.index(['bunit_a_id']);
    t.index(['bunit_b_id']);
  });

  await knex.schema.createTable('netting_statements', (t) => {
    t.integer('statement_id').primary().references('id').inTable('statements');
    t.integer('netting_id').notNullable().references('id').inTable('nettings');
    t.index(['netting_id']);
  });

  await knex.schema.createTable('netted_lines', (t) => {
    // A released line is netted once, ever; only a line held at its statement's close is.
    t.integer('statement_line_id').primary().references('statement_line_id').inTable('held_at_close');
    t.integer('netting_id').notNullable().references('id').inTable('nettings');
    t.index(['netting_id']);
  });

  await knex.schema.createTable('payments', (t) => {
    t.increments('id').primary();
    t.integer('netting_id').notNullable().references('id').inTable('nettings');
    exactInteger(knex, t, 'amount_minor', 50).notNullable();
    calendarDate(knex, t, 'paid_date').notNullable();
    t.string('reference', 100).notNullable();
    t.string('recorded_by', 200).notNullable();
    t.integer('recorded_by_key_id').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.unique(['netting_id', 'reference']);
  });

  await knex.schema.alterTable('business_units', (t) => {
    t.string('account_receivable', 64).notNullable().defaultTo('intercompany-receivable');
    t.string('account_payable', 64).notNullable().defaultTo('intercompany-payable');
    t.string('account_income', 64).notNullable().defaultTo('revenue-share-income');
    t.string('account_expense', 64).notNullable().defaultTo('revenue-share-expense');
    t.string('account_clearing', 64).notNullable().defaultTo('intercompany-clearing');
  });

  await knex.schema.createTable('journals', (t) => {
    t.increments('id').primary();
    t.integer('bunit_id').notNullable().references('id').inTable('business_units');
    // close or payment
    t.string('kind', 8).notNullable();
    t.string('period', 7).notNullable();
    t.string('currency', 3).notNullable();
    calendarDate(knex, t, 'date').notNullable();
    t.integer('payment_id').nullable().references('id').inTable('payments');
    exactInteger(knex, t, 'total_minor', 50).notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.index(['bunit_id', 'period']);
    t.unique(['payment_id', 'bunit_id']);
  });
  // One close journal per unit, period and currency, whatever number of closes write it.
  await knex.raw(
    `CREATE UNIQUE INDEX journals_one_close ON journals (bunit_id, period, currency) WHERE kind = 'close'`,
  );

  await knex.schema.createTable('journal_entries', (t) => {
    t.integer('journal_id').notNullable().references('id').inTable('journals');
    t.integer('seq').notNullable();
    t.string('account', 64).notNullable();
    t.integer('partner_id').notNullable();
    t.integer('netting_id').notNullable();
    exactInteger(knex, t, 'debit_minor', 50).nullable();
    exactInteger(knex, t, 'credit_minor', 50).nullable();
    t.string('memo', 200).notNullable();
    t.primary(['journal_id', 'seq']);
  });

  await knex.schema.createTable('journal_postings', (t) => {
    t.integer('journal_id').primary().references('id').inTable('journals');
    t.string('external_id', 200).notNullable();
    t.string('posted_by', 200).notNullable();
    t.integer('posted_by_key_id').nullable();
    timestampColumn(knex, t, 'posted_at').notNullable();
  });

  if (pg) {
    // An entry has either a debit or a credit, never both, never neither; neither is negative.
    await knex.raw(
      'ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_one_side CHECK ((debit_minor IS NULL) <> (credit_minor IS NULL) AND COALESCE(debit_minor, credit_minor) > 0)',
    );
  }
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['journal_postings', 'journal_entries', 'journals', 'payments', 'netted_lines', 'netting_statements', 'nettings', 'held_at_close', 'periods']) {
    await knex.schema.dropTable(table);
  }
  for (const column of ['account_receivable', 'account_payable', 'account_income', 'account_expense', 'account_clearing']) {
    await knex.raw(`ALTER TABLE business_units DROP COLUMN ${column}`);
  }
}
