import type { Knex } from 'knex';
import {
  Heartbeat,
  independently,
  newClaimOwner,
  renewEveryMs,
  isDatabaseUnavailable,
  lockRangeShared,
  refreshStatistics,
  sleep,
  transaction,
  yieldToWaitingWriters,
} from '../../db';
import { currencyDigits } from '../../domain/currency';
import { periodOf } from '../../domain/statement-lifecycle';
import { recordSettlementRun } from '../../metrics';
import { conflict } from '../../domain/errors';
import { ShareSum, splitMinor } from '../../domain/settlement-math';
import { insertSettledPairs, markAdjusted, updateLastBillableDates } from '../../repositories/settlement.repository';
import {
  claimPartition,
  completeRun,
  deleteSumsOfPartitions,
  countPendingPartitions,
  failPartition,
  findRun,
  finishPartition,
  insertSums,
  partitionsWithStaleSums,
  linesOfRun,
  releaseRunLease,
  renewRunLease,
  sumsOfStatements,
  type PartitionRecord,
  type RunRecord,
} from '../../repositories/settlement-run.repository';
import {
  deleteEmptyStatement,
  finalizeStatements,
  insertStatementLines,
  lockUnfinalizedStatements,
  openStatements,
  roundUpBoundaries,
  statementKeyOf,
  statementTotalsOfRun,
  findStatements,
  unfinalizedStatements,
  type NewStatementLine,
  type StatementKey,
} from '../../repositories/statement.repository';
import type { Actor, ServiceContext } from '../context';
import { runEventsBatch, settlementRunCompletedEvent, stageEventDrafts, statementCreatedEvent } from '../event.service';
import { withUnitOfWork } from '../unit-of-work';
import { DEFAULT_PARTITION_LINES, computePartition } from './partition-work';
import { leaseSecondsOf } from './lease';

export interface RunProgress {
  partitionsDone: number;
  partitionsTotal: number;
}

export interface ExecutionOptions {
  /** Workers of this process claiming partitions (default 1). */
  workers?: number | undefined;
  onProgress?: (progress: RunProgress) => void;
  /** Finalize's progress: statements rounded of those to round. */
  onFinalizing?: (done: number, total: number) => void;
  /** Called with every renewal of the run's lease while it works (an API request renews its idempotency lease). */
  heartbeat?: () => Promise<unknown>;
  /** How often the lease is renewed (default every third of the lease: 10 s of 30 s). */
  renewEveryMs?: number;
}

class LeaseLost extends Error {
  constructor(runId: number) {
    super(`Another settle took settlement run ${runId} over.`);
  }
}

/** A partition that failed this often with an unexpected error is left out of the run (its pairs stay unsettled). */
const ATTEMPTS_PER_PARTITION = 2;
/** Statements finalize rounds in one transaction, at most: 1000, or about ten partitions' lines. */
const FINALIZE_BATCH_STATEMENTS = 1000;

/**
 * Works on one run (SPEC §6.5): partitions, each claimed and committed in a short transaction of
 * its own by one of several workers (in this process, or in others that joined), then a short
 * finalize that rounds each statement and marks the run completed. Every step can run twice
 * without effect, so a run killed at any point is resumed by the next settle and gives the same
 * lines as a run that was never interrupted.
 */
