import type { Knex } from 'knex';
import type { IsoDate } from '../../domain/dates';
import { pairShare, type PairShare } from '../../domain/pair-share';
import type { ReferralTimeline } from '../../domain/referral-timeline';
import { findReferralsOfContracts } from '../../repositories/referral.repository';
import { linesToSettle, settledReferralsOf, type CandidateLine } from '../../repositories/settlement.repository';
import type { PartitionRange } from '../../repositories/settlement-run.repository';
import type { StatementKey } from '../../repositories/statement.repository';

/**
 * What one partition of a run settles (SPEC §6.3), computed from the database as it is: every
 * pair (revenue line, referral of its contract) not settled yet whose line ends on or before
 * `through`, with its exact share. Read in batches of lines, so that memory holds one batch and
 * the referrals of the contracts seen. The committed run and the dry run both compute through
 * this; only what they do with the result differs.
 */

/** The referral as the run sees it: who earns, for which owner, and when at which percentage. */
interface ReferralForRun {
  id: number;
  payerId: number;
  referrerId: number;
  timeline: ReferralTimeline;
}

/** One pair to settle with a statement line: it has a billable day. */
export interface ComputedShare {
  key: StatementKey;
  line: CandidateLine;
  referralId: number;
  pair: PairShare;
}

/** One pair settled now, with or without a line. */
export interface SettledPair {
  revenueLineId: number;
  referralId: number;
  lastBillableDate: IsoDate | null;
}

export interface ComputedBatch {
  shares: ComputedShare[];
  settled: SettledPair[];
}

const BATCH_LINES = 2000;

export async function* computePartition(
  db: Knex,
  range: PartitionRange,
  through: IsoDate,
  archiveDayOf: (archivedAt: string) => IsoDate,
): AsyncGenerator<ComputedBatch> {
  const referralsByContract = new Map<number, ReferralForRun[]>();
  for (let after = { contractId: 0, id: 0 }; ; ) {
    const lines = await linesToSettle(db, range, through, after, BATCH_LINES);
    if (lines.length === 0) return;
    const last = lines[lines.length - 1]!;
    after = { contractId: last.contractId, id: last.id };
    const settled = await settledReferralsOf(db, lines.map((l) => l.id));
    await loadReferrals(db, lines.map((l) => l.contractId), referralsByContract, archiveDayOf);

    const batch: ComputedBatch = { shares: [], settled: [] };
    for (const line of lines) {
      for (const referral of referralsByContract.get(line.contractId)!) {
        if (settled.get(line.id)?.has(referral.id)) continue;
        const pair = pairShare(line, referral.timeline);
        batch.settled.push({ revenueLineId: line.id, referralId: referral.id, lastBillableDate: pair?.lastDay ?? null });
        if (!pair) continue;
        batch.shares.push({
          key: { payerId: referral.payerId, referrerId: referral.referrerId, currency: line.currency },
          line,
          referralId: referral.id,
          pair,
        });
      }
    }
    yield batch;
    if (lines.length < BATCH_LINES) return;
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
          archiveDay: r.archivedAt === null ? null : archiveDayOf(r.archivedAt),
          history: r.history,
        },
      })),
    );
  }
}

/** Partitions of about this many revenue lines: a partition's transaction stays well under a second. */
export const DEFAULT_PARTITION_LINES = 2000;
const PARTITION_CONTRACTS = 200;
export const LAST_CONTRACT_ID = 2_147_483_647;

/**
 * Cuts the contracts with work into partitions of whole contracts, covering every contract id
 * from 1 on without a gap (a contract that gets revenue during the run is settled by the
 * partition its id falls in, if that one has not run yet).
 */
export function cutPartitions(contracts: { contractId: number; lines: number }[], partitionLines = DEFAULT_PARTITION_LINES): PartitionRange[] {
  const out: PartitionRange[] = [];
  let first = 1;
  let lines = 0;
  let count = 0;
  contracts.forEach((c, i) => {
    lines += c.lines;
    count += 1;
    const last = i === contracts.length - 1;
    if (lines >= partitionLines || count >= PARTITION_CONTRACTS || last) {
      out.push({ first, last: last ? LAST_CONTRACT_ID : c.contractId });
      first = c.contractId + 1;
      lines = 0;
      count = 0;
    }
  });
  return out;
}
