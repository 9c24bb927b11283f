import cc from 'currency-codes';
import type { Knex } from 'knex';
import { exactInteger, isPostgres, timestampColumn } from './lib/columns';

/**
 * The settlement run as a job in the database (SPEC §6.5): a run has a status and a lease, its
 * work is cut into partitions committed one by one, and each partition leaves its part of every
 * statement's exact sum, so that finalize can round statements without reading their lines.
 *
 * Statement lines store their exact share as the integer numerator it is — the share is
 * exact_num / (10^12 × period_days) — instead of a decimal cut to 20 places, and the floor of
 * their amount (floor_minor), both exact integers of any size (TEXT digits on SQLite, whose
 * INTEGER stops at 2^63; NUMERIC on PostgreSQL). Lines are never updated: finalize records on the
 * statement the last line, in the order of remainders, that gets one more minor unit
 * (round_up_key, round_up_line, round_up_referral); a line's amount is its floor, plus one if it
 * ranks up to that line. Statement totals and run totals become exact integers of any size on
 * SQLite as well. One line per pair per run (adjustments, §12, add lines for pairs settled
 * before), hence unique (revenue line, referral, run).
 *
 * Existing lines are converted exactly: the stored 20-decimal share determines the integer
 * Σ percentage × days (its error is below 10^-20 × 10^12 × 366 / 10^-6·10^6 < 0.5), so the
 * numerator is recomputed without loss, and checked against what was stored.
 */
