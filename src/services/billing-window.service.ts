import { daysInclusive } from '../domain/dates';
import { formatDecimal } from '../domain/decimal';
import { billableSegments } from '../domain/referral-timeline';
import { listReferrals } from '../repositories/referral.repository';
import type { BillingWindowQuery } from '../schemas/billing-window';
import type { ServiceContext } from './context';

/** SPEC §6.4: per visible referral, the billable segments inside a date range. */
export class BillingWindowService {
  constructor(private readonly ctx: ServiceContext) {}

  async windows(bunitId: number, query: BillingWindowQuery) {
    const { calendar } = this.ctx;
    // Every referral visible to the unit whose window can touch the range; the exact cut
    // (archive day, percentage segments) is the pure domain's.
    const page = await listReferrals(
      this.ctx.db,
      { bunitId, role: 'any', archived: 'include', nowIso: calendar.nowIso(), overlaps: { from: query.from, to: query.to } },
      { field: 'id', descending: false },
      { limit: Number.MAX_SAFE_INTEGER, offset: 0 },
    );
    // A pending or denied referral is billable on no day (SPEC §11).
    const all = page.rows
      .filter((r) => r.status === 'approved')
      .map((r) => ({
        referral: { id: r.id },
        contract: { id: r.contractId, number: r.contractNumber, currency: r.contractCurrency, bunitId: r.contractBunitId },
        referrer: { id: r.referrerId, code: r.referrerCode, name: r.referrerName },
        segments: billableSegments(
          {
            billingStartDate: r.billingStartDate,
            billingEndDate: r.billingEndDate,
            archiveDay: r.archivedAt === null ? null : (r.archiveDay ?? calendar.dayOf(r.archivedAt)),
            history: r.history,
          },
          { from: query.from, to: query.to },
        ).map((s) => ({ from: s.from, to: s.to!, days: daysInclusive(s.from, s.to!), percentage: formatDecimal(s.percentage) })),
      }))
      .filter((w) => w.segments.length > 0);
    return { total: all.length, rows: all.slice(query.offset, query.offset + query.limit) };
  }
}
