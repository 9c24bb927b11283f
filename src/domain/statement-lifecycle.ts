import { currencyDigits } from './currency';
import { Dec, formatMoney } from './decimal';
import { addDays, type IsoDate } from './dates';

/**
 * Statements after the run (SPEC §15), the pure part: periods, statuses, when a statement is due
 * for auto-acceptance, and which correction fits an upheld dispute.
 */

export const STATEMENT_STATUSES = ['issued', 'accepted', 'closed'] as const;
export type StatementStatus = (typeof STATEMENT_STATUSES)[number];

export const DISPUTE_REASON_CODES = ['wrong-percentage', 'wrong-revenue', 'wrong-window', 'duplicate', 'other'] as const;
export type DisputeReasonCode = (typeof DISPUTE_REASON_CODES)[number];

export const DISPUTE_STATUSES = ['open', 'rejected', 'upheld', 'withdrawn'] as const;
export type DisputeStatus = (typeof DISPUTE_STATUSES)[number];

/** How a dispute ended: resolved (rejected, upheld) or withdrawn by the side that raised it. */
export type DisputeOutcome = Exclude<DisputeStatus, 'open'>;

/** The largest dispute: 1..1000 lines, like every batch of the API. */
export const MAX_DISPUTE_LINES = 1000;

/** The period `yyyy-MM` of a run's `through` (its calendar month). */
export function periodOf(through: IsoDate): string {
  return through.slice(0, 7);
}

/**
 * The first day whose statements are not yet due for auto-acceptance: a statement still issued
 * `acceptDays` days after the day of its creation (BUSINESS_TIMEZONE) is accepted, so on `today`
 * those created before `today − acceptDays + 1` are due (acceptDays 5: created on the 1st,
 * accepted on the 6th).
 */
export function firstDayNotDue(today: IsoDate, acceptDays: number): IsoDate {
  return addDays(today, 1 - acceptDays);
}

/** What an upheld dispute is checked against: its lines' referrals and contracts, and when it opened. */
export interface DisputedLines {
  createdAt: string;
  referralIds: ReadonlySet<number>;
  contractIds: ReadonlySet<number>;
}

/**
 * Why a change request is not a correction of these lines (null: it is one): an amendment (§12),
 * pending or approved, of a referral of the lines, asked for once the dispute was open.
 */
export function amendmentMisfit(
  lines: DisputedLines,
  cr: { id: number; kind: string; status: string; referralId: number; requestedAt: string } | undefined,
  id: number,
): string | null {
  if (!cr) return `change request ${id} does not exist`;
  if (cr.kind !== 'amend') return `change request ${id} is not an amendment (its kind is ${cr.kind})`;
  if (cr.status !== 'pending' && cr.status !== 'approved') return `amendment ${id} is ${cr.status}; it must be pending or approved`;
  if (!lines.referralIds.has(cr.referralId)) return `amendment ${id} is of referral ${cr.referralId}, which none of the disputed lines is of`;
  if (cr.requestedAt < lines.createdAt) return `amendment ${id} was asked for before the dispute was opened`;
  return null;
}

/**
 * Why a revenue line is not a correction of these lines (null: it is one): a line with a negative
 * amount (a credit note) on a contract of the lines, created once the dispute was open.
 */
export function creditNoteMisfit(
  lines: DisputedLines,
  line: { id: number; amount: string; currency: string; contractId: number; createdAt: string } | undefined,
  id: number,
): string | null {
  if (!line) return `revenue line ${id} does not exist`;
  const amount = new Dec(line.amount);
  if (!amount.lt(0)) return `revenue line ${id} is not a credit note (its amount ${formatMoney(amount, currencyDigits(line.currency))} is not negative)`;
  if (!lines.contractIds.has(line.contractId)) return `revenue line ${id} is on contract ${line.contractId}, which none of the disputed lines is on`;
  if (line.createdAt < lines.createdAt) return `revenue line ${id} was created before the dispute was opened`;
  return null;
}
