import type { Knex } from 'knex';
import { calendarDate } from './lib/columns';

/**
 * Amendments (SPEC §12): a referral's terms may be corrected on days already settled; the next
 * run settles the difference. A referral counts the revisions of its terms (`terms_revision`,
 * one more with every change of its window or percentages) and the revision its settled pairs
 * were last brought to (`adjusted_revision`): a run checks the settled pairs of a referral whose
 * two differ, and no other.
 *
 * The archive day (the calendar day of archivedDate in BUSINESS_TIMEZONE, from which the
 * referral earns nothing) is stored when the referral is archived, so that a later change of the
 * setting cannot change what was settled. Referrals archived before this migration get theirs
 * when the service next starts, from the setting it ran with (src/services/archive-days.ts):
 * the migration does not know it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referrals', (t) => {
    t.integer('terms_revision').notNullable().defaultTo(0);
    t.integer('adjusted_revision').notNullable().defaultTo(0);
    calendarDate(knex, t, 'archive_day').nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referrals', (t) => {
    for (const column of ['archive_day', 'adjusted_revision', 'terms_revision']) t.dropColumn(column);
  });
}
