import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('audit_events', (t) => {
    t.increments('id').primary();
    t.string('entity_type', 32).notNullable();
    t.integer('entity_id').notNullable();
    t.string('action', 32).notNullable();
    t.string('key_name', 200).notNullable();
    t.integer('key_id').nullable();
    t.string('reason', 500).nullable();
    // JSON: [{"field", "from", "to"}]
    t.text('changes').notNullable();
    timestampColumn(knex, t, 'at').notNullable();
    t.index(['entity_type', 'entity_id', 'id']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('audit_events');
}
