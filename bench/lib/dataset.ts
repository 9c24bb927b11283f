import { addDays } from '../../src/domain/dates';

/**
 * The benchmark data set, generated deterministically (the same seed gives the same rows), so the
 * request generators know which ids exist without asking the database.
 *
 * - 200 business units;
 * - 20,000 contracts with referrals and revenue (10,000 with two referrals, 10,000 with one:
 *   30,000 referrals), owned round-robin by the units, in EUR, USD and JPY;
 * - 4,000 spare contracts without referrals or revenue, for the POST scenarios;
 * - revenue: the same number of monthly invoice lines on every contract with referrals
 *   (1,000,000 lines: 50 months from 2021-01), 2 % of them one-day credit notes.
 *
 * A quarter of the referrals end on 2024-06-30 (later lines earn nothing from them: the run records
 * those pairs with no line), a fifth changed percentage on 2023-01-01 (two history segments).
 */
export interface DatasetSize {
  bunits: number;
  contracts: number;
  spareContracts: number;
  revenueLines: number;
}

export const DEFAULT_SIZE: DatasetSize = {
  bunits: 200,
  contracts: 20_000,
  spareContracts: 4_000,
  revenueLines: 1_000_000,
};

export const CREATED_AT = '2021-01-01T00:00:00.000Z';
export const REVENUE_FROM = '2021-01-01';
const PERCENTAGES = ['5', '7.5', '10', '12.5', '15', '2.25', '20', '3.125'];
const CURRENCIES = ['EUR', 'EUR', 'EUR', 'EUR', 'USD', 'EUR', 'USD', 'EUR', 'JPY', 'EUR'];

/** mulberry32: a small, fast, seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface BunitRow {
  id: number;
  code: string;
  name: string;
}

export interface ContractRow {
  id: number;
  bunitId: number;
  number: string;
  name: string;
  customer: string;
  currency: string;
  startDate: string;
}

export interface ReferralRow {
  id: number;
  contractId: number;
  referrerId: number;
  percentage: string;
  billingStartDate: string;
  billingEndDate: string | null;
  history: { from: string; to: string | null; percentage: string }[];
}

export interface RevenueRow {
  id: number;
  contractId: number;
  externalId: string;
  amount: string;
  currency: string;
  periodStart: string;
  periodEnd: string;
}

export const ownerOf = (contractId: number, size: DatasetSize) => ((contractId - 1) % size.bunits) + 1;

export function linesPerContract(size: DatasetSize): number {
  const n = size.revenueLines / size.contracts;
  if (!Number.isInteger(n) || n < 1) throw new Error('revenueLines must be a positive multiple of contracts');
  return n;
}

/** First and last day of month `k` counted from REVENUE_FROM. */
export function monthOf(k: number): { start: string; end: string } {
  const year = 2021 + Math.floor(k / 12);
  const month = (k % 12) + 1;
  const start = `${year}-${String(month).padStart(2, '0')}-01`;
  const next = month === 12 ? `${year + 1}-01-01` : `${year}-${String(month + 1).padStart(2, '0')}-01`;
  return { start, end: addDays(next, -1) };
}

/** The last day of the seeded revenue: the settlement scenario settles through it. */
export const settleThrough = (size: DatasetSize) => monthOf(linesPerContract(size) - 1).end;

/** Canonical decimal text of a number of cents ("1234.5", "-12", "0.07"). */
export function centsText(cents: number): string {
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  const whole = Math.floor(abs / 100);
  const frac = abs % 100;
  if (frac === 0) return `${sign}${whole}`;
  return `${sign}${whole}.${frac % 10 === 0 ? String(frac / 10) : String(frac).padStart(2, '0')}`;
}

export function bunits(size: DatasetSize): BunitRow[] {
  return Array.from({ length: size.bunits }, (_, i) => ({
    id: i + 1,
    code: `BU${String(i + 1).padStart(4, '0')}`,
    name: `Business unit ${i + 1}`,
  }));
}

export function contracts(size: DatasetSize): ContractRow[] {
  return Array.from({ length: size.contracts + size.spareContracts }, (_, i) => {
    const id = i + 1;
    return {
      id,
      bunitId: ownerOf(id, size),
      number: `C-${String(id).padStart(6, '0')}`,
      name: `Contract ${id}`,
      customer: `Customer ${id % 977}`,
      currency: id > size.contracts ? 'EUR' : CURRENCIES[id % CURRENCIES.length]!,
      startDate: REVENUE_FROM,
    };
  });
}

export function referrals(size: DatasetSize): ReferralRow[] {
  const random = prng(42);
  const out: ReferralRow[] = [];
  const pick = <T>(list: T[]) => list[Math.floor(random() * list.length)]!;
  for (let contractId = 1; contractId <= size.contracts; contractId++) {
    const owner = ownerOf(contractId, size);
    const count = contractId <= size.contracts / 2 ? 2 : 1;
    const taken = new Set([owner]);
    for (let j = 0; j < count; j++) {
      let referrerId = owner;
      while (taken.has(referrerId)) referrerId = 1 + Math.floor(random() * size.bunits);
      taken.add(referrerId);
      const start = addDays(REVENUE_FROM, Math.floor(random() * 90));
      const end = random() < 0.25 ? '2024-06-30' : null;
      const first = pick(PERCENTAGES);
      const history =
        random() < 0.2
          ? [
              { from: start, to: '2022-12-31', percentage: first },
              { from: '2023-01-01', to: null, percentage: pick(PERCENTAGES.filter((p) => p !== first)) },
            ]
          : [{ from: start, to: null, percentage: first }];
      out.push({
        id: out.length + 1,
        contractId,
        referrerId,
        percentage: history[history.length - 1]!.percentage,
        billingStartDate: start,
        billingEndDate: end,
        history,
      });
    }
  }
  return out;
}

/** Revenue in chunks (a million rows at once would be needless memory), ids in order. */
export function* revenueChunks(size: DatasetSize, chunk = 20_000): Generator<RevenueRow[]> {
  const random = prng(7);
  const perContract = linesPerContract(size);
  const currencies = new Map(contracts(size).map((c) => [c.id, c.currency]));
  let rows: RevenueRow[] = [];
  let id = 0;
  for (let contractId = 1; contractId <= size.contracts; contractId++) {
    const currency = currencies.get(contractId)!;
    for (let k = 0; k < perContract; k++) {
      const month = monthOf(k);
      const credit = random() < 0.02;
      const cents = credit ? -(1000 + Math.floor(random() * 50_000)) : 10_000 + Math.floor(random() * 990_000);
      const day = credit ? addDays(month.start, 14) : null;
      // JPY has no minor unit: whole yen.
      const amount = currency === 'JPY' ? String(Math.trunc(cents / 100) || 1) : centsText(cents);
      rows.push({
        id: ++id,
        contractId,
        externalId: `${credit ? 'CN' : 'INV'}-${contractId}-${k}`,
        amount,
        currency,
        periodStart: day ?? month.start,
        periodEnd: day ?? month.end,
      });
      if (rows.length === chunk) {
        yield rows;
        rows = [];
      }
    }
  }
  if (rows.length) yield rows;
}
