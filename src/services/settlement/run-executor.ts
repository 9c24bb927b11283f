import type { Knex } from 'knex';
import {
  independentWriter,
  isDatabaseUnavailable,
  lockRangeShared,
  sleep,
  transaction,
  yieldToWaitingWriters,
} from '../../db';
import { currencyDigits } from '../../domain/currency';
import { recordSettlementRun } from '../../metrics';
import { conflict } from '../../domain/errors';
import { ShareSum, splitMinor } from '../../domain/settlement-math';
import { insertSettledPairs } from '../../repositories/settlement.repository';
import {
  claimPartition,
  completeRun,
  countPendingPartitions,
  failPartition,
  findRun,
  finishPartition,
  insertSums,
  renewLease,
  sumsOfRun,
  type PartitionRecord,
  type RunRecord,
} from '../../repositories/settlement-run.repository';
import {
  deleteEmptyStatement,
  finalizeStatement,
  insertStatementLines,
  lockUnfinalizedStatement,
  openStatements,
  roundUpLargestRemainders,
  statementKeyOf,
  statementTotalsOfRun,
  unfinalizedStatements,
  type NewStatementLine,
  type StatementKey,
} from '../../repositories/statement.repository';
import type { Actor, ServiceContext } from '../context';
import { withUnitOfWork } from '../unit-of-work';
import { DEFAULT_PARTITION_LINES, computePartition } from './partition-work';
import { LEASE_MS, RENEW_EVERY_MS, leaseOwnerGone } from './lease';

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
  /** How often the lease is renewed (default every 5 s of a 30 s lease). */
  renewEveryMs?: number;
}

class LeaseLost extends Error {
  constructor(runId: number) {
    super(`Another settle took settlement run ${runId} over.`);
  }
}