export async function up(knex: Knex): Promise<void> {
  const pg = isPostgres(knex);

  await knex.schema.alterTable('settlement_runs', (t) => {
    t.string('status', 16).notNullable().defaultTo('completed');
    timestampColumn(knex, t, 'started_at').nullable();
    timestampColumn(knex, t, 'completed_at').nullable();
    t.integer('partitions_total').notNullable().defaultTo(0);
    // Who works on a running run, and until when that claim holds without being renewed.
    t.string('lease_owner', 200).nullable();
    timestampColumn(knex, t, 'lease_until').nullable();
  });
  await knex('settlement_runs').update({ started_at: knex.ref('created_at'), completed_at: knex.ref('created_at') });
  // One run is running at a time: the database holds it.
  await knex.raw("CREATE UNIQUE INDEX settlement_runs_one_running ON settlement_runs (status) WHERE status = 'running'");

  await knex.schema.createTable('settlement_partitions', (t) => {
    t.increments('id').primary();
    t.integer('run_id').notNullable().references('id').inTable('settlement_runs');
    t.integer('seq').notNullable();
    // The contracts first_contract_id..last_contract_id (inclusive): all pairs of a contract are in one partition.
    t.integer('first_contract_id').notNullable();
    t.integer('last_contract_id').notNullable();
    // pending, done, or failed (an unexpected error: its pairs stay unsettled for the next run)
    t.string('status', 8).notNullable().defaultTo('pending');
    t.integer('line_count').notNullable().defaultTo(0);
    t.text('error').nullable();
    t.unique(['run_id', 'seq']);
    t.index(['run_id', 'status']);
  });

  await knex.schema.alterTable('statements', (t) => {
    // false while the run is running: the total is set by finalize.
    t.boolean('finalized').notNullable().defaultTo(true);
    // The last line, ranked by remainder (largest first, then lower revenue line, then lower
    // referral), that gets one more minor unit; null: none does.
    t.string('round_up_key', 40).nullable();
    t.integer('round_up_line').nullable();
    t.integer('round_up_referral').nullable();
  });

  // A partition's part of a statement's exact sum, per period length (same denominator).
  await knex.schema.createTable('settlement_sums', (t) => {
    t.integer('partition_id').notNullable().references('id').inTable('settlement_partitions');
    t.integer('statement_id').notNullable().references('id').inTable('statements');
    t.integer('period_days').notNullable();
    exactInteger(knex, t, 'exact_sum', 65).notNullable();
    exactInteger(knex, t, 'floor_sum', 50).notNullable();
    t.integer('line_count').notNullable();
    t.primary(['partition_id', 'statement_id', 'period_days']);
    t.index(['statement_id']);
  });

  await knex.schema.alterTable('statement_lines', (t) => {
    t.integer('run_id').nullable();
    t.string('kind', 12).notNullable().defaultTo('share');
    exactInteger(knex, t, 'exact_num', 50).nullable();
    exactInteger(knex, t, 'floor_minor', 45).nullable();
    // Kept only while the lines settled before are converted (their statements' boundaries come from it).
    t.smallint('round_up').notNullable().defaultTo(0);
    t.integer('adjusts_statement_id').nullable();
    t.integer('adjusts_line_id').nullable();
  });
  await convertLines(knex);
  await convertRoundUps(knex);
  await knex.raw('ALTER TABLE statement_lines DROP COLUMN round_up');
  await knex.schema.alterTable('statement_lines', (t) => {
    t.dropUnique(['revenue_line_id', 'referral_id']);
    // One line per pair per run; it also finds a pair's lines of every run (an adjustment's sum).
    t.unique(['revenue_line_id', 'referral_id', 'run_id']);
    // A statement's lines in their order (reads, the run export, finalize's ranking of remainders).
    t.index(['statement_id', 'revenue_line_id', 'referral_id']);
    t.dropIndex(['statement_id', 'remainder_key']);
  });
  // A partition reads the lines of its contracts, contract by contract, in id order.
  await knex.schema.alterTable('revenue_lines', (t) => {
    t.index(['contract_id', 'id']);
  });
  await knex.raw('ALTER TABLE statement_lines DROP COLUMN exact_amount');
  await knex.raw('ALTER TABLE statement_lines DROP COLUMN amount_minor');
  if (pg) {
    // run_id repeats the statement's run (statement_id holds the foreign key): no key of its own to check per line.
    await knex.raw('ALTER TABLE statement_lines ALTER COLUMN run_id SET NOT NULL, ALTER COLUMN exact_num SET NOT NULL, ALTER COLUMN floor_minor SET NOT NULL');
    // PostgreSQL checks a foreign key per inserted row, with a query and a row lock of its own: on
    // the ledger (a run writes a settled pair and most often a line for each of its million pairs)
    // the five keys were a third of the run's time. A key stays where the service deletes the
    // parent: a revenue line goes only while unsettled, and its key on settled_pairs holds it against
    // a race. Runs, referrals and settled pairs are never deleted; a statement is, only when it has
    // no lines (deleteEmptyStatement says so in its WHERE). SQLite checks keys in-process and keeps them.
    await knex.raw(
      'ALTER TABLE statement_lines DROP CONSTRAINT statement_lines_revenue_line_id_foreign, DROP CONSTRAINT statement_lines_referral_id_foreign, DROP CONSTRAINT statement_lines_contract_id_foreign, DROP CONSTRAINT statement_lines_statement_id_foreign',
    );
    await knex.raw('ALTER TABLE settled_pairs DROP CONSTRAINT settled_pairs_referral_id_foreign, DROP CONSTRAINT settled_pairs_run_id_foreign');
  } else {
    // SQLite's INTEGER stops at 2^63: totals become exact digits.
    await toExactText(knex, 'statements', 'total_minor');
    await toExactText(knex, 'settlement_run_totals', 'amount_minor');
  }
}

/** Each statement settled before: the last of its lines that got the extra minor unit, as its boundary. */
async function convertRoundUps(knex: Knex): Promise<void> {
  const statements: { id: number }[] = await knex('statements').select('id').orderBy('id');
  for (const { id } of statements) {
    const last = await knex('statement_lines')
      .select('remainder_key', 'revenue_line_id', 'referral_id')
      .where({ statement_id: id, round_up: 1 })
      .orderBy([
        { column: 'remainder_key', order: 'asc' },
        { column: 'revenue_line_id', order: 'desc' },
        { column: 'referral_id', order: 'desc' },
      ])
      .first();
    if (last) {
      await knex('statements').where({ id }).update({ round_up_key: last.remainder_key, round_up_line: last.revenue_line_id, round_up_referral: last.referral_id });
    }
  }
}

