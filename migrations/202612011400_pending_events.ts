import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

/**
 * Events are numbered after their commit (SPEC §13). A change writes its events into
 * `pending_events` (an auto-increment key, no lock to wait for); a publisher, one at a time under
 * the lock of `event_counter`, moves the committed ones into `events` with the next sequence
 * numbers, in one short transaction for up to a thousand of them. So the commits of changes no
 * longer queue on the counter row (each waited for the previous one's COMMIT, fsync included,
 * which on PostgreSQL held every instance together to about 200 changes a second), and the
 * sequences stay dense, in the order in which they became visible: a reader that has seen n has
 * seen every event before n.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('pending_events', (t) => {
    t.bigIncrements('id').primary();
    t.string('type', 64).notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.text('bunit_ids').notNullable();
    t.text('data').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('pending_events');
}
