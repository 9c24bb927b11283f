import type { Knex } from 'knex';
import { timestampColumn } from './lib/columns';

/**
 * Maker-checker approval (SPEC §11): a referral has a status (pending until its creation is
 * approved, approved, or denied) and the instant of its last change; a change request holds a
 * change that waits for another key's decision. One pending request per referral, held by the
 * database. The referral row names its pending request (id, kind, when), written with it, so
 * that reading a referral — the hottest read of the API — needs no join.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('referrals', (t) => {
    t.string('status', 8).notNullable().defaultTo('approved');
    timestampColumn(knex, t, 'updated_at').nullable();
    t.integer('pending_change_id').nullable();
    t.string('pending_change_kind', 8).nullable();
    timestampColumn(knex, t, 'pending_change_at').nullable();
  });
  // The last change each referral had: its latest audit entry, else its creation.
  await knex('referrals').update({
    updated_at: knex.raw(
      "COALESCE((SELECT max(a.at) FROM audit_events a WHERE a.entity_type = 'referral' AND a.entity_id = referrals.id), referrals.created_at)",
    ),
  });
  await knex.schema.alterTable('referrals', (t) => {
    t.index(['updated_at', 'id']);
  });

  await knex.schema.createTable('change_requests', (t) => {
    t.increments('id').primary();
    t.integer('referral_id').notNullable().references('id').inTable('referrals');
    // create, update, archive, amend
    t.string('kind', 8).notNullable();
    // pending, approved, denied, withdrawn
    t.string('status', 10).notNullable();
    // JSON: the terms asked for
    t.text('proposed').notNullable();
    t.string('reason', 500).nullable();
    t.string('requested_by', 200).notNullable();
    // Who asked, as a key ("key:17", "env:ADMIN_API_KEY"): four eyes compares keys, not names.
    t.string('requested_by_key', 64).notNullable();
    timestampColumn(knex, t, 'requested_at').notNullable();
    t.string('decided_by', 200).nullable();
    t.string('decided_by_key', 64).nullable();
    timestampColumn(knex, t, 'decided_at').nullable();
    t.string('decision_reason', 500).nullable();
    t.index(['referral_id', 'id']);
    t.index(['status', 'id']);
  });
  await knex.raw("CREATE UNIQUE INDEX change_requests_one_pending ON change_requests (referral_id) WHERE status = 'pending'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('change_requests');
  await knex.schema.alterTable('referrals', (t) => {
    t.dropIndex(['updated_at', 'id']);
    for (const column of ['pending_change_at', 'pending_change_kind', 'pending_change_id', 'updated_at', 'status']) t.dropColumn(column);
  });
}