/** SQLite: a column of whole numbers (INTEGER) as TEXT digits, values kept. */
async function toExactText(knex: Knex, table: string, column: string): Promise<void> {
  await knex.raw(`ALTER TABLE ${table} ADD COLUMN ${column}_exact text NOT NULL DEFAULT '0'`);
  await knex.raw(`UPDATE ${table} SET ${column}_exact = CAST(${column} AS TEXT)`);
  await knex.raw(`ALTER TABLE ${table} DROP COLUMN ${column}`);
  await knex.raw(`ALTER TABLE ${table} RENAME COLUMN ${column}_exact TO ${column}`);
}

interface OldLine {
  id: number;
  run_id: number;
  currency: string;
  revenue_amount: string;
  period_days: number;
  exact_amount: string;
  amount_minor: string;
}

/** The lines settled before, with their exact numerators, floors and round-ups. */
async function convertLines(knex: Knex): Promise<void> {
  for (let after = 0; ; ) {
    const rows: OldLine[] = await knex('statement_lines as l')
      .join('statements as s', 's.id', 'l.statement_id')
      .select(
        'l.id',
        's.run_id',
        's.currency',
        knex.raw('CAST(l.revenue_amount AS TEXT) AS revenue_amount'),
        'l.period_days',
        knex.raw('CAST(l.exact_amount AS TEXT) AS exact_amount'),
        knex.raw('CAST(l.amount_minor AS TEXT) AS amount_minor'),
      )
      .where('l.id', '>', after)
      .orderBy('l.id')
      .limit(2000);
    if (rows.length === 0) return;
    for (const row of rows) {
      const { exactNum, floorMinor, roundUp } = convertLine(row);
      await knex('statement_lines')
        .where({ id: row.id })
        .update({ run_id: row.run_id, exact_num: exactNum.toString(), floor_minor: floorMinor.toString(), round_up: roundUp });
    }
    after = rows[rows.length - 1]!.id;
  }
}

const SHARE_SCALE = 10n ** 12n;

/** A decimal string as value × 10^scale (an integer); exact. */
function scaledInteger(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const [whole, fraction = ''] = (negative ? text.slice(1) : text).split('.');
  if (fraction.length > scale && /[1-9]/.test(fraction.slice(scale))) throw new Error(`${text} has more than ${scale} decimals`);
  const digits = BigInt(`${whole}${fraction.slice(0, scale).padEnd(scale, '0')}`);
  return negative ? -digits : digits;
}

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n !== b < 0n ? q - 1n : q;
}

/** n / d to the nearest integer (d > 0); the quotients here are integers up to a tiny error. */
function roundDiv(n: bigint, d: bigint): bigint {
  return floorDiv(2n * n + d, 2n * d);
}

export function convertLine(row: Pick<OldLine, 'currency' | 'revenue_amount' | 'period_days' | 'exact_amount' | 'amount_minor'>) {
  const a = scaledInteger(row.revenue_amount, 6);
  const days = BigInt(row.period_days);
  const den = SHARE_SCALE * days;
  // exact ≈ exact_amount (20 decimals): Σ pct × 10^4 = exact × 10^12 × N / A, an integer.
  const exact20 = scaledInteger(row.exact_amount, 20);
  const percentDays = roundDiv(exact20 * den, a * 10n ** 20n);
  const exactNum = a * percentDays;
  // The stored display must be the recomputed share rounded to 20 places: else stop, never guess.
  const shown = exactNum * 10n ** 20n;
  const lower = floorDiv(shown, den);
  if (exact20 !== lower && exact20 !== lower + 1n) {
    throw new Error(`statement line with exact amount ${row.exact_amount} cannot be converted exactly`);
  }
  const digits = cc.code(row.currency)?.digits;
  if (digits === undefined) throw new Error(`unknown currency ${row.currency}`);
  const floorMinor = floorDiv(exactNum * 10n ** BigInt(digits), den);
  const roundUp = BigInt(row.amount_minor) - floorMinor;
  if (roundUp !== 0n && roundUp !== 1n) throw new Error(`statement line amount ${row.amount_minor} is not its share rounded`);
  return { exactNum, floorMinor, roundUp: Number(roundUp) };
}

export async function down(): Promise<void> {
  throw new Error('the settlement engine migration is not reversible: its exact amounts cannot go back to 20 decimals');
}
