import type { Knex } from 'knex';

/**
 * A referrer's list (GET …/referrals?role=referrer) counts its referrals that are not archived and
 * reads a page of them in id order. With the id and the archive instant in the index, the count is
 * read from the index alone (no visit to the table for each referral), and the page still comes in
 * id order, so it stops after its last row. It replaces the index on referrer_id alone, which it
 * starts with: a referral is written with no more indexes than before.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referrals', (t) => {
    t.index(['referrer_id', 'id', 'archived_at'], 'referrals_referrer_listing');
  });
  await knex.schema.alterTable('referrals', (t) => {
    t.dropIndex(['referrer_id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referrals', (t) => {
    t.index(['referrer_id']);
  });
  await knex.schema.alterTable('referrals', (t) => {
    t.dropIndex(['referrer_id', 'id', 'archived_at'], 'referrals_referrer_listing');
  });
}
