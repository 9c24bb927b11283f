import type { Knex } from 'knex';
import { claim, dbNowPlus, executePrepared, exactIntegerText, insertRows, preparedSql, queryPrepared, releaseClaims, renewClaims, toIsoTimestamp } from '../db';
import type { Page, PageResult, Sort } from './paging';

/**
 * Settlement runs as jobs in the database (SPEC §6.5): the run row with its status and lease, its
 * partitions (the work, claimed by workers), and each partition's part of every statement's
 * exact sum.
 */

export type RunStatus = 'running' | 'completed';

export interface RunRecord {
  id: number;
  through: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string;
  completedAt: string | null;
  createdBy: string;
  statementCount: number;
  lineCount: number;
  partitionsTotal: number;
  partitionsDone: number;
  partitionsFailed: number;
  leaseOwner: string | null;
  leaseUntil: string | null;
  totals: { currency: string; amountMinor: bigint }[];
}

interface RunRow {
  id: number;
  through: string;
  status: RunStatus;
  created_at: Date | string;
  started_at: Date | string | null;
  completed_at: Date | string | null;
  created_by: string;
  statement_count: number;
  line_count: number;
  partitions_total: number;
  lease_owner: string | null;
  lease_until: Date | string | null;
}

const RUN_COLUMNS = [
  'id', 'through', 'status', 'created_at', 'started_at', 'completed_at', 'created_by', 'statement_count', 'line_count',
  'partitions_total', 'lease_owner', 'lease_until',
];

/** Contracts first..last (inclusive) of a run's partition. */
export interface PartitionRange {
  first: number;
  last: number;
}

export interface NewRun {
  through: string;
  createdBy: string;
  createdAt: string;
  leaseOwner: string;
  leaseSeconds: number;
  partitions: PartitionRange[];
}

/**
 * Creates a running run with its partitions and its lease. A second running run violates the
 * unique index on running runs: the caller answers run-in-progress.
 */
export async function insertRun(trx: Knex, run: NewRun): Promise<number> {
  const [row] = await trx('settlement_runs')
    .insert({
      through: run.through,
      status: 'running',
      created_by: run.createdBy,
      created_at: run.createdAt,
      started_at: run.createdAt,
      partitions_total: run.partitions.length,
      lease_owner: run.leaseOwner,
      lease_until: dbNowPlus(trx, run.leaseSeconds),
    })
    .returning('id');
  const id = (row as { id: number }).id;
  await insertRows(
    trx,
    'settlement_partitions',
    ['run_id', 'seq', 'first_contract_id', 'last_contract_id', 'status'],
    run.partitions.map((p, i) => [id, i + 1, p.first, p.last, 'pending']),
  );
  return id;
}

async function withProgressAndTotals(db: Knex, rows: RunRow[]): Promise<RunRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const totals: { run_id: number; currency: string; amount_minor: string }[] = await db('settlement_run_totals')
    .select('run_id', 'currency', exactIntegerText(db, 'amount_minor', 'amount_minor'))
    .whereIn('run_id', ids)
    .orderBy(['run_id', 'currency']);
  const progress: { run_id: number; status: string; n: number | string }[] = await db('settlement_partitions')
    .select('run_id', 'status')
    .count({ n: '*' })
    .whereIn('run_id', ids)
    .whereNot('status', 'pending')
    .groupBy('run_id', 'status');
  return rows.map((r) => {
    const finished = (status: string) => Number(progress.find((p) => p.run_id === r.id && p.status === status)?.n ?? 0);
    return {
      id: r.id,
      through: r.through,
      status: r.status,
      createdAt: toIsoTimestamp(r.created_at)!,
      startedAt: toIsoTimestamp(r.started_at ?? r.created_at)!,
      completedAt: toIsoTimestamp(r.completed_at),
      createdBy: r.created_by,
      statementCount: r.statement_count,
      lineCount: r.line_count,
      partitionsTotal: r.partitions_total,
      partitionsDone: finished('done') + finished('failed'),
      partitionsFailed: finished('failed'),
      leaseOwner: r.lease_owner,
      leaseUntil: toIsoTimestamp(r.lease_until),
      totals: totals.filter((t) => t.run_id === r.id).map((t) => ({ currency: t.currency, amountMinor: BigInt(t.amount_minor) })),
    };
  });
}

export async function findRun(db: Knex, id: number): Promise<RunRecord | undefined> {
  const rows: RunRow[] = await db('settlement_runs').select(RUN_COLUMNS).where({ id });
  return (await withProgressAndTotals(db, rows))[0];
}

