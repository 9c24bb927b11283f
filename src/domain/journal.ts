/**
 * Journals of SPEC §16, double-entry, built from pairs: each posting is one (debit account, credit
 * account, amount), written as a debit entry and a credit entry of the same amount, so a journal
 * balances by construction. A negative amount swaps debit and credit; a zero one writes nothing.
 *
 * Mirroring is by construction as well: a business unit's close entries with a partner come from
 * one function, called once from each side with the two `owes` swapped (closePostings).
 */

export const ACCOUNT_NAMES = ['receivable', 'payable', 'income', 'expense', 'clearing'] as const;
export type AccountName = (typeof ACCOUNT_NAMES)[number];
export type Accounts = Record<AccountName, string>;

export const DEFAULT_ACCOUNTS: Readonly<Accounts> = Object.freeze({
  receivable: 'intercompany-receivable',
  payable: 'intercompany-payable',
  income: 'revenue-share-income',
  expense: 'revenue-share-expense',
  clearing: 'intercompany-clearing',
});

/** One posting: debit one account, credit another, the same amount. */
export interface Posting {
  debit: AccountName;
  credit: AccountName;
  amount: bigint;
  memo: string;
}

export interface JournalEntry {
  /** The account's name in the business unit's chart (its `accounts`). */
  account: string;
  /** Which of the unit's accounts it is. */
  role: AccountName;
  partnerId: number;
  nettingId: number;
  debit: bigint | null;
  credit: bigint | null;
  memo: string;
}

/**
 * X's postings with partner Y for one netting in which X owes Y `owesSelf` and Y owes X
 * `owesPartner`: the share X owes, the share X earned, and the netting of the two.
 */
export function closePostings(owesSelf: bigint, owesPartner: bigint): Posting[] {
  return [
    { debit: 'expense', credit: 'payable', amount: owesSelf, memo: 'revenue share owed' },
    { debit: 'receivable', credit: 'income', amount: owesPartner, memo: 'revenue share earned' },
    { debit: 'payable', credit: 'receivable', amount: owesPartner, memo: 'netting' },
  ];
}

/** A payment of `amount` from the payer to the payee: the payer's and the payee's postings. */
export function paymentPostings(amount: bigint): { payer: Posting[]; payee: Posting[] } {
  return {
    payer: [{ debit: 'payable', credit: 'clearing', amount, memo: 'netting paid' }],
    payee: [{ debit: 'clearing', credit: 'payable', amount, memo: 'netting received' }],
  };
}

/** The entries of postings, in order: a debit entry then a credit entry for each non-zero posting. */
export function entriesOf(postings: readonly Posting[], accounts: Accounts, partnerId: number, nettingId: number): JournalEntry[] {
  const out: JournalEntry[] = [];
  for (const p of postings) {
    if (p.amount === 0n) continue;
    const [debit, credit, amount] = p.amount > 0n ? [p.debit, p.credit, p.amount] : [p.credit, p.debit, -p.amount];
    out.push({ account: accounts[debit], role: debit, partnerId, nettingId, debit: amount, credit: null, memo: p.memo });
    out.push({ account: accounts[credit], role: credit, partnerId, nettingId, debit: null, credit: amount, memo: p.memo });
  }
  return out;
}

export function journalTotals(entries: readonly JournalEntry[]): { debit: bigint; credit: bigint } {
  let debit = 0n;
  let credit = 0n;
  for (const e of entries) {
    debit += e.debit ?? 0n;
    credit += e.credit ?? 0n;
  }
  return { debit, credit };
}

/** A netting as one side of it sees it. */
export interface NettingSide {
  nettingId: number;
  partnerId: number;
  owesSelf: bigint;
  owesPartner: bigint;
}

/** The view of a netting {A, B} from the side of `bunitId` (one of A, B). */
export function sideOf(
  netting: { id: number; aId: number; bId: number; owesA: bigint; owesB: bigint },
  bunitId: number,
): NettingSide {
  if (bunitId === netting.aId) return { nettingId: netting.id, partnerId: netting.bId, owesSelf: netting.owesA, owesPartner: netting.owesB };
  if (bunitId === netting.bId) return { nettingId: netting.id, partnerId: netting.aId, owesSelf: netting.owesB, owesPartner: netting.owesA };
  throw new Error(`business unit ${bunitId} is not a party of netting ${netting.id}`);
}

/** A unit's close journal of one period and currency: its entries for each netting it is a party of, in netting order. */
export function closeEntries(accounts: Accounts, sides: readonly NettingSide[]): JournalEntry[] {
  return [...sides]
    .sort((x, y) => x.nettingId - y.nettingId)
    .flatMap((s) => entriesOf(closePostings(s.owesSelf, s.owesPartner), accounts, s.partnerId, s.nettingId));
}
