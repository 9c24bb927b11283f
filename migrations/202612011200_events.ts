import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

/**
 * The events feed and webhooks (SPEC §13).
 *
 * - `events`: the outbox. An event's id is its sequence number, taken from `event_counter` by the
 *   transaction that writes it, as its last step before the commit: the counter's row stays locked
 *   until that commit, so numbers are handed out in commit order and without gaps (a rolled-back
 *   transaction gives its numbers back). `bunit_ids` and `data` are JSON text.
 * - `event_bunits`: which business units an event names, for the feed of a scoped key.
 * - `webhook_endpoints`: where events are sent, with the secret(s) they are signed with and the
 *   lease of the instance that is sending to it (one at a time: events leave in order).
 * - `webhook_fanout`: how far the fan-out step has turned committed events into deliveries.
 * - `webhook_deliveries`: one event for one endpoint, a job row with a status and a lease;
 *   `webhook_attempts`: the delivery log.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('event_counter', (t) => {
    t.integer('id').primary();
    t.bigInteger('last_sequence').notNullable();
  });
  await knex('event_counter').insert({ id: 1, last_sequence: 0 });

  await knex.schema.createTable('events', (t) => {
    t.bigInteger('id').primary();
    t.string('type', 64).notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    t.text('bunit_ids').notNullable();
    t.text('data').notNullable();
    t.index(['type', 'id']);
    t.index(['created_at']);
  });

  await knex.schema.createTable('event_bunits', (t) => {
    t.integer('bunit_id').notNullable();
    t.bigInteger('event_id').notNullable().references('id').inTable('events').onDelete('CASCADE');
    t.string('type', 64).notNullable();
    t.primary(['bunit_id', 'event_id']);
    t.index(['event_id']);
  });

  await knex.schema.createTable('webhook_endpoints', (t) => {
    t.increments('id').primary();
    t.text('url').notNullable();
    t.string('description', 500).nullable();
    // JSON arrays; null: every type, every business unit
    t.text('event_types').nullable();
    t.text('bunit_ids').nullable();
    t.boolean('enabled').notNullable();
    t.text('secret').notNullable();
    t.text('previous_secret').nullable();
    timestampColumn(knex, t, 'previous_secret_until').nullable();
    // Events after this sequence are sent to it (those committed after it was created).
    t.bigInteger('from_sequence').notNullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    timestampColumn(knex, t, 'updated_at').notNullable();
    timestampColumn(knex, t, 'disabled_at').nullable();
    t.string('disabled_reason', 500).nullable();
    timestampColumn(knex, t, 'deleted_at').nullable();
    // The first failure since the last success: failing for 5 days disables the endpoint.
    timestampColumn(knex, t, 'failing_since').nullable();
    t.string('lease_owner', 64).nullable();
    timestampColumn(knex, t, 'lease_until').nullable();
  });

  await knex.schema.createTable('webhook_fanout', (t) => {
    t.integer('id').primary();
    t.bigInteger('last_sequence').notNullable();
  });
  await knex('webhook_fanout').insert({ id: 1, last_sequence: 0 });

  await knex.schema.createTable('webhook_deliveries', (t) => {
    t.increments('id').primary();
    t.integer('endpoint_id').notNullable().references('id').inTable('webhook_endpoints');
    t.bigInteger('event_id').notNullable().references('id').inTable('events').onDelete('CASCADE');
    t.string('event_type', 64).notNullable();
    // pending, succeeded, failed
    t.string('status', 10).notNullable();
    t.integer('attempt_count').notNullable();
    // Failures since the schedule last began (a manual retry begins it again).
    t.integer('schedule_step').notNullable();
    timestampColumn(knex, t, 'next_attempt_at').nullable();
    t.string('lease_owner', 64).nullable();
    timestampColumn(knex, t, 'lease_until').nullable();
    timestampColumn(knex, t, 'created_at').notNullable();
    timestampColumn(knex, t, 'last_attempt_at').nullable();
    timestampColumn(knex, t, 'failed_at').nullable();
    t.unique(['endpoint_id', 'event_id']);
    t.index(['endpoint_id', 'status', 'event_id']);
    t.index(['status', 'next_attempt_at']);
  });

  await knex.schema.createTable('webhook_attempts', (t) => {
    t.increments('id').primary();
    t.integer('delivery_id').notNullable().references('id').inTable('webhook_deliveries').onDelete('CASCADE');
    timestampColumn(knex, t, 'attempted_at').notNullable();
    t.integer('http_status').nullable();
    t.string('error', 500).nullable();
    t.integer('duration_ms').notNullable();
    t.text('response').nullable();
    t.index(['delivery_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['webhook_attempts', 'webhook_deliveries', 'webhook_fanout', 'webhook_endpoints', 'event_bunits', 'events', 'event_counter']) {
    await knex.schema.dropTable(table);
  }
}
