import type { Knex } from 'knex';
import type { BusinessCalendar } from '../clock';
import { transaction } from '../db';

/**
 * Referrals archived before archive days were stored (migration 202612011100) get theirs from the
 * business time zone the service runs with, as it derived them until then; from now on a change
 * of BUSINESS_TIMEZONE cannot change what was settled. Run at start, after the migrations; it
 * does nothing once every archived referral has its day.
 */
export async function fillArchiveDays(db: Knex, calendar: BusinessCalendar): Promise<number> {
  const rows: { id: number; archived_at: Date | string }[] = await db('referrals')
    .select('id', 'archived_at')
    .whereNotNull('archived_at')
    .whereNull('archive_day');
  if (rows.length === 0) return 0;
  await transaction(db, async (trx) => {
    for (const r of rows) {
      await trx('referrals').where({ id: r.id }).whereNull('archive_day').update({ archive_day: calendar.dayOf(new Date(r.archived_at).toISOString()) });
    }
  });
  return rows.length;
}
