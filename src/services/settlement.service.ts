import type { Knex } from 'knex';
import { lockRowsShared, lockSettlement, maxMinorUnits, refreshStatistics } from '../db';
import { currencyDigits } from '../domain/currency';
import { addDays, daysInclusive } from '../domain/dates';
import { Dec, toDec } from '../domain/decimal';
import { notFound, validationFailed } from '../domain/errors';
import { billableSegments, type ReferralTimeline } from '../domain/referral-timeline';
import { ShareSum, exactAmountText, shareOf, splitMinor, type Share } from '../domain/settlement-math';
import { findReferralsOfContracts } from '../repositories/referral.repository';
import {
  countCandidateLines,
  findRun,
  findStatementLines,
  findStatementsOfRun,
  finishRun,
  finishStatements,
  insertRun,
  insertSettledPairs,
  insertStatements,
  insertStatementLines,
  listRuns,
  loadLines,
  nextCandidateLineIds,
  roundUpLargestRemainders,
  settledReferralsOf,
  type CandidateLine,
  type StatementKey,
  type NewSettledPair,
  type NewStatementLine,
  type RunRecord,
  type StatementLineRecord,
  type StatementRecord,
} from '../repositories/settlement.repository';
import type { Actor, ServiceContext } from './context';
import { withUnitOfWork, type UnitOfWork } from './unit-of-work';

export interface RunRequest {
  through?: string | undefined;
  dryRun?: boolean | undefined;
}

export interface RunProgress {
  processedLines: number;
  totalLines: number;
}

export interface RunResult {
  run: RunRecord;
  dryRun: boolean;
  /**
   * A dry run's statements with their lines (it leaves nothing to read afterwards). Empty for a
   * committed run, whose statements are read per business unit: holding every line of a large run
   * in memory is what reading in batches avoids.
   */
  statements: { statement: StatementRecord; lines: StatementLineRecord[] }[];
}

/** The referral as the run sees it: who earns, for which owner, and when at which percentage. */
interface ReferralForRun {
  id: number;
  payerId: number;
  referrerId: number;
  timeline: ReferralTimeline;
}

interface OpenStatement {
  id: number;
  currency: string;
  digits: number;
  sum: ShareSum;
}

const BATCH_LINES = 500;

class DryRunRollback extends Error {
  constructor(readonly result: RunResult) {
    super('dry run: rolled back');
  }
}

/**
 * The settlement run of SPEC §6.3, in one transaction: all of it lands, or none of it does (a
 * killed process leaves nothing behind). Revenue lines are read in batches by id, so memory holds
 * one batch, the referrals of the contracts seen, and one running sum per statement.
 */
export class SettlementService {
  constructor(private readonly ctx: ServiceContext) {}

  resolveThrough(through: string | undefined): string {
    const today = this.ctx.calendar.today();
    const value = through ?? addDays(today, -1);
    if (value > today) {
      throw validationFailed([{ path: 'body.through', message: `must not be later than today (${today})` }]);
    }
    return value;
  }

  async run(request: RunRequest, actor: Actor, onProgress?: (p: RunProgress) => void): Promise<RunResult> {
    const through = this.resolveThrough(request.through);
    const dryRun = request.dryRun === true;
    try {
      return await withUnitOfWork(this.ctx, actor, async (uow) => {
        const result = await this.settle(uow, through, dryRun, onProgress);
        if (dryRun) throw new DryRunRollback({ ...result, dryRun: true });
        return result;
      });
    } catch (err) {
      if (err instanceof DryRunRollback) return err.result;
      throw err;
    }
  }

