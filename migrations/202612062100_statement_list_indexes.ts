import type { Knex } from 'knex';

/**
 * The statement list's filters (SPEC §15: status and period, always under one business unit, as
 * payer or as referrer): one range of each of two indexes, however many periods and units there
 * are. They replace the index on (period, status) alone: no query filters by period without the
 * unit, and SQLite (planning without statistics) chose that index over these two and read every
 * unit's statements of the period for each page and its total (bench scenario 16).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('statements', (t) => {
    t.index(['payer_id', 'period', 'status']);
    t.index(['referrer_id', 'period', 'status']);
    t.dropIndex(['period', 'status']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('statements', (t) => {
    t.index(['period', 'status']);
    t.dropIndex(['payer_id', 'period', 'status']);
    t.dropIndex(['referrer_id', 'period', 'status']);
  });
}
