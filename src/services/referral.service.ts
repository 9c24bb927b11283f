import type { Knex } from 'knex';
import { lockRow } from '../db';
import { formatDecimal } from '../domain/decimal';
import { conflict, notFound, unprocessable, validationFailed } from '../domain/errors';
import { assertIfMatch, referralEtag } from '../domain/etag';
import { assertFits, isArchivedAt, plannedCreation, sameTerms, type ReferralTerms } from '../domain/referral-rules';
import type { ChangeRequestRecord } from '../repositories/change-request.repository';
import { findBunitsLockedShared } from '../repositories/bunit.repository';
import { findContract } from '../repositories/contract.repository';
import { findReferral, findReferralsOfContract, listReferrals, type ReferralRecord } from '../repositories/referral.repository';
import type { BusinessCalendar } from '../clock';
import type { RangeSide } from '../schemas/common';
import type { AmendmentCreate } from '../schemas/change-request';
import type { ReferralCreate, ReferralListQuery, ReferralUpdate } from '../schemas/referral';
import { listAuditEvents } from '../repositories/audit.repository';
import type { ServiceContext } from './context';
import { changePending, openChangeRequest } from './approval.service';
import {
  applyArchive,
  countingReferrals,
  lockOwnedReferral,
  plannedAmendmentChecked,
  plannedArchiveChecked,
  plannedReplacementChecked,
} from './referral-changes';
import { writeNewReferral, writeReferralTerms } from './referral-writer';
import { withUnitOfWork, type Acting, type UnitOfWork } from './unit-of-work';

export class ReferralService {
  constructor(private readonly ctx: ServiceContext) {}

  /** R11: visible under a BU that owns its contract or is its referrer; elsewhere "not found". */
  async get(bunitId: number, id: number, db: Knex = this.ctx.db): Promise<ReferralRecord> {
    const referral = await findReferral(db, id);
    if (!referral || (referral.contractBunitId !== bunitId && referral.referrerId !== bunitId)) {
      throw notFound(`Referral ${id} does not exist under business unit ${bunitId}.`);
    }
    return referral;
  }

  /** The audit trail of a referral, oldest first (SPEC §7.4); visible where the referral is (R11). */
  async history(bunitId: number, id: number, page: { limit: number; offset: number }) {
    await this.get(bunitId, id);
    return listAuditEvents(this.ctx.db, 'referral', id, page);
  }

  list(bunitId: number, query: ReferralListQuery) {
    const { calendar } = this.ctx;
    return listReferrals(
      this.ctx.db,
      {
        bunitId,
        role: query.role,
        contractId: query.contractId,
        referrerId: query.referrerId,
        activeOn: query.activeOn
          ? { day: query.activeOn, nextDayStartsIso: calendar.startOfDayAfter(query.activeOn) }
          : undefined,
        archived: query.archived,
        nowIso: calendar.nowIso(),
        status: query.status,
        updatedSince: query.updatedSince?.toISOString(),
        created: query.createdDate && {
          from: query.createdDate.from && rangeStart(calendar, query.createdDate.from),
          before: query.createdDate.to && rangeEnd(calendar, query.createdDate.to),
        },
        billingEnd: query.billingEndDate,
      },
      query.sort,
      query,
    );
  }

