/**
 * Netting of a period (SPEC §16), as pure arithmetic on whole minor units. For each pair of
 * business units {A, B} (A the lower id) and currency: what A owes B, what B owes A, and the one
 * amount the party that owes more pays the other.
 *
 * A party's `owes` = Σ over the period's statements it pays to the other of (total − the amounts of
 * its lines held at the close) + Σ the amounts of lines of such statements of earlier periods that
 * were held at their own close and whose dispute ended in this period (released).
 */

/** What one statement of the period brings to its pair's netting. */
export interface StatementPart {
  statementId: number;
  payerId: number;
  referrerId: number;
  currency: string;
  totalMinor: bigint;
  /** Σ amounts of its lines held by an open dispute at the close. */
  heldMinor: bigint;
}

/** A line released in this period: held at the close of its own (earlier) period, its dispute ended in this one. */
export interface ReleasedLine {
  lineId: number;
  statementId: number;
  payerId: number;
  referrerId: number;
  currency: string;
  amountMinor: bigint;
}

export interface NettingDraft {
  /** The lower id of the pair. */
  aId: number;
  bId: number;
  currency: string;
  owesA: bigint;
  owesB: bigint;
  /** |owesA − owesB| */
  amount: bigint;
  /** The party that owes more; null when both owe the same. */
  payerId: number | null;
  payeeId: number | null;
  statementIds: number[];
  releasedLineIds: number[];
}

export type NettingStatus = 'open' | 'partially-paid' | 'paid';

const keyOf = (a: number, b: number, currency: string) => `${a}/${b}/${currency}`;

/** The pair's net: who pays whom how much. */
export function netOf(aId: number, bId: number, owesA: bigint, owesB: bigint): Pick<NettingDraft, 'amount' | 'payerId' | 'payeeId'> {
  if (owesA === owesB) return { amount: 0n, payerId: null, payeeId: null };
  return owesA > owesB ? { amount: owesA - owesB, payerId: aId, payeeId: bId } : { amount: owesB - owesA, payerId: bId, payeeId: aId };
}

/**
 * The nettings of a period: one per pair and currency with a statement or a released line in it,
 * in the order (A, B, currency). Statement ids and released line ids ascending.
 */
export function computeNettings(statements: readonly StatementPart[], released: readonly ReleasedLine[]): NettingDraft[] {
  const drafts = new Map<string, NettingDraft>();
  const draftOf = (payerId: number, referrerId: number, currency: string) => {
    const aId = Math.min(payerId, referrerId);
    const bId = Math.max(payerId, referrerId);
    const key = keyOf(aId, bId, currency);
    let draft = drafts.get(key);
    if (!draft) {
      draft = { aId, bId, currency, owesA: 0n, owesB: 0n, amount: 0n, payerId: null, payeeId: null, statementIds: [], releasedLineIds: [] };
      drafts.set(key, draft);
    }
    return draft;
  };
  const add = (draft: NettingDraft, payerId: number, amount: bigint) => {
    if (payerId === draft.aId) draft.owesA += amount;
    else draft.owesB += amount;
  };
  for (const s of statements) {
    if (s.payerId === s.referrerId) throw new Error(`statement ${s.statementId}: payer and referrer are the same business unit`);
    const draft = draftOf(s.payerId, s.referrerId, s.currency);
    add(draft, s.payerId, s.totalMinor - s.heldMinor);
    draft.statementIds.push(s.statementId);
  }
  for (const l of released) {
    const draft = draftOf(l.payerId, l.referrerId, l.currency);
    add(draft, l.payerId, l.amountMinor);
    draft.releasedLineIds.push(l.lineId);
  }
  const out = [...drafts.values()].sort((x, y) => x.aId - y.aId || x.bId - y.bId || (x.currency < y.currency ? -1 : x.currency > y.currency ? 1 : 0));
  for (const d of out) {
    Object.assign(d, netOf(d.aId, d.bId, d.owesA, d.owesB));
    d.statementIds.sort((x, y) => x - y);
    d.releasedLineIds.sort((x, y) => x - y);
  }
  return out;
}

/** A netting's status follows from its amount and what has been paid (a zero amount is paid at once). */
export function nettingStatus(amount: bigint, paid: bigint): NettingStatus {
  if (paid >= amount) return 'paid';
  return paid === 0n ? 'open' : 'partially-paid';
}

/** The period `yyyy-MM` a calendar date falls in. */
export const periodOf = (date: string): string => date.slice(0, 7);

/** The first and last days of a period `yyyy-MM`. */
export function periodBounds(period: string): { first: string; last: string } {
  const [y, m] = period.split('-').map((p) => Number.parseInt(p, 10)) as [number, number];
  const days = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return { first: `${period}-01`, last: `${period}-${String(days).padStart(2, '0')}` };
}

/** Whether `yyyy-MM` names a real month. */
export const isPeriod = (text: string): boolean => /^\d{4}-(0[1-9]|1[0-2])$/.test(text);