export class RunExecutor {
  /** Statement ids of the run by key, as committed. */
  private readonly statementIds = new Map<string, number>();
  private readonly attempts = new Map<number, number>();
  private lost = false;
  /** Who claims partitions: this executor's workers. */
  private readonly worker = newClaimOwner();
  /** Statements this executor opened, and how many there were when their table was last analyzed. */
  private opened = 0;
  private analyzedAt = 16;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly run: RunRecord,
    private readonly options: ExecutionOptions = {},
  ) {}

  private get db() {
    return this.ctx.db;
  }

  /** Settles partitions until none is left to claim; for a worker that joined another's run, that is all. */
  async settlePartitions(): Promise<number> {
    let settled = 0;
    for (;;) {
      if (this.lost) throw new LeaseLost(this.run.id);
      const partition = await this.settleNextPartition();
      if (partition === null) return settled;
      settled += 1;
      await this.reportProgress();
      await yieldToWaitingWriters(this.db.client);
    }
  }

  /**
   * Runs the whole run to completion under the lease `owner` holds: partitions with N workers,
   * waiting for partitions other processes are working on, then finalize.
   */
  async execute(owner: string, actor: Actor): Promise<RunRecord> {
    const leaseSeconds = leaseSecondsOf(this.ctx);
    const beat = new Heartbeat(
      () => this.renew(owner, leaseSeconds),
      this.options.renewEveryMs ?? renewEveryMs(leaseSeconds),
      // The database is away for a moment: the lease is renewed at the next turn, or expires.
      (err) => this.ctx.logger?.warn({ err, runId: this.run.id }, 'settlement run lease not renewed'),
    );
    let completed = false;
    try {
      const workers = Math.max(1, this.options.workers ?? 1);
      await Promise.all(Array.from({ length: workers }, () => this.settlePartitions()));
      // Partitions other processes hold: wait for them, and take over any whose worker died.
      while ((await countPendingPartitions(this.db, this.run.id)) > 0) {
        if (this.lost) throw new LeaseLost(this.run.id);
        await sleep(200);
        await this.settlePartitions();
      }
      await this.finalize(owner, actor);
      completed = true;
      await dropStaleSums(this.db);
      return (await findRun(this.db, this.run.id))!;
    } catch (err) {
      if (err instanceof LeaseLost) throw conflict('run-in-progress', err.message);
      throw err;
    } finally {
      await beat.stop();
      // Stopped before the end by an error (not by losing the lease): handed back, so that the next settle resumes at once.
      if (!completed && !this.lost) await releaseRunLease(this.db, this.run.id, owner).catch(() => undefined);
    }
  }

  private async countUnfinalized(): Promise<number> {
    const [row] = await this.db('statements').where({ run_id: this.run.id, finalized: false }).count({ n: '*' });
    return Number((row as { n: number | string }).n);
  }

  private async renew(owner: string, leaseSeconds: number): Promise<boolean> {
    const held = await renewRunLease(this.db, this.run.id, owner, leaseSeconds);
    if (!held) this.lost = true;
    await this.options.heartbeat?.();
    return held;
  }

  private async reportProgress(): Promise<void> {
    if (!this.options.onProgress) return;
    const pending = await countPendingPartitions(this.db, this.run.id);
    this.options.onProgress({ partitionsDone: this.run.partitionsTotal - pending, partitionsTotal: this.run.partitionsTotal });
  }

  /**
   * Claims and settles the next partition in one transaction; null when there is none to claim.
   * A partition that fails with an unexpected error is tried again; after the second failure it
   * is marked failed and the run goes on without it: no single line stops the run for everybody.
   * A database that is away stops the run (it is resumed later) instead.
   */
  private async settleNextPartition(): Promise<PartitionRecord | null> {
    let claimed: PartitionRecord | undefined;
    try {
      // Not durable on its own: a partition lost to a power cut is settled again by the resumed
      // run, and finalize, which makes the run visible, commits durably after every partition.
      const result = await transaction(
        this.db,
        async (trx) => {
          const partition = await claimPartition(trx, this.run.id, this.worker, leaseSecondsOf(this.ctx));
          if (!partition) return null;
          claimed = partition;
          const opened = await this.settlePartition(trx, partition);
          return { partition, opened };
        },
        { durable: false },
      );
      if (!result) return null;
      // Known statements are remembered, within a bound: one forgotten is found again in the database.
      if (this.statementIds.size > 100_000) this.statementIds.clear();
      for (const [key, id] of result.opened) this.statementIds.set(key, id);
      this.opened += result.opened.size;
      if (this.opened >= 2 * this.analyzedAt) {
        // Each time the run has doubled its statements, fresh statistics: the ledger's look-ups
        // (statements by key, settled pairs, SQLite's foreign keys) are otherwise planned for the
        // size the tables had before the run.
        this.analyzedAt = this.opened;
        await refreshStatistics(this.db, ['statements', 'statement_lines', 'settled_pairs']);
      }
      return result.partition;
    } catch (err) {
      if (!claimed || isDatabaseUnavailable(err) || err instanceof LeaseLost) throw err;
      const attempts = (this.attempts.get(claimed.id) ?? 0) + 1;
      this.attempts.set(claimed.id, attempts);
      this.ctx.logger?.error({ err, runId: this.run.id, partition: claimed.seq, attempts }, 'settlement partition failed');
      if (attempts >= ATTEMPTS_PER_PARTITION) {
        await failPartition(this.db, claimed.id, err instanceof Error ? err.message : String(err));
      }
      return claimed;
    }
  }

  private async settlePartition(trx: Knex.Transaction, partition: PartitionRecord): Promise<Map<string, number>> {
    const { run } = this;
    // Changes to these contracts (referrals, revenue) wait for this transaction, and no more.
    await lockRangeShared(trx, 'contracts', partition.first, partition.last);
    const sums = new Map<number, ShareSum>();
    const opened = new Map<string, number>();
    let lineCount = 0;
    let adjustments = 0;
    for await (const batch of computePartition(trx, partition, run.through, (at) => this.ctx.calendar.dayOf(at))) {
      await this.open(trx, batch.lines.map((s) => s.key), opened);
      const lines: NewStatementLine[] = batch.lines.map((s) => {
        const statementId = this.idOf(s.key, opened);
        const share = { num: s.exactNum, periodDays: s.periodDays };
        const split = splitMinor(share, currencyDigits(s.key.currency));
        let sum = sums.get(statementId);
        if (!sum) sums.set(statementId, (sum = new ShareSum()));
        sum.add(share, split.floor);
        return {
          runId: run.id,
          statementId,
          kind: s.kind,
          revenueLineId: s.line.id,
          referralId: s.referralId,
          contractId: s.line.contractId,
          periodStart: s.line.periodStart,
          periodEnd: s.line.periodEnd,
          periodDays: s.periodDays,
          billableDays: s.billableDays,
          revenueAmount: s.line.amount,
          exactNum: s.exactNum,
          floorMinor: split.floor,
          remainderKey: split.remainderKey,
          adjusts: s.adjusts,
        };
      });
      // The pairs first: a line refers to its pair's settled record.
      await insertSettledPairs(trx, batch.settled.map((p) => ({ ...p, runId: run.id })));
      await insertStatementLines(trx, lines);
      await updateLastBillableDates(trx, batch.lastDays);
      await markAdjusted(trx, batch.adjusted);
      lineCount += lines.length;
      adjustments += lines.reduce((n, l) => n + (l.kind === 'adjustment' ? 1 : 0), 0);
    }
    await insertSums(
      trx,
      partition.id,
      [...sums].flatMap(([statementId, sum]) =>
        sum.parts().map((p) => ({ statementId, periodDays: p.periodDays, exactSum: p.num, floorSum: p.floor, lineCount: p.count })),
      ),
    );
    await finishPartition(trx, partition.id, { total: lineCount, adjustments });
    return opened;
  }

  /**
   * Opens the statements of these keys that are not known yet (remembered once committed, in
   * `opened` until then), each committed at once: another worker may need it before this
   * partition commits.
   */
  private async open(trx: Knex.Transaction, keys: StatementKey[], opened: Map<string, number>): Promise<void> {
    const missing = new Map<string, StatementKey>();
    for (const k of keys) {
      const key = statementKeyOf(k);
      if (!this.statementIds.has(key) && !opened.has(key)) missing.set(key, k);
    }
    if (missing.size === 0) return;
    const ids = await independently(trx, this.db, (writer) => openStatements(writer, { id: this.run.id, createdAt: this.run.createdAt, period: periodOf(this.run.through) }, [...missing.values()]));
    for (const [key, id] of ids) opened.set(key, id);
  }

  private idOf(key: StatementKey, opened: Map<string, number>): number {
    const k = statementKeyOf(key);
    return this.statementIds.get(k) ?? opened.get(k)!;
  }

  /**
   * Rounds every statement once (SPEC §6.3): total = the exact sum rounded half to even, from
   * the partitions' parts; the lines with the largest remainders get one more minor unit. In
   * batches of short transactions; a statement rounded already is left alone, so a finalize
   * that was killed half-way is finished by the next one. Then the run is completed, if `owner`
   * still holds its lease: a settle that lost it meanwhile leaves the run to the one that took over.
   */
  private async finalize(owner: string, actor: Actor): Promise<void> {
    const { db, run } = this;
    const batchLines = 10 * (this.ctx.partitionLines ?? DEFAULT_PARTITION_LINES);
    let done = 0;
    const total = await this.countUnfinalized();
    this.options.onFinalizing?.(0, total);
    for (let after = 0; ; ) {
      if (this.lost) throw new LeaseLost(run.id);
      const page = await unfinalizedStatements(db, run.id, after, FINALIZE_BATCH_STATEMENTS);
      if (page.length === 0) break;
      const sums = await sumsOfStatements(db, page.map((s) => s.id));
      // A batch: statements up to about ten partitions' lines (at least one statement).
      const batch: typeof page = [];
      let lines = 0;
      for (const s of page) {
        const n = (sums.get(s.id) ?? []).reduce((sum, p) => sum + p.lineCount, 0);
        if (batch.length > 0 && lines + n > batchLines) break;
        batch.push(s);
        lines += n;
      }
      after = batch[batch.length - 1]!.id;
      // Not durable on its own: the completion below commits durably after it, and a lost batch
      // is rounded again by the resumed run (a statement rounded already is left alone).
      await transaction(
        db,
        async (trx) => {
          const rounded: { statementId: number; k: number; total: bigint; count: number }[] = [];
          const open = await lockUnfinalizedStatements(trx, batch.map((s) => s.id));
          for (const s of batch) {
            if (!open.has(s.id)) continue;
            const parts = sums.get(s.id);
            if (!parts) {
              await deleteEmptyStatement(trx, s.id);
              continue;
            }
            const sum = new ShareSum();
            for (const p of parts) sum.addPart(p.periodDays, p.exactSum, p.floorSum, p.lineCount);
            const total = sum.totalMinor(currencyDigits(s.currency));
            rounded.push({ statementId: s.id, k: Number(total - sum.floorSum), total, count: sum.count });
          }
          const boundaries = await roundUpBoundaries(trx, rounded);
          await finalizeStatements(
            trx,
            rounded.map((r) => ({ id: r.statementId, totalMinor: r.total, lineCount: r.count, roundUpThrough: boundaries.get(r.statementId) ?? null })),
          );
          // Their statement.created events, as the statements now are, published when the run completes (SPEC §13).
          const finalized = await findStatements(trx, rounded.map((r) => r.statementId));
          await stageEventDrafts(trx, runEventsBatch(run.id), finalized.map(statementCreatedEvent));
        },
        { durable: false },
      );
      done += batch.length;
      this.options.onFinalizing?.(Math.min(done, total), total);
      await yieldToWaitingWriters(db.client);
    }
    // Read before the completion's transaction, to keep it short: the run's statements are all
    // rounded, and nothing but this run (its lease) changes them until it completes.
    const statements = await statementTotalsOfRun(db, run.id);
    const lines = await linesOfRun(db, run.id);
    const completed = await withUnitOfWork(this.ctx, actor, async (uow) => {
      const totals = new Map<string, bigint>();
      for (const s of statements) totals.set(s.currency, (totals.get(s.currency) ?? 0n) + s.totalMinor);
      const lineCount = statements.reduce((n, s) => n + s.lineCount, 0);
      const held = await completeRun(uow.trx, run.id, owner, {
        completedAt: uow.nowIso,
        statementCount: statements.length,
        lineCount,
        totals: [...totals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, amountMinor]) => ({ currency, amountMinor })),
      });
      if (!held) {
        // Taken over since the last renewal (the heartbeat had not seen it yet): nothing is written.
        this.lost = true;
        throw new LeaseLost(run.id);
      }
      // The statements become visible with this commit, and so do their events (SPEC §13), then the run's.
      uow.record({
        entity: 'settlement-run',
        id: run.id,
        action: 'complete',
        publishesStaged: runEventsBatch(run.id),
        events: [settlementRunCompletedEvent(run.id)],
        changes: [
          { field: 'status', from: 'running', to: 'completed' },
          { field: 'statementCount', from: null, to: statements.length },
          { field: 'lineCount', from: null, to: lineCount },
        ],
      });
      return uow.nowIso;
    });
    // Metrics (SPEC §14), once committed.
    recordSettlementRun(run.startedAt, completed, lines);
  }
}

/**
 * Deletes the partitions' sums of completed runs (this one's, and any a cleanup cut short left),
 * a few partitions a transaction: after the completion, not in it, so that it stays short.
 */
async function dropStaleSums(db: Knex): Promise<void> {
  for (;;) {
    const partitions = await partitionsWithStaleSums(db, 20);
    if (partitions.length === 0) return;
    await transaction(db, (trx) => deleteSumsOfPartitions(trx, partitions), { durable: false });
    await yieldToWaitingWriters(db.client);
  }
}
