import { formatDecimal } from '../domain/decimal';
import { percentageOn } from '../domain/referral-timeline';
import type { ListedReferral } from '../repositories/referral.repository';
import type { Referral } from '../schemas/referral';

/**
 * A referral as the API shows it (SPEC §3.3), to HTTP clients and in events: `percentage` is the
 * one in effect on `today` (before the start, the one that will apply).
 */
export const presentReferral = (r: ListedReferral, today: string): Referral => ({
  id: r.id,
  contract: { id: r.contractId, number: r.contractNumber, currency: r.contractCurrency },
  referrer: { id: r.referrerId, code: r.referrerCode, name: r.referrerName },
  percentage: formatDecimal(percentageOn(r.history, today)),
  billingStartDate: r.billingStartDate,
  billingEndDate: r.billingEndDate,
  createdDate: r.createdAt,
  archivedDate: r.archivedAt,
  percentageHistory: r.history.map((s) => ({ from: s.from, to: s.to, percentage: formatDecimal(s.percentage) })),
  status: r.status,
  updatedDate: r.updatedAt,
  pendingChange: r.pendingChange && { id: r.pendingChange.id, kind: r.pendingChange.kind, requestedDate: r.pendingChange.requestedAt },
});
