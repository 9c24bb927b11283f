import type { Knex } from 'knex';

/**
 * An idempotency record knows which attempt holds it (`attempt`, renewed with its lease), so that
 * only that attempt stores the answer: a first request that outlived its lease cannot overwrite
 * the answer of the retry that took the key over. `resource` names what the first attempt began
 * (a settlement run), so that a retry after a crash continues it instead of starting another.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.string('attempt', 36).nullable();
    t.string('resource', 100).nullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('idempotency_keys', (t) => {
    t.dropColumn('attempt');
    t.dropColumn('resource');
  });
}
