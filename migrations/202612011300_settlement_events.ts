import type { Knex } from 'knex';
import { isPostgres } from './lib/columns';

/**
 * What the settlement run needed once the events feed (SPEC §13) and amendments (§12) met it:
 *
 * - `staged_events`, `staged_event_bunits`: events a long job prepares in short transactions of
 *   its own, numbered into `events` by the one that makes its change visible (a run's
 *   statement.created, written by finalize's batches, published by the run's completion). `ord`
 *   counts 0, 1, 2 … within a batch, so that publishing is one INSERT … SELECT while the counter is
 *   locked: what waits for the counter waits for that, not for the job.
 * - `settlement_partitions.adjustment_count`: how many of a partition's lines are adjustments
 *   (the rest are shares): the metrics of a completed run count both.
 * - `settlement_sums` loses its foreign keys on PostgreSQL (checked per row, they were a tenth of
 *   a run's time): it is working data of a running run, dropped once the run completes;
 *   partitions are never deleted, and a statement only when it has no lines, hence no sums.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('staged_events', (t) => {
    t.string('batch', 64).notNullable();
    t.integer('ord').notNullable();
    t.string('type', 64).notNullable();
    t.text('bunit_ids').notNullable();
    t.text('data').notNullable();
    t.primary(['batch', 'ord']);
  });
  await knex.schema.createTable('staged_event_bunits', (t) => {
    t.string('batch', 64).notNullable();
    t.integer('ord').notNullable();
    t.integer('bunit_id').notNullable();
    t.string('type', 64).notNullable();
    t.primary(['batch', 'ord', 'bunit_id']);
  });
  await knex.schema.alterTable('settlement_partitions', (t) => {
    t.integer('adjustment_count').notNullable().defaultTo(0);
  });
  if (isPostgres(knex)) {
    await knex.schema.alterTable('settlement_sums', (t) => {
      t.dropForeign(['partition_id']);
      t.dropForeign(['statement_id']);
    });
  }
}

export async function down(knex: Knex): Promise<void> {
  if (isPostgres(knex)) {
    await knex.schema.alterTable('settlement_sums', (t) => {
      t.foreign('partition_id').references('id').inTable('settlement_partitions');
      t.foreign('statement_id').references('id').inTable('statements');
    });
  }
  await knex.schema.alterTable('settlement_partitions', (t) => {
    t.dropColumn('adjustment_count');
  });
  await knex.schema.dropTable('staged_event_bunits');
  await knex.schema.dropTable('staged_events');
}
