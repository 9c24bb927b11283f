import type { Knex } from 'knex';
import { executePrepared, insertRows, preparedSql, queryBuilt, queryPrepared } from '../db';

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
 * How many revenue lines each contract has, settled or not, due or not: what a partition's
 * search for lines to settle reads through (by the index on contract and id). Read from that
 * index alone, outside any transaction.
 */
export async function revenueLinesByContract(db: Knex): Promise<{ contractId: number; lines: number }[]> {
  const rows = await queryPrepared<{ contract_id: number; n: number | string }>(db, LINES_BY_CONTRACT, []);
  return rows.map((r) => ({ contractId: r.contract_id, lines: Number(r.n) }));
}
const LINES_BY_CONTRACT = preparedSql('SELECT contract_id, count(*) AS n FROM revenue_lines GROUP BY contract_id ORDER BY contract_id');

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

// ---- adjustments (SPEC §12) -------------------------------------------------------------------

/**
 * The contracts with referrals whose terms changed since their settled pairs were last brought to
 * them, with how many settled pairs each has to check: a run's partitions take them in too.
 */
export async function contractsToAdjust(db: Knex): Promise<{ contractId: number; lines: number }[]> {
  const rows = await queryPrepared<{ contract_id: number; n: number | string }>(db, CONTRACTS_TO_ADJUST, []);
  return rows.map((r) => ({ contractId: r.contract_id, lines: Number(r.n) }));
}
const CONTRACTS_TO_ADJUST = preparedSql(
  `SELECT r.contract_id, count(*) AS n FROM referrals r JOIN settled_pairs sp ON sp.referral_id = r.id
   WHERE r.terms_revision > r.adjusted_revision GROUP BY r.contract_id ORDER BY r.contract_id`,
);

/** The referrals of the contracts first..last whose terms changed since their settled pairs were last brought to them. */
export async function referralsToAdjust(db: Knex, range: { first: number; last: number }): Promise<{ id: number; contractId: number; termsRevision: number }[]> {
  const rows = await queryPrepared<{ id: number; contract_id: number; terms_revision: number }>(db, REFERRALS_TO_ADJUST, [range.first, range.last]);
  return rows.map((r) => ({ id: r.id, contractId: r.contract_id, termsRevision: r.terms_revision }));
}
const REFERRALS_TO_ADJUST = preparedSql(
  'SELECT id, contract_id, terms_revision FROM referrals WHERE contract_id BETWEEN ? AND ? AND terms_revision > adjusted_revision ORDER BY id',
);

/** A page of the pairs settled for a referral, by revenue line id, with the last billable day each paid for. */
export async function settledPairsOfReferral(
  db: Knex,
  referralId: number,
  afterLineId: number,
  limit: number,
): Promise<{ revenueLineId: number; lastBillableDate: string | null }[]> {
  const rows = await queryPrepared<{ revenue_line_id: number; last_billable_date: string | null }>(db, PAIRS_OF_REFERRAL, [referralId, afterLineId, limit]);
  return rows.map((r) => ({ revenueLineId: r.revenue_line_id, lastBillableDate: r.last_billable_date }));
}
const PAIRS_OF_REFERRAL = preparedSql(
  'SELECT revenue_line_id, last_billable_date FROM settled_pairs WHERE referral_id = ? AND revenue_line_id > ? ORDER BY revenue_line_id LIMIT ?',
);

/** Revenue lines by id. */
export async function revenueLinesById(db: Knex, ids: number[]): Promise<CandidateLine[]> {
  const out: CandidateLine[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await queryBuilt<{ id: number; contract_id: number; amount: string; currency: string; period_start: string; period_end: string }>(
      db('revenue_lines')
        .select('id', 'contract_id', db.raw('CAST(amount AS TEXT) AS amount'), 'currency', 'period_start', 'period_end')
        .whereIn('id', ids.slice(i, i + 500)),
    );
    for (const r of rows) out.push({ id: r.id, contractId: r.contract_id, amount: r.amount, currency: r.currency, periodStart: r.period_start, periodEnd: r.period_end });
  }
  return out;
}

/** What a referral's pairs on these lines were settled so far: the sum of their lines' exact numerators, and the first line. */
export async function settledSumsOfPairs(
  db: Knex,
  referralId: number,
  lineIds: number[],
): Promise<Map<number, { exactNum: bigint; first: { statementId: number; lineId: number } }>> {
  const out = new Map<number, { exactNum: bigint; first: { statementId: number; lineId: number } }>();
  for (let i = 0; i < lineIds.length; i += 500) {
    const rows = await queryBuilt<{ id: number; statement_id: number; revenue_line_id: number; exact_num: string }>(
      db('statement_lines')
        .select('id', 'statement_id', 'revenue_line_id', db.raw('CAST(exact_num AS TEXT) AS exact_num'))
        .where('referral_id', referralId)
        .whereIn('revenue_line_id', lineIds.slice(i, i + 500)),
    );
    for (const r of rows) {
      const known = out.get(r.revenue_line_id);
      const first = known && known.first.lineId < r.id ? known.first : { statementId: r.statement_id, lineId: r.id };
      out.set(r.revenue_line_id, { exactNum: (known?.exactNum ?? 0n) + BigInt(r.exact_num), first });
    }
  }
  return out;
}

/** R9 after an adjustment: the last day each pair now pays for. */
export async function updateLastBillableDates(trx: Knex, pairs: { revenueLineId: number; referralId: number; lastBillableDate: string | null }[]): Promise<void> {
  for (const p of pairs) await executePrepared(trx, UPDATE_LAST_DAY, [p.lastBillableDate, p.revenueLineId, p.referralId]);
}
const UPDATE_LAST_DAY = preparedSql('UPDATE settled_pairs SET last_billable_date = ? WHERE revenue_line_id = ? AND referral_id = ?');

/** The referrals whose settled pairs now match the revision of their terms the run saw. */
export async function markAdjusted(trx: Knex, referrals: { id: number; termsRevision: number }[]): Promise<void> {
  for (const r of referrals) await executePrepared(trx, MARK_ADJUSTED, [r.termsRevision, r.id]);
}
const MARK_ADJUSTED = preparedSql('UPDATE referrals SET adjusted_revision = ? WHERE id = ?');
