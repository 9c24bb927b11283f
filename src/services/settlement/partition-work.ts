import type { Knex } from 'knex';
import { daysInclusive, type IsoDate } from '../../domain/dates';
import { pairShare } from '../../domain/pair-share';
import type { ReferralTimeline } from '../../domain/referral-timeline';
import { findReferralsOfContracts } from '../../repositories/referral.repository';
import {
  linesToSettle,
  referralsToAdjust,
  revenueLinesById,
  settledPairsOfReferral,
  settledReferralsOf,
  settledSumsOfPairs,
  type CandidateLine,
} from '../../repositories/settlement.repository';
import type { PartitionRange } from '../../repositories/settlement-run.repository';
import type { StatementKey } from '../../repositories/statement.repository';

/**
 * What one partition of a run settles (SPEC §6.3, §12), computed from the database as it is:
 * every pair (revenue line, referral of its contract) not settled yet whose line ends on or
 * before `through`, with its exact share; and, for the referrals whose terms were corrected
 * since, the difference of each pair settled before. Read in batches, so that memory holds one
 * batch and the referrals of the contracts seen. The committed run and the dry run both compute
 * through this; only what they do with the result differs.
 */

/** The referral as the run sees it: who earns, for which owner, and when at which percentage. */
interface ReferralForRun {
  id: number;
  payerId: number;
  referrerId: number;
  timeline: ReferralTimeline;
}

/**
 * A statement line to write: a pair's share (settled now, with a billable day), or the
 * adjustment of a pair settled before whose referral's terms were corrected since (§12).
 */
export interface ComputedLine {
  kind: 'share' | 'adjustment';
  key: StatementKey;
  line: CandidateLine;
  referralId: number;
  /** The exact amount × 10^12 × periodDays (the share, or the difference E − S). */
  exactNum: bigint;
  periodDays: number;
  billableDays: number;
  /** An adjustment's pair's first line; null for a share, or a pair that had no line. */
  adjusts: { statementId: number; lineId: number } | null;
}

/** One pair settled now, with or without a line. */
export interface SettledPair {
  revenueLineId: number;
  referralId: number;
  lastBillableDate: IsoDate | null;
}

export interface ComputedBatch {
  lines: ComputedLine[];
  /** Pairs settled now (with or without a line). */
  settled: SettledPair[];
  /** Pairs settled before whose last billable day (R9) the corrected terms moved. */
  lastDays: SettledPair[];
  /** Referrals whose settled pairs are now brought to the revision of their terms. */
  adjusted: { id: number; termsRevision: number }[];
}

const emptyBatch = (): ComputedBatch => ({ lines: [], settled: [], lastDays: [], adjusted: [] });

const BATCH_LINES = 2000;

export async function* computePartition(
  db: Knex,
  range: PartitionRange,
  through: IsoDate,
  archiveDayOf: (archivedAt: string) => IsoDate,
): AsyncGenerator<ComputedBatch> {
  const referralsByContract = new Map<number, ReferralForRun[]>();
  // First the differences of pairs settled before (§12): the shares settled below are at the
  // terms' current revision already.
  for (const stale of await referralsToAdjust(db, range)) {
    await loadReferrals(db, [stale.contractId], referralsByContract, archiveDayOf);
    const referral = referralsByContract.get(stale.contractId)!.find((r) => r.id === stale.id);
    if (referral) yield* adjustmentsOf(db, referral);
    yield { ...emptyBatch(), adjusted: [stale] };
  }
  for (let after = { contractId: 0, id: 0 }; ; ) {
    const lines = await linesToSettle(db, range, through, after, BATCH_LINES);
    if (lines.length === 0) return;
    const last = lines[lines.length - 1]!;
    after = { contractId: last.contractId, id: last.id };
    const settled = await settledReferralsOf(db, lines.map((l) => l.id));
    await loadReferrals(db, lines.map((l) => l.contractId), referralsByContract, archiveDayOf);

    const batch = emptyBatch();
    for (const line of lines) {
      for (const referral of referralsByContract.get(line.contractId)!) {
        if (settled.get(line.id)?.has(referral.id)) continue;
        const pair = pairShare(line, referral.timeline);
        batch.settled.push({ revenueLineId: line.id, referralId: referral.id, lastBillableDate: pair?.lastDay ?? null });
        if (!pair) continue;
        batch.lines.push({
          kind: 'share',
          key: { payerId: referral.payerId, referrerId: referral.referrerId, currency: line.currency },
          line,
          referralId: referral.id,
          exactNum: pair.share.num,
          periodDays: pair.periodDays,
          billableDays: pair.billableDays,
          adjusts: null,
        });
      }
    }
    yield batch;
    if (lines.length < BATCH_LINES) return;
  }
}

