import { formatDecimal } from '../domain/decimal';
import { sameTerms, type ReferralTerms } from '../domain/referral-rules';
import type { ContractRecord } from '../repositories/contract.repository';
import type { BunitRecord } from '../repositories/bunit.repository';
import { insertReferral, saveReferralTerms, type ReferralRecord, type ReferralStatus } from '../repositories/referral.repository';
import { referralEvent } from './event.service';
import { changesBetween, type EventDraft, type UnitOfWork } from './unit-of-work';

/**
 * The one place a referral's terms are written, whoever planned them (a POST, a PUT, a DELETE,
 * the approval of a change request): the row, its history, its version, and the record of the
 * change, all in the caller's unit of work. A plan that changes nothing writes nothing.
 */

/** What the audit trail compares before and after a change. */
export const referralSnapshot = (t: ReferralTerms) => ({
  percentage: formatDecimal(t.history[t.history.length - 1]!.percentage),
  billingStartDate: t.billingStartDate,
  billingEndDate: t.billingEndDate,
  archivedDate: t.archivedAt,
  percentageHistory: t.history.map((h) => ({ from: h.from, to: h.to, percentage: formatDecimal(h.percentage) })),
});

export async function writeNewReferral(
  uow: UnitOfWork,
  contract: ContractRecord,
  referrer: BunitRecord,
  terms: ReferralTerms,
  status: ReferralStatus = 'approved',
): Promise<ReferralRecord> {
  const id = await insertReferral(uow.trx, { contractId: contract.id, referrerId: referrer.id, terms, createdAt: uow.nowIso, status });
  uow.record({
    entity: 'referral',
    id,
    action: 'create',
    changes: [
      { field: 'contract', from: null, to: contract.id },
      { field: 'referrer', from: null, to: referrer.id },
      ...changesBetween(null, referralSnapshot(terms)),
    ],
    events: [referralEvent('referral.created', { id, contractBunitId: contract.bunitId, referrerId: referrer.id })],
  });
  // The referral as stored, from what was just written (reading it back would return the same).
  return {
    id,
    contractId: contract.id,
    contractBunitId: contract.bunitId,
    contractNumber: contract.number,
    contractCurrency: contract.currency,
    referrerId: referrer.id,
    referrerCode: referrer.code,
    referrerName: referrer.name,
    ...terms,
    createdAt: uow.nowIso,
    termsRevision: 0,
    adjustedRevision: 0,
    status,
    updatedAt: uow.nowIso,
    pendingChange: null,
    version: 1,
    contractVersion: contract.version,
    referrerVersion: referrer.version,
  };
}

/** Stores planned terms over the current ones; the referral as it is afterwards. */
export async function writeReferralTerms(
  uow: UnitOfWork,
  current: ReferralRecord,
  terms: ReferralTerms,
  action: string,
  options: { reason?: string } = {},
): Promise<ReferralRecord> {
  if (sameTerms(current, terms)) return current;
  const changed = {
    history: !sameTerms(current, { ...current, history: terms.history }),
    window: current.billingStartDate !== terms.billingStartDate || current.billingEndDate !== terms.billingEndDate,
  };
  await saveReferralTerms(uow.trx, current.id, terms, changed, uow.nowIso);
  uow.record({
    entity: 'referral',
    id: current.id,
    action,
    changes: changesBetween(referralSnapshot(current), referralSnapshot(terms)),
    ...(options.reason !== undefined ? { reason: options.reason } : {}),
    events: eventsOfTerms(action, current),
  });
  return {
    ...current,
    ...terms,
    updatedAt: uow.nowIso,
    termsRevision: current.termsRevision + (changed.history || changed.window ? 1 : 0),
    version: current.version + 1,
  };
}

/** The event of a change of terms, by its action: a PUT's (`update`), an archive, an amendment (SPEC §12). */
function eventsOfTerms(action: string, referral: ReferralRecord): EventDraft[] {
  const type = TERMS_EVENTS[action];
  return type ? [referralEvent(type, referral)] : [];
}
const TERMS_EVENTS: Partial<Record<string, 'referral.updated' | 'referral.archived' | 'referral.amended'>> = {
  update: 'referral.updated',
  archive: 'referral.archived',
  amend: 'referral.amended',
};
