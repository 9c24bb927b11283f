import type { Knex } from 'knex';
import { insertRows, preparedSql, queryBuilt, queryPrepared } from '../db';

/**
 * What a settlement run reads and writes per partition: the revenue lines that still have a
 * pair to settle, and the ledger of settled (revenue line, referral) pairs, whose primary key
 * guarantees a pair is settled at most once.
 */

export interface CandidateLine {
  id: number;
  contractId: number;
  amount: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
}

/** An approved referral of the line's contract with which the line is not settled yet (a pending or denied one earns nothing). */
const UNSETTLED_PAIR_EXISTS = `EXISTS (
  SELECT 1 FROM referrals r
  WHERE r.contract_id = l.contract_id AND r.status = 'approved'
    AND NOT EXISTS (SELECT 1 FROM settled_pairs sp WHERE sp.revenue_line_id = l.id AND sp.referral_id = r.id)
)`;

/**
 * The contracts with work for a run through `through`, and how many revenue lines each has to
 * settle: what a run's partitions are cut from. A read, outside any transaction.
 */
export async function contractsToSettle(db: Knex, through: string): Promise<{ contractId: number; lines: number }[]> {
  const rows = await queryPrepared<{ contract_id: number; n: number | string }>(db, CONTRACTS_TO_SETTLE, [through]);
  return rows.map((r) => ({ contractId: r.contract_id, lines: Number(r.n) }));
}
const CONTRACTS_TO_SETTLE = preparedSql(
  `SELECT l.contract_id, count(*) AS n FROM revenue_lines l WHERE l.period_end <= ? AND ${UNSETTLED_PAIR_EXISTS}
   GROUP BY l.contract_id ORDER BY l.contract_id`,
  { replan: true },
);

/**
 * The next lines of the contracts first..last, in the order of contract and id, after `after`,
 * that end on or before `through` and have a pair to settle. The index on (contract_id, id)
 * reads only the partition's contracts, and the contract range on the referrals too lets
 * PostgreSQL read only theirs. The run's own inserts grow settled_pairs under this query: on
 * PostgreSQL it is planned at each execution.
 */
export async function linesToSettle(
  db: Knex,
  range: { first: number; last: number },
  through: string,
  after: { contractId: number; id: number },
  limit: number,
): Promise<CandidateLine[]> {
  const rows = await queryPrepared<{
    id: number;
    contract_id: number;
    amount: string;
    currency: string;
    period_start: string;
    period_end: string;
  }>(db, LINES_TO_SETTLE, [
    Math.max(range.first, after.contractId), range.last, after.contractId, after.contractId, after.id, through, range.first, range.last, limit,
  ]);
  return rows.map((r) => ({
    id: r.id,
    contractId: r.contract_id,
    amount: String(r.amount),
    currency: r.currency,
    periodStart: r.period_start,
    periodEnd: r.period_end,
  }));
}
const LINES_TO_SETTLE = preparedSql(
  `SELECT l.id, l.contract_id, CAST(l.amount AS TEXT) AS amount, l.currency, l.period_start, l.period_end FROM revenue_lines l
   WHERE l.contract_id BETWEEN ? AND ? AND (l.contract_id > ? OR (l.contract_id = ? AND l.id > ?)) AND l.period_end <= ?
     AND EXISTS (
       SELECT 1 FROM referrals r
       WHERE r.contract_id = l.contract_id AND r.contract_id BETWEEN ? AND ? AND r.status = 'approved'
         AND NOT EXISTS (SELECT 1 FROM settled_pairs sp WHERE sp.revenue_line_id = l.id AND sp.referral_id = r.id))
   ORDER BY l.contract_id, l.id LIMIT ?`,
  { replan: true },
);

/** For each line, the referrals it is already settled with. */
export async function settledReferralsOf(db: Knex, lineIds: number[]): Promise<Map<number, Set<number>>> {
  const out = new Map<number, Set<number>>();
  for (let i = 0; i < lineIds.length; i += 500) {
    const rows = await queryBuilt<{ revenue_line_id: number; referral_id: number }>(
      db('settled_pairs').select('revenue_line_id', 'referral_id').whereIn('revenue_line_id', lineIds.slice(i, i + 500)),
      { replan: true },
    );
    for (const r of rows) {
      let set = out.get(r.revenue_line_id);
      if (!set) out.set(r.revenue_line_id, (set = new Set()));
      set.add(r.referral_id);
    }
  }
  return out;
}

/** R9: the last day already settled (paid for) for a referral, or null. */
export async function lastSettledDay(db: Knex, referralId: number): Promise<string | null> {
  const [row] = await queryPrepared<{ last: string | null }>(db, LAST_SETTLED_DAY, [referralId]);
  return row?.last ?? null;
}
const LAST_SETTLED_DAY = preparedSql('SELECT max(last_billable_date) AS last FROM settled_pairs WHERE referral_id = ?');

export interface NewSettledPair {
  revenueLineId: number;
  referralId: number;
  runId: number;
  lastBillableDate: string | null;
}

/** Inserting a pair twice violates the primary key: the database itself guarantees "at most once". */
export async function insertSettledPairs(trx: Knex, pairs: NewSettledPair[]): Promise<void> {
  await insertRows(
    trx,
    'settled_pairs',
    ['revenue_line_id', 'referral_id', 'run_id', 'last_billable_date'],
    pairs.map((p) => [p.revenueLineId, p.referralId, p.runId, p.lastBillableDate]),
  );
}
