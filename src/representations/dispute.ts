import { currencyDigits } from '../domain/currency';
import { formatMinor } from '../domain/settlement-math';
import type { DisputeRecord } from '../repositories/dispute.repository';

/** A dispute as the API shows it (SPEC §15), to HTTP clients and in events. */
export function presentDispute(d: DisputeRecord, lineIds: number[]) {
  return {
    id: d.id,
    statementId: d.statementId,
    bunitId: d.bunitId,
    raisedBy: d.raisedBy,
    lineIds,
    amount: formatMinor(d.amountMinor, currencyDigits(d.currency)),
    currency: d.currency,
    reasonCode: d.reasonCode,
    comment: d.comment,
    status: d.status,
    resolution:
      d.status === 'open'
        ? null
        : {
            by: d.resolvedBy!,
            date: d.endedDate!,
            outcome: d.outcome!,
            reason: d.resolutionReason,
            correction:
              d.correctionChangeRequestId === null && d.correctionRevenueLineId === null
                ? null
                : { changeRequestId: d.correctionChangeRequestId, revenueLineId: d.correctionRevenueLineId },
          },
    createdDate: d.createdAt,
  };
}
