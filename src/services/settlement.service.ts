import type { Knex } from 'knex';
import { lockRowsShared, lockSettlement, maxMinorUnits } from '../db';
import { currencyDigits } from '../domain/currency';
import { addDays, daysInclusive } from '../domain/dates';
import { Dec, toDec } from '../domain/decimal';
import { notFound, validationFailed } from '../domain/errors';
import { billableSegments, type ReferralTimeline } from '../domain/referral-timeline';
import { ShareSum, exactAmountText, shareOf, splitMinor } from '../domain/settlement-math';
import { findReferralsOfContract } from '../repositories/referral.repository';
import {
  countCandidateLines,
  findRun,
  findStatementLines,
  findStatementsOfRun,
  finishRun,
  finishStatement,
  insertRun,
  insertSettledPairs,
  insertStatement,
  insertStatementLines,
  listRuns,
  loadLines,
  nextCandidateLineIds,
  roundUpLargestRemainders,
  settledReferralsOf,
  type CandidateLine,
  type NewSettledPair,
  type NewStatementLine,
  type RunRecord,
  type StatementLineRecord,
  type StatementRecord,
} from '../repositories/settlement.repository';
import { insertAuditEvents } from '../repositories/audit.repository';
import { auditEvent, type AuditActor } from './audit';
import type { ServiceContext } from './context';

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
  /** Every statement of the run with its lines (returned for dry runs and the command's summary). */
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

  async run(request: RunRequest, actor: AuditActor, onProgress?: (p: RunProgress) => void): Promise<RunResult> {
    const through = this.resolveThrough(request.through);
    const dryRun = request.dryRun === true;
    try {
      return await this.ctx.db.transaction(async (trx) => {
        const result = await this.settle(trx, through, actor, onProgress);
        if (dryRun) throw new DryRunRollback({ ...result, dryRun: true });
        return result;
      });
    } catch (err) {
      if (err instanceof DryRunRollback) return err.result;
      throw err;
    }
  }

  private async settle(
    trx: Knex.Transaction,
    through: string,
    actor: AuditActor,
    onProgress?: (p: RunProgress) => void,
  ): Promise<RunResult> {
    const { calendar } = this.ctx;
    await lockSettlement(trx);
    const createdAt = calendar.nowIso();
    // On SQLite this first write takes the database write lock: a concurrent run waits here.
    const runId = await insertRun(trx, { through, createdBy: actor.name, createdAt });
    const totalLines = await countCandidateLines(trx, through);
    const referralsByContract = new Map<number, ReferralForRun[]>();
    const maxMinor = maxMinorUnits(trx);
    const statements = new Map<string, OpenStatement>();

    const statementFor = async (payerId: number, referrerId: number, currency: string): Promise<OpenStatement> => {
      const key = `${payerId}/${referrerId}/${currency}`;
      let open = statements.get(key);
      if (!open) {
        const id = await insertStatement(trx, { runId, payerId, referrerId, currency, createdAt });
        open = { id, currency, digits: currencyDigits(currency), sum: new ShareSum() };
        statements.set(key, open);
      }
      return open;
    };

    let processed = 0;
    let afterId = 0;
    for (;;) {
      const batch = await nextCandidateLineIds(trx, through, afterId, BATCH_LINES);
      if (batch.length === 0) break;
      afterId = batch[batch.length - 1]!.id;
      // Hold the contracts (PostgreSQL) so referral changes and line deletions wait for the run,
      // then read the lines again: a line deleted just before the lock is simply not settled.
      await lockRowsShared(trx, 'contracts', batch.map((b) => b.contractId));
      const lines = await loadLines(trx, batch.map((b) => b.id));
      const settled = await settledReferralsOf(trx, lines.map((l) => l.id));

      const newLines: NewStatementLine[] = [];
      const newPairs: NewSettledPair[] = [];
      for (const line of lines) {
        const referrals = await this.referralsOf(trx, line.contractId, referralsByContract);
        for (const referral of referrals) {
          if (settled.get(line.id)?.has(referral.id)) continue;
          const computed = computePair(line, referral);
          newPairs.push({ revenueLineId: line.id, referralId: referral.id, runId, lastBillableDate: computed?.lastDay ?? null });
          if (!computed) continue;
          const statement = await statementFor(referral.payerId, referral.referrerId, line.currency);
          const split = splitMinor(computed.share, statement.digits);
          assertStorable(split.floor, maxMinor);
          statement.sum.add(computed.share, split.floor);
          newLines.push({
            statementId: statement.id,
            revenueLineId: line.id,
            referralId: referral.id,
            contractId: line.contractId,
            periodStart: line.periodStart,
            periodEnd: line.periodEnd,
            periodDays: computed.periodDays,
            billableDays: computed.billableDays,
            revenueAmount: line.amount,
            exactAmount: exactAmountText(computed.share),
            floorMinor: split.floor,
            remainderKey: split.remainderKey,
          });
        }
      }
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
    for (const statement of statements.values()) {
      const total = statement.sum.totalMinor(statement.digits);
      assertStorable(total, maxMinor);
      await roundUpLargestRemainders(trx, statement.id, Number(total - statement.sum.floorSum));
      await finishStatement(trx, statement.id, total, statement.sum.count);
      totals.set(statement.currency, (totals.get(statement.currency) ?? 0n) + total);
      lineCount += statement.sum.count;
    }
    await finishRun(trx, runId, {
      statementCount: statements.size,
      lineCount,
      totals: [...totals.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, amountMinor]) => ({ currency, amountMinor })),
    });

    await insertAuditEvents(trx, [
      auditEvent(actor, 'settlement-run', runId, 'create', [
        { field: 'through', from: null, to: through },
        { field: 'statementCount', from: null, to: statements.size },
        { field: 'lineCount', from: null, to: lineCount },
      ], createdAt),
    ]);
    const run = (await findRun(trx, runId))!;
    const withLines = [];
    for (const statement of await findStatementsOfRun(trx, runId)) {
      withLines.push({ statement, lines: await findStatementLines(trx, statement.id) });
    }
    return { run, dryRun: false, statements: withLines };
  }

  private async referralsOf(
    trx: Knex.Transaction,
    contractId: number,
    cache: Map<number, ReferralForRun[]>,
  ): Promise<ReferralForRun[]> {
    let referrals = cache.get(contractId);
    if (!referrals) {
      referrals = (await findReferralsOfContract(trx, contractId)).map((r) => ({
        id: r.id,
        payerId: r.contractBunitId,
        referrerId: r.referrerId,
        timeline: {
          billingStartDate: r.billingStartDate,
          billingEndDate: r.billingEndDate,
          archiveDay: r.archivedAt === null ? null : this.ctx.calendar.dayOf(r.archivedAt),
          history: r.history,
        },
      }));
      cache.set(contractId, referrals);
    }
    return referrals;
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

/** exact(L, F) of SPEC §6.3, or null when F is billable on no day of L's period. */
function computePair(line: CandidateLine, referral: ReferralForRun) {
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