  async create(bunitId: number, input: ReferralCreate, by: Acting): Promise<ReferralRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { trx, nowIso } = uow;
      // R1. The contract row lock serialises every change to this contract's referrals (R4, R5).
      const locked = await lockRow(trx, 'contracts', input.contract.id);
      const contract = locked ? await findContract(trx, input.contract.id) : undefined;
      if (!contract || contract.bunitId !== bunitId || isArchivedAt(contract.archivedAt, nowIso)) {
        throw unprocessable(
          'invalid-reference',
          `Contract ${input.contract.id} is not an active contract of business unit ${bunitId}.`,
          [{ path: 'body.contract.id', message: 'must name an active contract of the business unit in the path' }],
        );
      }
      // An archived business unit owns no new referrals, and is named as no new referrer (README);
      // the share locks make a concurrent archive of either wait for this transaction.
      const units = await findBunitsLockedShared(trx, [bunitId, input.referrer.id]);
      const owner = units.get(bunitId);
      if (!owner || isArchivedAt(owner.archivedAt, nowIso)) {
        throw unprocessable('invalid-reference', `Business unit ${bunitId} is archived and owns no new referrals.`, [
          { path: 'body.contract.id', message: 'must name an active contract of an active business unit' },
        ]);
      }
      // R2.
      const referrer = units.get(input.referrer.id);
      if (!referrer || isArchivedAt(referrer.archivedAt, nowIso)) {
        throw unprocessable('invalid-reference', `Business unit ${input.referrer.id} does not exist or is archived.`, [
          { path: 'body.referrer.id', message: 'must name an active business unit' },
        ]);
      }
      if (referrer.id === contract.bunitId) {
        throw unprocessable('self-referral', `Business unit ${referrer.id} owns contract ${contract.id} and cannot refer it.`, [
          { path: 'body.referrer.id', message: 'must not be the owner of the contract' },
        ]);
      }
      // R3, then R4 and R5 among the contract's referrals (a pending one counts, a denied one does not).
      const terms = plannedCreation(input, uow);
      const referrals = await findReferralsOfContract(trx, contract.id);
      assertFits(contract.id, { id: null, referrerId: referrer.id, ...terms }, countingReferrals(referrals), (at) => uow.dayOf(at));
      if (!this.makerChecker) return writeNewReferral(uow, contract, referrer, terms);
      // Maker-checker: the referral exists, pending, and its creation waits for another key.
      const pending = await writeNewReferral(uow, contract, referrer, terms, 'pending');
      const cr = await openChangeRequest(uow, pending, 'create', {
        contract: { id: contract.id },
        referrer: { id: referrer.id },
        ...proposedTerms(terms),
      });
      return { ...pending, pendingChange: { id: cr.id, kind: 'create', requestedAt: cr.requestedAt }, version: pending.version + 1 };
    });
  }

  /**
   * PUT (R6–R10, then R4 and R5). A PUT that changes nothing answers the referral as it is. In
   * maker-checker mode a PUT that changes the terms becomes a change request, checked now and
   * applied when approved.
   */
  async update(bunitId: number, id: number, input: ReferralUpdate, by: Acting, ifMatch?: string): Promise<ReferralOutcome> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { current, referrals } = await this.lockForChange(uow, bunitId, id, ifMatch);
      assertChangeable(current, uow.nowIso);
      const replacement = {
        contractId: input.contract.id,
        referrerId: input.referrer.id,
        percentage: input.percentage,
        billingStartDate: input.billingStartDate,
        billingEndDate: input.billingEndDate,
      };
      const terms = await plannedReplacementChecked(uow, current, referrals, replacement);
      if (sameTerms(current, terms)) return { referral: current };
      if (!this.makerChecker) return { referral: await writeReferralTerms(uow, current, terms, 'update') };
      const proposed = {
        percentage: formatDecimal(input.percentage),
        billingStartDate: replacement.billingStartDate ?? current.billingStartDate,
        billingEndDate: replacement.billingEndDate ?? null,
      };
      return { changeRequest: await openChangeRequest(uow, current, 'update', proposed) };
    });
  }

  /**
   * R10: archive now or at a future instant; again before that instant reschedules. In
   * maker-checker mode it becomes a change request (null: nothing to archive).
   */
  async archive(bunitId: number, id: number, at: Date | undefined, by: Acting, ifMatch?: string): Promise<{ changeRequest: ChangeRequestRecord } | null> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { current, referrals } = await this.lockForChange(uow, bunitId, id, ifMatch);
      // Archived already, or denied (it counts for nothing): nothing to do.
      if (current.status === 'denied' || isArchivedAt(current.archivedAt, uow.nowIso)) return null;
      if (current.pendingChange) throw changePending(current);
      const when = at ? at.toISOString() : uow.nowIso;
      if (!plannedArchiveChecked(uow, current, referrals, when)) return null;
      if (!this.makerChecker) {
        await applyArchive(uow, current, referrals, when);
        return null;
      }
      return { changeRequest: await openChangeRequest(uow, current, 'archive', { archivedDate: at ? when : null }) };
    });
  }

  private get makerChecker(): boolean {
    return this.ctx.approvalMode === 'maker-checker';
  }

  /**
   * Loads a referral for a change, under the lock of its contract, with the contract's other
   * referrals; only the owner may change it (R11). A referral never changes contract, so the
   * contract id read before the lock stays right.
   */
  private async lockForChange(uow: UnitOfWork, bunitId: number, id: number, ifMatch?: string) {
    const { current, referrals } = await lockOwnedReferral(uow, bunitId, id);
    assertIfMatch(ifMatch, referralEtag(current));
    return { current, referrals };
  }

  /**
   * §12: asks for an amendment of the referral's terms, settled days included: always a change
   * request (both approval modes), checked against R3, R4 and R5 now and applied when approved.
   */
  async amend(bunitId: number, id: number, input: AmendmentCreate, by: Acting): Promise<ChangeRequestRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { current, referrals } = await lockOwnedReferral(uow, bunitId, id);
      if (current.status === 'denied') throw conflict('archived', `Referral ${current.id} was denied and is read-only.`);
      if (current.pendingChange) throw changePending(current);
      const terms = plannedAmendmentChecked(uow, current, referrals, input);
      if (sameTerms(current, terms)) {
        throw validationFailed([{ path: 'body', message: 'corrects nothing: the referral has these terms already' }]);
      }
      const proposed = {
        ...(input.effectiveFrom !== undefined ? { effectiveFrom: input.effectiveFrom } : {}),
        ...(input.percentage !== undefined ? { percentage: formatDecimal(input.percentage) } : {}),
        ...(input.billingStartDate !== undefined ? { billingStartDate: input.billingStartDate } : {}),
        ...(input.billingEndDate !== undefined ? { billingEndDate: input.billingEndDate } : {}),
      };
      return openChangeRequest(uow, current, 'amend', proposed, input.reason);
    });
  }
}