/**
 * §12: for each pair of the referral settled before, S = the sum of its lines' exact amounts so
 * far and E = its exact share under the terms now; where they differ, an adjustment of E − S.
 * All lines of a pair share one denominator (the revenue line's days), so E − S is exact.
 */
async function* adjustmentsOf(db: Knex, referral: ReferralForRun): AsyncGenerator<ComputedBatch> {
  for (let after = 0; ; ) {
    const pairs = await settledPairsOfReferral(db, referral.id, after, BATCH_LINES);
    if (pairs.length === 0) return;
    after = pairs[pairs.length - 1]!.revenueLineId;
    const ids = pairs.map((p) => p.revenueLineId);
    const lines = new Map((await revenueLinesById(db, ids)).map((l) => [l.id, l]));
    const sums = await settledSumsOfPairs(db, referral.id, ids);
    const batch = emptyBatch();
    for (const p of pairs) {
      const line = lines.get(p.revenueLineId)!;
      const pair = pairShare(line, referral.timeline);
      const now = pair?.share.num ?? 0n;
      const before = sums.get(line.id);
      if (now !== (before?.exactNum ?? 0n)) {
        batch.lines.push({
          kind: 'adjustment',
          key: { payerId: referral.payerId, referrerId: referral.referrerId, currency: line.currency },
          line,
          referralId: referral.id,
          exactNum: now - (before?.exactNum ?? 0n),
          periodDays: daysInclusive(line.periodStart, line.periodEnd),
          billableDays: pair?.billableDays ?? 0,
          adjusts: before?.first ?? null,
        });
      }
      const lastDay = pair?.lastDay ?? null;
      if (lastDay !== p.lastBillableDate) batch.lastDays.push({ revenueLineId: line.id, referralId: referral.id, lastBillableDate: lastDay });
    }
    yield batch;
    if (pairs.length < BATCH_LINES) return;
  }
}

/** Reads the referrals of the contracts not seen yet, all in one go. */
async function loadReferrals(
  db: Knex,
  contractIds: number[],
  cache: Map<number, ReferralForRun[]>,
  archiveDayOf: (archivedAt: string) => IsoDate,
): Promise<void> {
  const missing = [...new Set(contractIds)].filter((id) => !cache.has(id));
  if (missing.length === 0) return;
  for (const [contractId, referrals] of await findReferralsOfContracts(db, missing)) {
    // A pending or denied referral earns nothing, and its pairs are not recorded as settled: an
    // approval later is picked up by the next run (SPEC §11).
    cache.set(
      contractId,
      referrals.filter((r) => r.status === 'approved').map((r) => ({
        id: r.id,
        payerId: r.contractBunitId,
        referrerId: r.referrerId,
        timeline: {
          billingStartDate: r.billingStartDate,
          billingEndDate: r.billingEndDate,
          archiveDay: r.archivedAt === null ? null : (r.archiveDay ?? archiveDayOf(r.archivedAt)),
          history: r.history,
        },
      })),
    );
  }
}

/** Partitions of about this many revenue lines to settle: a partition's transaction stays short. */
export const DEFAULT_PARTITION_LINES = 2000;
/** A partition reads at most this many times its lines to settle (lines settled before, or due later). */
const READ_PER_LINE = 10;
const PARTITION_CONTRACTS = 200;
export const LAST_CONTRACT_ID = 2_147_483_647;

/** A contract's share of a run: its lines to settle (and pairs to adjust), and all its revenue lines, which a partition reads through. */
export interface ContractWork {
  contractId: number;
  lines: number;
  read: number;
}

/**
 * Cuts the contracts into partitions of whole contracts, covering every contract id from 1 on
 * without a gap (a contract that gets revenue during the run is settled by the partition its id
 * falls in, if that one has not run yet). A partition ends after about `partitionLines` lines to
 * settle, or ten times as many lines read (a contract's revenue settled before or due after the
 * run's end is read and passed over: without this bound, a partition over contracts with a lot
 * of such revenue held the write lock for half a second), or 200 contracts.
 */
export function cutPartitions(contracts: readonly ContractWork[], partitionLines = DEFAULT_PARTITION_LINES): PartitionRange[] {
  const out: PartitionRange[] = [];
  if (!contracts.some((c) => c.lines > 0)) return out;
  let first = 1;
  let lines = 0;
  let read = 0;
  let count = 0;
  contracts.forEach((c, i) => {
    lines += c.lines;
    read += c.read;
    count += 1;
    const last = i === contracts.length - 1;
    if (lines >= partitionLines || read >= READ_PER_LINE * partitionLines || count >= PARTITION_CONTRACTS || last) {
      out.push({ first, last: last ? LAST_CONTRACT_ID : c.contractId });
      first = c.contractId + 1;
      lines = 0;
      read = 0;
      count = 0;
    }
  });
  return out;
}