/** The run that is running, if one is (there is at most one). */
export async function findRunningRun(db: Knex): Promise<RunRecord | undefined> {
  const rows: RunRow[] = await db('settlement_runs').select(RUN_COLUMNS).where({ status: 'running' });
  return (await withProgressAndTotals(db, rows))[0];
}

const RUN_SORT = { id: 'id', through: 'through', createdDate: 'created_at' } as const;

export async function listRuns(db: Knex, sort: Sort<keyof typeof RUN_SORT>, page: Page): Promise<PageResult<RunRecord>> {
  const direction = sort.descending ? 'desc' : 'asc';
  const query = db('settlement_runs').select(RUN_COLUMNS).orderBy(RUN_SORT[sort.field], direction);
  if (sort.field !== 'id') query.orderBy('id', direction);
  const [counted] = await db('settlement_runs').count({ n: '*' });
  const rows: RunRow[] = await query.limit(page.limit).offset(page.offset);
  return { rows: await withProgressAndTotals(db, rows), total: Number((counted as { n: number | string }).n) };
}

// ---- the run's lease and its partitions, claimed through src/db/claim.ts ----------------------

/**
 * Takes over the running run if its lease has run out (by the database's clock) or was handed
 * back: of two settles that find it so, one gets it. False while its holder renews it.
 */
export async function claimRunningRun(db: Knex, runId: number, owner: string, leaseSeconds: number): Promise<boolean> {
  const rows = await claim(db, { table: 'settlement_runs', owner, leaseSeconds, returning: ['id'], where: (q) => q.where({ id: runId, status: 'running' }) });
  return rows.length === 1;
}

/** Extends the lease while its owner still holds it; false when someone else took it over. */
export async function renewRunLease(db: Knex, runId: number, owner: string, leaseSeconds: number): Promise<boolean> {
  return (await renewClaims(db, { table: 'settlement_runs', ids: [runId], owner, leaseSeconds })) === 1;
}

/** Hands the lease back (a settle that stops in the middle of a run): the next settle resumes at once. */
export async function releaseRunLease(db: Knex, runId: number, owner: string): Promise<void> {
  await releaseClaims(db, { table: 'settlement_runs', ids: [runId], owner });
}

export interface PartitionRecord {
  id: number;
  runId: number;
  seq: number;
  first: number;
  last: number;
}

/**
 * Claims the next pending partition in the caller's transaction, which settles it and commits it
 * done: no other worker takes it meanwhile (PostgreSQL: the claim's row lock, which the others'
 * FOR UPDATE SKIP LOCKED skips; SQLite: the transaction holds the write lock), and a worker that
 * dies gives it back with its transaction. The claim names the worker (lease_owner) for the record.
 */
export async function claimPartition(trx: Knex.Transaction, runId: number, owner: string, leaseSeconds: number): Promise<PartitionRecord | undefined> {
  const [row] = await claim<{ id: number; run_id: number; seq: number; first_contract_id: number; last_contract_id: number }>(trx, {
    table: 'settlement_partitions',
    owner,
    leaseSeconds,
    returning: ['id', 'run_id', 'seq', 'first_contract_id', 'last_contract_id'],
    where: (q) => q.where({ run_id: runId, status: 'pending' }),
    orderBy: 'seq',
  });
  return row && { id: row.id, runId: row.run_id, seq: row.seq, first: row.first_contract_id, last: row.last_contract_id };
}

export async function finishPartition(trx: Knex, partitionId: number, lines: { total: number; adjustments: number }): Promise<void> {
  await executePrepared(trx, FINISH_PARTITION, [lines.total, lines.adjustments, partitionId]);
}
const FINISH_PARTITION = preparedSql("UPDATE settlement_partitions SET status = 'done', line_count = ?, adjustment_count = ? WHERE id = ?");

/** The lines a run's partitions wrote, shares and adjustments. */
export async function linesOfRun(db: Knex, runId: number): Promise<{ share: number; adjustment: number }> {
  const [row] = await queryPrepared<{ total: number | string | null; adjustments: number | string | null }>(db, LINES_OF_RUN, [runId]);
  const adjustment = Number(row?.adjustments ?? 0);
  return { share: Number(row?.total ?? 0) - adjustment, adjustment };
}
const LINES_OF_RUN = preparedSql(
  "SELECT sum(line_count) AS total, sum(adjustment_count) AS adjustments FROM settlement_partitions WHERE run_id = ? AND status = 'done'",
);

/** A partition that failed twice with an unexpected error: the run goes on without it; its pairs stay unsettled. */
export async function failPartition(db: Knex, partitionId: number, error: string): Promise<void> {
  await db('settlement_partitions').where({ id: partitionId, status: 'pending' }).update({ status: 'failed', error: error.slice(0, 2000) });
}