  private async settle(uow: UnitOfWork, through: string, dryRun: boolean, onProgress?: (p: RunProgress) => void): Promise<RunResult> {
    const { trx } = uow;
    await lockSettlement(trx);
    const createdAt = uow.nowIso;
    const runId = await insertRun(trx, { through, createdBy: uow.actor.name, createdAt });
    const totalLines = await countCandidateLines(trx, through);
    const referralsByContract = new Map<number, ReferralForRun[]>();
    const maxMinor = maxMinorUnits(trx);
    const statements = new Map<string, OpenStatement>();

    let processed = 0;
    let afterId = 0;
    let statementsAnalyzed = 32;
    for (;;) {
      const batch = await nextCandidateLineIds(trx, through, afterId, BATCH_LINES);
      if (batch.length === 0) break;
      afterId = batch[batch.length - 1]!.id;
      // Hold the contracts (PostgreSQL) so referral changes and line deletions wait for the run,
      // then read the lines again: a line deleted just before the lock is simply not settled.
      await lockRowsShared(trx, 'contracts', batch.map((b) => b.contractId));
      const lines = await loadLines(trx, batch.map((b) => b.id));
      const settled = await settledReferralsOf(trx, lines.map((l) => l.id));
      await this.loadReferrals(trx, lines.map((l) => l.contractId), referralsByContract);

      const newPairs: NewSettledPair[] = [];
      const billable: { line: CandidateLine; referralId: number; key: string; pair: PairShare }[] = [];
      const opening = new Map<string, StatementKey>();
      for (const line of lines) {
        for (const referral of referralsByContract.get(line.contractId)!) {
          if (settled.get(line.id)?.has(referral.id)) continue;
          const pair = computePair(line, referral);
          newPairs.push({ revenueLineId: line.id, referralId: referral.id, runId, lastBillableDate: pair?.lastDay ?? null });
          if (!pair) continue;
          const statementKey = { payerId: referral.payerId, referrerId: referral.referrerId, currency: line.currency };
          const key = keyOf(statementKey);
          if (!statements.has(key)) opening.set(key, statementKey);
          billable.push({ line, referralId: referral.id, key, pair });
        }
      }
      // The statements this batch opens, in one go (in the order of their first line).
      const keys = [...opening.values()];
      const ids = await insertStatements(trx, runId, createdAt, keys);
      keys.forEach((k, i) => {
        statements.set(keyOf(k), { id: ids[i]!, currency: k.currency, digits: currencyDigits(k.currency), sum: new ShareSum() });
      });
      // Each statement line's foreign key is checked against statements with a plan PostgreSQL
      // made for the size the table had then: each time the run has doubled it, refresh its
      // statistics, so that the checks do not scan a table planned as empty.
      if (statements.size >= 2 * statementsAnalyzed) {
        await refreshStatistics(trx, ['statements']);
        statementsAnalyzed = statements.size;
      }

      const newLines: NewStatementLine[] = billable.map(({ line, referralId, key, pair }) => {
        const statement = statements.get(key)!;
        const split = splitMinor(pair.share, statement.digits);
        assertStorable(split.floor, maxMinor);
        statement.sum.add(pair.share, split.floor);
        return {
          statementId: statement.id,
          revenueLineId: line.id,
          referralId,
          contractId: line.contractId,
          periodStart: line.periodStart,
          periodEnd: line.periodEnd,
          periodDays: pair.periodDays,
          billableDays: pair.billableDays,
          revenueAmount: line.amount,
          exactAmount: exactAmountText(pair.share),
          floorMinor: split.floor,
          remainderKey: split.remainderKey,
        };
      });
      await insertStatementLines(trx, newLines);
      await insertSettledPairs(trx, newPairs);
      processed += batch.length;
      onProgress?.({ processedLines: processed, totalLines });
      // better-sqlite3 answers synchronously, so without this the promise chain of a long run
      // would never let the event loop serve other requests (or a SIGTERM) until it ends.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    // Round once per statement: the lines add up to the total, the total is the exact sum rounded.
    const totals = new Map<string, bigint>();
    let lineCount = 0;
    const finished = [];
    // The rounding reads statement_lines by statement: planned for the table the run has filled.
    await refreshStatistics(trx, ['statement_lines']);
    for (const statement of statements.values()) {
      const total = statement.sum.totalMinor(statement.digits);
      assertStorable(total, maxMinor);
      await roundUpLargestRemainders(trx, statement.id, Number(total - statement.sum.floorSum));
      finished.push({ id: statement.id, totalMinor: total, lineCount: statement.sum.count });
      totals.set(statement.currency, (totals.get(statement.currency) ?? 0n) + total);
      lineCount += statement.sum.count;
    }
    await finishStatements(trx, finished);
    await finishRun(trx, runId, {
      statementCount: statements.size,
      lineCount,
      totals: [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, amountMinor]) => ({ currency, amountMinor })),
    });

