import type { Knex } from 'knex';

/**
 * A long job's staged events (a settlement run's statement.created) are released, not copied, by
 * the transaction that makes its change visible: it writes one row into `pending_events` naming
 * the batch (`staged_batch`), and the publisher numbers the batch's events from `staged_events`
 * where that row stands, a thousand at a time, in the short transactions it runs anyway. The run's
 * completion copied 21 k events (and deleted them twice) while it held the write lock, which on
 * SQLite held every request's write for a third of a second.
 *
 * `staged_event_bunits` goes: nothing read it (the publisher names an event's units from its
 * `bunit_ids`).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('pending_events', (t) => {
    t.string('staged_batch', 64).nullable();
  });
  await knex.schema.dropTable('staged_event_bunits');
}

export async function down(knex: Knex): Promise<void> {
  // The build before knows no release: one still waiting would never be published.
  const [waiting] = await knex('pending_events').whereNotNull('staged_batch').count({ n: '*' });
  if (Number(waiting?.n ?? 0) > 0) {
    throw new Error('pending_events holds staged releases not yet published: let the service publish them before rolling back');
  }
  await knex.schema.createTable('staged_event_bunits', (t) => {
    t.string('batch', 64).notNullable();
    t.integer('ord').notNullable();
    t.integer('bunit_id').notNullable();
    t.string('type', 64).notNullable();
    t.primary(['batch', 'ord', 'bunit_id']);
  });
  await knex.schema.alterTable('pending_events', (t) => {
    t.dropColumn('staged_batch');
  });
}
