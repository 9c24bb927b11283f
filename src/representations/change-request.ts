import type { ChangeRequestRecord } from '../repositories/change-request.repository';

/** A change request as the API shows it (SPEC §11), to HTTP clients and in events. */
export const presentChangeRequest = (cr: ChangeRequestRecord) => ({
  id: cr.id,
  bunitId: cr.bunitId,
  referralId: cr.referralId,
  kind: cr.kind,
  status: cr.status,
  proposed: cr.proposed,
  reason: cr.reason,
  requestedBy: cr.requestedBy,
  requestedDate: cr.requestedAt,
  decidedBy: cr.decidedBy,
  decidedDate: cr.decidedAt,
  decisionReason: cr.decisionReason,
});
