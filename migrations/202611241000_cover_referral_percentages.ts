import type { Knex } from 'knex';

/**
 * A referral is almost always read with its percentage history (every GET, every rule check,
 * every settlement batch). An index holding all the columns read answers that from the index
 * alone, without a visit to the table for each segment.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referral_percentages', (t) => {
    t.index(['referral_id', 'from_date', 'to_date', 'percentage'], 'referral_percentages_covering');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referral_percentages', (t) => {
    t.dropIndex(['referral_id', 'from_date', 'to_date', 'percentage'], 'referral_percentages_covering');
  });
}