/** The first instant of a range's start: a date's first instant in the business time zone, or the timestamp. */
const rangeStart = (calendar: BusinessCalendar, side: RangeSide) => ('date' in side ? calendar.startOf(side.date) : side.instant.toISOString());
/** The instant after a range's (inclusive) end. */
const rangeEnd = (calendar: BusinessCalendar, side: RangeSide) =>
  'date' in side ? calendar.startOfDayAfter(side.date) : new Date(side.instant.getTime() + 1).toISOString();

/** What a change answers: the referral as changed, or the change request that waits for a decision. */
export type ReferralOutcome = { referral: ReferralRecord } | { changeRequest: ChangeRequestRecord };

/** A PUT may change a referral that is not archived (R10), not denied, and waits for no other request. */
function assertChangeable(current: ReferralRecord, nowIso: string): void {
  if (current.status === 'denied') throw conflict('archived', `Referral ${current.id} was denied and is read-only.`);
  if (isArchivedAt(current.archivedAt, nowIso)) {
    throw conflict('archived', `Referral ${current.id} was archived on ${current.archivedAt} and is read-only.`);
  }
  if (current.pendingChange) throw changePending(current);
}

/** Terms as a change request shows them. */
const proposedTerms = (t: ReferralTerms) => ({
  percentage: formatDecimal(t.history[t.history.length - 1]!.percentage),
  billingStartDate: t.billingStartDate,
  billingEndDate: t.billingEndDate,
});