export async function countPendingPartitions(db: Knex, runId: number): Promise<number> {
  const [row] = await queryPrepared<{ n: number | string }>(db, COUNT_PENDING, [runId]);
  return Number(row?.n ?? 0);
}
const COUNT_PENDING = preparedSql("SELECT count(*) AS n FROM settlement_partitions WHERE run_id = ? AND status = 'pending'");

export async function failedPartitions(db: Knex, runId: number): Promise<{ seq: number; first: number; last: number; error: string }[]> {
  const rows: { seq: number; first_contract_id: number; last_contract_id: number; error: string | null }[] = await db('settlement_partitions')
    .select('seq', 'first_contract_id', 'last_contract_id', 'error')
    .where({ run_id: runId, status: 'failed' })
    .orderBy('seq');
  return rows.map((r) => ({ seq: r.seq, first: r.first_contract_id, last: r.last_contract_id, error: r.error ?? '' }));
}

/** One partition's part of a statement's exact sum, for one period length. */
export interface StatementSumPart {
  statementId: number;
  periodDays: number;
  /** Σ of the lines' exact numerators (shares × 10^12 × periodDays). */
  exactSum: bigint;
  /** Σ of the lines' floors, in minor units. */
  floorSum: bigint;
  lineCount: number;
}

export async function insertSums(trx: Knex, partitionId: number, parts: StatementSumPart[]): Promise<void> {
  await insertRows(
    trx,
    'settlement_sums',
    ['partition_id', 'statement_id', 'period_days', 'exact_sum', 'floor_sum', 'line_count'],
    parts.map((p) => [partitionId, p.statementId, p.periodDays, p.exactSum.toString(), p.floorSum.toString(), p.lineCount]),
  );
}

/** Every part of the sums of these statements, by statement. */
export async function sumsOfStatements(db: Knex, statementIds: number[]): Promise<Map<number, StatementSumPart[]>> {
  const rows: { statement_id: number; period_days: number; exact_sum: string; floor_sum: string; line_count: number }[] = [];
  for (let i = 0; i < statementIds.length; i += 500) {
    rows.push(
      ...(await db('settlement_sums')
        .select('statement_id', 'period_days', exactIntegerText(db, 'exact_sum', 'exact_sum'), exactIntegerText(db, 'floor_sum', 'floor_sum'), 'line_count')
        .whereIn('statement_id', statementIds.slice(i, i + 500))),
    );
  }
  const out = new Map<number, StatementSumPart[]>();
  for (const r of rows) {
    let parts = out.get(r.statement_id);
    if (!parts) out.set(r.statement_id, (parts = []));
    parts.push({ statementId: r.statement_id, periodDays: r.period_days, exactSum: BigInt(r.exact_sum), floorSum: BigInt(r.floor_sum), lineCount: r.line_count });
  }
  return out;
}

/** Marks the run completed with its counts and totals (its partitions' sums go afterwards: dropStaleSums). */
/**
 * Marks the run completed with its totals, if `owner` still holds its lease (and it is running);
 * false, with nothing written, when another settle took it over.
 */
export async function completeRun(
  trx: Knex,
  runId: number,
  owner: string,
  values: { completedAt: string; statementCount: number; lineCount: number; totals: { currency: string; amountMinor: bigint }[] },
): Promise<boolean> {
  const changed = await trx('settlement_runs').where({ id: runId, status: 'running', lease_owner: owner }).update({
    status: 'completed',
    completed_at: values.completedAt,
    statement_count: values.statementCount,
    line_count: values.lineCount,
    lease_owner: null,
    lease_until: null,
  });
  if (changed !== 1) return false;
  if (values.totals.length) {
    await trx('settlement_run_totals').insert(values.totals.map((t) => ({ run_id: runId, currency: t.currency, amount_minor: t.amountMinor.toString() })));
  }
  return true;
}

/** Partitions of completed runs whose sums are still there: the sums are working data of a running run. */
export async function partitionsWithStaleSums(db: Knex, limit: number): Promise<number[]> {
  return (await queryPrepared<{ id: number }>(db, STALE_SUMS, [limit])).map((r) => r.id);
}
const STALE_SUMS = preparedSql(
  `SELECT p.id FROM settlement_partitions p JOIN settlement_runs r ON r.id = p.run_id
   WHERE r.status = 'completed' AND EXISTS (SELECT 1 FROM settlement_sums s WHERE s.partition_id = p.id) ORDER BY p.id LIMIT ?`,
);

export async function deleteSumsOfPartitions(trx: Knex, partitionIds: number[]): Promise<void> {
  await trx('settlement_sums').whereIn('partition_id', partitionIds).delete();
}
