import type { Knex } from 'knex';
import { isPostgres } from './lib/columns';

/**
 * SQLite: the ledger's two largest tables, statement_lines and settled_pairs, with the keys that
 * PostgreSQL dropped in 202612010900 dropped here too. A settlement run writes a line and a settled
 * pair for each of its million pairs, and SQLite looked up the parent of every foreign key for
 * every row (seven look-ups a pair): with them and the two changes below, a third of the run's
 * inserting time (bench scenario 5: 33.5 s → 30 s). What the keys guarded holds without them:
 * lines and settled pairs are only written by the run, from rows it has just read under the
 * contracts' lock, and nothing deletes a run, a referral, a contract or a statement that has lines
 * (the statement only when it has none, said in deleteEmptyStatement's WHERE). The key that the
 * service needs stays: settled_pairs → revenue_lines, which stops an unsettled revenue line's
 * deletion from racing the run that settles it.
 *
 * - statement_lines: no foreign keys, and `integer primary key` instead of `autoincrement`, which
 *   wrote the table's sequence once per inserted line. Ids are not reused: lines are never deleted,
 *   and a new line's id follows the highest. Referenced by dispute_lines and held_lines,
 *   whose keys stay and point at the rebuilt table (same name).
 * - settled_pairs: WITHOUT ROWID, so its primary key (revenue_line_id, referral_id) is the table
 *   itself instead of a second B-tree beside it.
 *
 * SQLite cannot drop a key from a table: each is rebuilt (new table, rows copied, old one dropped,
 * new one renamed, indexes made again), in one transaction with foreign keys off, then checked with
 * foreign_key_check (SQLite's documented procedure for altering a table). PostgreSQL: nothing.
 */
export const config = { transaction: false };

const LINE_COLUMNS = [
  'id', 'statement_id', 'revenue_line_id', 'referral_id', 'contract_id', 'period_start', 'period_end', 'period_days', 'billable_days',
  'revenue_amount', 'remainder_key', 'run_id', 'kind', 'exact_num', 'floor_minor', 'adjusts_statement_id', 'adjusts_line_id', 'dispute_id',
];
const PAIR_COLUMNS = ['revenue_line_id', 'referral_id', 'run_id', 'last_billable_date'];

const lineTable = (name: string, keys: boolean) => `CREATE TABLE ${name} (
  id integer not null primary key${keys ? ' autoincrement' : ''},
  statement_id integer not null,
  revenue_line_id integer not null,
  referral_id integer not null,
  contract_id integer not null,
  period_start varchar(10) not null,
  period_end varchar(10) not null,
  period_days integer not null,
  billable_days integer not null,
  revenue_amount text not null,
  remainder_key varchar(40) not null,
  run_id integer null,
  kind varchar(12) not null default 'share',
  exact_num text null,
  floor_minor text null,
  adjusts_statement_id integer null,
  adjusts_line_id integer null,
  dispute_id integer null${
    keys
      ? `,
  foreign key (statement_id) references statements (id),
  foreign key (revenue_line_id) references revenue_lines (id),
  foreign key (referral_id) references referrals (id),
  foreign key (contract_id) references contracts (id)`
      : ''
  }
)`;

const pairTable = (name: string, keys: boolean) => `CREATE TABLE ${name} (
  revenue_line_id integer not null,
  referral_id integer not null,
  run_id integer not null,
  last_billable_date varchar(10) null,
  foreign key (revenue_line_id) references revenue_lines (id),${
    keys
      ? `
  foreign key (referral_id) references referrals (id),
  foreign key (run_id) references settlement_runs (id),`
      : ''
  }
  primary key (revenue_line_id, referral_id)
)${keys ? '' : ' WITHOUT ROWID'}`;

const LINE_INDEXES = [
  'CREATE UNIQUE INDEX statement_lines_revenue_line_id_referral_id_run_id_unique ON statement_lines (revenue_line_id, referral_id, run_id)',
  'CREATE INDEX statement_lines_statement_id_revenue_line_id_referral_id_index ON statement_lines (statement_id, revenue_line_id, referral_id)',
];
const PAIR_INDEXES = ['CREATE INDEX settled_pairs_referral_id_last_billable_date_index ON settled_pairs (referral_id, last_billable_date)'];

async function rebuild(trx: Knex.Transaction, table: string, create: string, columns: string[], indexes: string[]): Promise<void> {
  const list = columns.join(', ');
  await trx.raw(create);
  await trx.raw(`INSERT INTO ${table}_rebuilt (${list}) SELECT ${list} FROM ${table}`);
  await trx.raw(`DROP TABLE ${table}`);
  await trx.raw(`ALTER TABLE ${table}_rebuilt RENAME TO ${table}`);
  for (const sql of indexes) await trx.raw(sql);
}

async function rebuildLedger(knex: Knex, keys: boolean): Promise<void> {
  if (isPostgres(knex)) return;
  // Off outside the transaction (SQLite ignores the pragma inside one), on again whatever happens.
  await knex.raw('PRAGMA foreign_keys = OFF');
  try {
    await knex.transaction(async (trx) => {
      await rebuild(trx, 'statement_lines', lineTable('statement_lines_rebuilt', keys), LINE_COLUMNS, LINE_INDEXES);
      await rebuild(trx, 'settled_pairs', pairTable('settled_pairs_rebuilt', keys), PAIR_COLUMNS, PAIR_INDEXES);
      const broken = (await trx.raw('PRAGMA foreign_key_check')) as unknown[];
      if (broken.length > 0) throw new Error(`rebuilding the ledger tables broke ${broken.length} foreign keys: ${JSON.stringify(broken.slice(0, 5))}`);
    });
  } finally {
    await knex.raw('PRAGMA foreign_keys = ON');
  }
}

export async function up(knex: Knex): Promise<void> {
  await rebuildLedger(knex, false);
}

export async function down(knex: Knex): Promise<void> {
  await rebuildLedger(knex, true);
}