    uow.record({
      entity: 'settlement-run',
      id: runId,
      action: 'create',
      changes: [
        { field: 'through', from: null, to: through },
        { field: 'statementCount', from: null, to: statements.size },
        { field: 'lineCount', from: null, to: lineCount },
      ],
    });
    const run = (await findRun(trx, runId))!;
    const withLines = [];
    if (dryRun) {
      for (const statement of await findStatementsOfRun(trx, runId)) {
        withLines.push({ statement, lines: await findStatementLines(trx, statement.id) });
      }
    }
    return { run, dryRun: false, statements: withLines };
  }

  /** Reads the referrals of the contracts not seen yet, all in one go, into the run's cache. */
  private async loadReferrals(trx: Knex.Transaction, contractIds: number[], cache: Map<number, ReferralForRun[]>): Promise<void> {
    const missing = [...new Set(contractIds)].filter((id) => !cache.has(id));
    if (missing.length === 0) return;
    for (const [contractId, referrals] of await findReferralsOfContracts(trx, missing)) {
      cache.set(
        contractId,
        referrals.map((r) => ({
          id: r.id,
          payerId: r.contractBunitId,
          referrerId: r.referrerId,
          timeline: {
            billingStartDate: r.billingStartDate,
            billingEndDate: r.billingEndDate,
            archiveDay: r.archivedAt === null ? null : this.ctx.calendar.dayOf(r.archivedAt),
            history: r.history,
          },
        })),
      );
    }
  }

  async getRun(id: number): Promise<RunRecord> {
    const run = await findRun(this.ctx.db, id);
    if (!run) throw notFound(`Settlement run ${id} does not exist.`);
    return run;
  }

  listRuns(query: { sort: { field: 'id' | 'through' | 'createdDate'; descending: boolean }; limit: number; offset: number }) {
    return listRuns(this.ctx.db, query.sort, query);
  }
}

/** An amount the database cannot hold exactly stops the run (nothing is written) rather than rounding. */
function assertStorable(minor: bigint, max: bigint): void {
  if (minor > max || minor < -max) {
    throw new Error(`a settlement amount of ${minor} minor units exceeds what the database holds exactly (${max}); nothing was settled`);
  }
}

/** A run has one statement per payer, referrer and currency. */
const keyOf = (k: StatementKey) => `${k.payerId}/${k.referrerId}/${k.currency}`;

/** What a referral earns on a revenue line. */
interface PairShare {
  share: Share;
  periodDays: number;
  billableDays: number;
  /** The last billable day, which R9 protects. */
  lastDay: string;
}

/** exact(L, F) of SPEC §6.3, or null when F is billable on no day of L's period. */
function computePair(line: CandidateLine, referral: ReferralForRun): PairShare | null {
  const segments = billableSegments(referral.timeline, { from: line.periodStart, to: line.periodEnd });
  if (segments.length === 0) return null;
  let percentDays = new Dec(0);
  let billableDays = 0;
  for (const s of segments) {
    const days = daysInclusive(s.from, s.to!);
    percentDays = percentDays.plus(s.percentage.times(days));
    billableDays += days;
  }
  const periodDays = daysInclusive(line.periodStart, line.periodEnd);
  return {
    share: shareOf(toDec(line.amount), percentDays, periodDays),
    periodDays,
    billableDays,
    lastDay: segments[segments.length - 1]!.to!,
  };
}


