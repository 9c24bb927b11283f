import { lockRow } from '../db';
import { forbidden, notFound } from '../domain/errors';
import {
  assertFits,
  plannedAmendment,
  plannedArchive,
  plannedReplacement,
  sameTerms,
  type AmendmentInput,
  type ReferralReplacement,
  type ReferralTerms,
} from '../domain/referral-rules';
import { findReferral, findReferralsOfContract, type ReferralRecord } from '../repositories/referral.repository';
import { lastSettledDay } from '../repositories/settlement.repository';
import { writeReferralTerms } from './referral-writer';
import type { UnitOfWork } from './unit-of-work';

/**
 * A referral's changes as they are applied, whoever applies them: the PUT and DELETE in APPROVAL_MODE
 * none, or the approval of their change request (SPEC §11), which applies the change as if it were
 * made at that instant. The same rules (src/domain/referral-rules.ts), the same writer.
 */

/** A referral under the lock of its contract, with all of the contract's referrals (R4, R5). */
export async function lockReferral(uow: UnitOfWork, id: number): Promise<{ current: ReferralRecord; referrals: ReferralRecord[] }> {
  // A referral never changes contract: the contract read before the lock stays right.
  const found = await findReferral(uow.trx, id);
  if (!found) throw notFound(`Referral ${id} does not exist.`);
  await lockRow(uow.trx, 'contracts', found.contractId);
  const referrals = await findReferralsOfContract(uow.trx, found.contractId);
  return { current: referrals.find((r) => r.id === id)!, referrals };
}

/** A referral to change: under the lock of its contract; only the owner of the contract may change it (R11). */
export async function lockOwnedReferral(uow: UnitOfWork, bunitId: number, id: number): Promise<{ current: ReferralRecord; referrals: ReferralRecord[] }> {
  const seen = await findReferral(uow.trx, id);
  if (!seen || (seen.contractBunitId !== bunitId && seen.referrerId !== bunitId)) {
    throw notFound(`Referral ${id} does not exist under business unit ${bunitId}.`);
  }
  const locked = await lockReferral(uow, id);
  if (locked.current.contractBunitId !== bunitId) {
    throw forbidden(`Only the owner of contract ${locked.current.contractId} (business unit ${locked.current.contractBunitId}) may change referral ${id}.`);
  }
  return locked;
}

/** The referrals that count for R4 and R5: a denied one counts for nothing, a pending one already counts. */
export const countingReferrals = (referrals: readonly ReferralRecord[]) => referrals.filter((r) => r.status !== 'denied');

/** R4 and R5 for a referral with these terms among its contract's referrals. */
export function assertFitsAmong(uow: UnitOfWork, current: ReferralRecord, terms: ReferralTerms, referrals: readonly ReferralRecord[]): void {
  assertFits(current.contractId, { ...current, ...terms }, countingReferrals(referrals), (at) => uow.dayOf(at));
}

/** R6–R10 now, then R4 and R5: the terms a PUT would give (the current ones when it changes nothing). */
export async function plannedReplacementChecked(
  uow: UnitOfWork,
  current: ReferralRecord,
  referrals: readonly ReferralRecord[],
  input: ReferralReplacement,
): Promise<ReferralTerms> {
  const terms = plannedReplacement(current, input, uow, await lastSettledDay(uow.trx, current.id));
  if (!sameTerms(current, terms)) assertFitsAmong(uow, current, terms, referrals);
  return terms;
}

/** Applies a PUT's content now; the referral as it is afterwards. */
export async function applyReplacement(
  uow: UnitOfWork,
  current: ReferralRecord,
  referrals: readonly ReferralRecord[],
  input: ReferralReplacement,
  options: { reason?: string } = {},
): Promise<ReferralRecord> {
  const terms = await plannedReplacementChecked(uow, current, referrals, input);
  return writeReferralTerms(uow, current, terms, 'update', options);
}

/** R10 (archive at `when`, now or later), then R4 and R5 for a later archive; null when it is archived already. */
export function plannedArchiveChecked(uow: UnitOfWork, current: ReferralRecord, referrals: readonly ReferralRecord[], when: string): ReferralTerms | null {
  const terms = plannedArchive(current, when, uow);
  if (terms) assertFitsAmong(uow, current, terms, referrals);
  return terms;
}

export async function applyArchive(
  uow: UnitOfWork,
  current: ReferralRecord,
  referrals: readonly ReferralRecord[],
  when: string,
  options: { reason?: string } = {},
): Promise<ReferralRecord | null> {
  const terms = plannedArchiveChecked(uow, current, referrals, when);
  return terms ? writeReferralTerms(uow, current, terms, 'archive', options) : null;
}

/** §12: an amendment's corrected terms, with R3, R4 and R5 on every day; the current terms when it corrects nothing. */
export function plannedAmendmentChecked(uow: UnitOfWork, current: ReferralRecord, referrals: readonly ReferralRecord[], input: AmendmentInput): ReferralTerms {
  const terms = plannedAmendment(current, input);
  if (!sameTerms(current, terms)) assertFitsAmong(uow, current, terms, referrals);
  return terms;
}

/** Applies an approved amendment: the corrected terms, a new revision of them (the next run settles the difference). */
export async function applyAmendment(
  uow: UnitOfWork,
  current: ReferralRecord,
  referrals: readonly ReferralRecord[],
  input: AmendmentInput,
  options: { reason?: string } = {},
): Promise<ReferralRecord> {
  return writeReferralTerms(uow, current, plannedAmendmentChecked(uow, current, referrals, input), 'amend', options);
}