/** A partition that failed this often with an unexpected error is left out of the run (its pairs stay unsettled). */
const ATTEMPTS_PER_PARTITION = 2;
/** Statements finalize rounds in one transaction, at most: 200, or about ten partitions' lines. */
const FINALIZE_BATCH_STATEMENTS = 200;

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
    const renewal = setInterval(() => void this.renew(owner), this.options.renewEveryMs ?? RENEW_EVERY_MS);
    try {
      const workers = Math.max(1, this.options.workers ?? 1);
      await Promise.all(Array.from({ length: workers }, () => this.settlePartitions()));
      // Partitions other processes hold: wait for them, and take over any whose worker died.
      while ((await countPendingPartitions(this.db, this.run.id)) > 0) {
        if (this.lost) throw new LeaseLost(this.run.id);
        await sleep(200);
        await this.settlePartitions();
      }
      await this.finalize(actor);
      return (await findRun(this.db, this.run.id))!;
    } catch (err) {
      if (err instanceof LeaseLost) throw conflict('run-in-progress', err.message);
      throw err;
    } finally {
      clearInterval(renewal);
      leaseOwnerGone(owner);
    }
  }

  private async renew(owner: string): Promise<void> {
    try {
      const held = await renewLease(this.db, this.run.id, owner, new Date(Date.now() + LEASE_MS).toISOString());
      if (!held) this.lost = true;
      await this.options.heartbeat?.();
    } catch (err) {
      // The database is away for a moment: the lease is renewed at the next turn, or expires.
      this.ctx.logger?.warn({ err, runId: this.run.id }, 'settlement run lease not renewed');
    }
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
      const result = await transaction(this.db, async (trx) => {
        const partition = await claimPartition(trx, this.run.id);
        if (!partition) return null;
        claimed = partition;
        const opened = await this.settlePartition(trx, partition);
        return { partition, opened };
      });
      if (!result) return null;
      for (const [key, id] of result.opened) this.statementIds.set(key, id);
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
    for await (const batch of computePartition(trx, partition, run.through, (at) => this.ctx.calendar.dayOf(at))) {
      const ids = await this.idsOf(independentWriter(trx, this.db), batch.shares.map((s) => s.key), opened);
      const lines: NewStatementLine[] = batch.shares.map((s) => {
        const statementId = ids.get(statementKeyOf(s.key))!;
        const split = splitMinor(s.pair.share, currencyDigits(s.key.currency));
        let sum = sums.get(statementId);
        if (!sum) sums.set(statementId, (sum = new ShareSum()));
        sum.add(s.pair.share, split.floor);
        return {
          runId: run.id,
          statementId,
          kind: 'share',
          revenueLineId: s.line.id,
          referralId: s.referralId,
          contractId: s.line.contractId,
          periodStart: s.line.periodStart,
          periodEnd: s.line.periodEnd,
          periodDays: s.pair.periodDays,
          billableDays: s.pair.billableDays,
          revenueAmount: s.line.amount,
          exactNum: s.pair.share.num,
          floorMinor: split.floor,
          remainderKey: split.remainderKey,
          adjusts: null,
        };
      });
      await insertStatementLines(trx, lines);
      await insertSettledPairs(trx, batch.settled.map((p) => ({ ...p, runId: run.id })));
      lineCount += lines.length;
    }
    await insertSums(
      trx,
      partition.id,
      [...sums].flatMap(([statementId, sum]) =>
        sum.parts().map((p) => ({ statementId, periodDays: p.periodDays, exactSum: p.num, floorSum: p.floor, lineCount: p.count })),
      ),
    );
    await finishPartition(trx, partition.id, lineCount);
    return opened;
  }

  /** The statement ids for these keys: known ones, else opened now (and remembered once committed). */
  private async idsOf(writer: Knex, keys: StatementKey[], opened: Map<string, number>): Promise<Map<string, number>> {
    const missing = new Map<string, StatementKey>();
    for (const k of keys) {
      const key = statementKeyOf(k);
      if (!this.statementIds.has(key) && !opened.has(key)) missing.set(key, k);
    }
    if (missing.size > 0) {
      for (const [key, id] of await openStatements(writer, this.run.id, this.run.createdAt, [...missing.values()])) opened.set(key, id);
    }
    return new Map([...this.statementIds, ...opened]);
  }

  /**
   * Rounds every statement once (SPEC §6.3): total = the exact sum rounded half to even, from
   * the partitions' parts; the lines with the largest remainders get one more minor unit. In
   * batches of short transactions; a statement rounded already is left alone, so a finalize
   * that was killed half-way is finished by the next one. Then the run is completed.
   */
  private async finalize(actor: Actor): Promise<void> {
    const { db, run } = this;
    const sums = await sumsOfRun(db, run.id);
    const pending = await unfinalizedStatements(db, run.id);
    const batchLines = 10 * (this.ctx.partitionLines ?? DEFAULT_PARTITION_LINES);
    this.options.onFinalizing?.(0, pending.length);
    for (let i = 0; i < pending.length; ) {
      if (this.lost) throw new LeaseLost(run.id);
      const batch: { id: number; currency: string }[] = [];
      let lines = 0;
      while (i < pending.length && batch.length < FINALIZE_BATCH_STATEMENTS && (batch.length === 0 || lines < batchLines)) {
        const s = pending[i++]!;
        batch.push(s);
        lines += (sums.get(s.id) ?? []).reduce((n, p) => n + p.lineCount, 0);
      }
      await transaction(db, async (trx) => {
        for (const s of batch) {
          if (!(await lockUnfinalizedStatement(trx, s.id))) continue;
          const parts = sums.get(s.id);
          if (!parts) {
            await deleteEmptyStatement(trx, s.id);
            continue;
          }
          const sum = new ShareSum();
          for (const p of parts) sum.addPart(p.periodDays, p.exactSum, p.floorSum, p.lineCount);
          const total = sum.totalMinor(currencyDigits(s.currency));
          await roundUpLargestRemainders(trx, s.id, Number(total - sum.floorSum));
          await finalizeStatement(trx, s.id, total, sum.count);
        }
      });
      this.options.onFinalizing?.(i, pending.length);
      await yieldToWaitingWriters(db.client);
    }
    const completed = await withUnitOfWork(this.ctx, actor, async (uow) => {
      const statements = await statementTotalsOfRun(uow.trx, run.id);
      const totals = new Map<string, bigint>();
      for (const s of statements) totals.set(s.currency, (totals.get(s.currency) ?? 0n) + s.totalMinor);
      const lineCount = statements.reduce((n, s) => n + s.lineCount, 0);
      await completeRun(uow.trx, run.id, {
        completedAt: uow.nowIso,
        statementCount: statements.length,
        lineCount,
        totals: [...totals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, amountMinor]) => ({ currency, amountMinor })),
      });
      uow.record({
        entity: 'settlement-run',
        id: run.id,
        action: 'complete',
        changes: [
          { field: 'status', from: 'running', to: 'completed' },
          { field: 'statementCount', from: null, to: statements.length },
          { field: 'lineCount', from: null, to: lineCount },
        ],
      });
      return { at: uow.nowIso, lineCount };
    });
    // Metrics (SPEC §14), once committed. Every line a run writes is a share line so far.
    recordSettlementRun(run.startedAt, completed.at, { share: completed.lineCount });
  }
}
