import { formatDecimal } from '../domain/decimal';
import { percentageOn } from '../domain/referral-timeline';
import type { BunitRecord } from '../repositories/bunit.repository';
import type { ContractRecord } from '../repositories/contract.repository';
import type { PageResult } from '../repositories/paging';
import type { ReferralRecord } from '../repositories/referral.repository';
import type { BusinessUnit } from '../schemas/bunit';
import type { Contract } from '../schemas/contract';
import type { Referral } from '../schemas/referral';

/** Records → the API's representations (SPEC §3): camelCase, decimals as canonical strings. */

export const presentBunit = (b: BunitRecord): BusinessUnit => ({
  id: b.id,
  code: b.code,
  name: b.name,
  createdDate: b.createdAt,
  archivedDate: b.archivedAt,
});

export const presentContract = (c: ContractRecord): Contract => ({
  id: c.id,
  bunitId: c.bunitId,
  number: c.number,
  name: c.name,
  customer: c.customer,
  currency: c.currency,
  startDate: c.startDate,
  endDate: c.endDate,
  createdDate: c.createdAt,
  archivedDate: c.archivedAt,
});

export const presentReferral = (r: ReferralRecord, today: string): Referral => ({
  id: r.id,
  contract: { id: r.contractId, number: r.contractNumber, currency: r.contractCurrency },
  referrer: { id: r.referrerId, code: r.referrerCode, name: r.referrerName },
  percentage: formatDecimal(percentageOn(r.history, today)),
  billingStartDate: r.billingStartDate,
  billingEndDate: r.billingEndDate,
  createdDate: r.createdAt,
  archivedDate: r.archivedAt,
  percentageHistory: r.history.map((s) => ({ from: s.from, to: s.to, percentage: formatDecimal(s.percentage) })),
});

export function presentPage<R, T>(page: PageResult<R>, query: { limit: number; offset: number }, present: (r: R) => T) {
  return { data: page.rows.map(present), meta: { total: page.total, limit: query.limit, offset: query.offset } };
}
