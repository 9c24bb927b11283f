import type { Knex } from 'knex';
import { lockRow, lockRowsShared } from '../db';
import { forbidden, notFound, unprocessable } from '../domain/errors';
import { assertIfMatch, referralEtag } from '../domain/etag';
import { assertFits, isArchivedAt, plannedArchive, plannedCreation, plannedReplacement, sameTerms } from '../domain/referral-rules';
import { findBunit } from '../repositories/bunit.repository';
import { findContract } from '../repositories/contract.repository';
import { findReferral, findReferralsOfContract, listReferrals, type ReferralRecord } from '../repositories/referral.repository';
import { lastSettledDay } from '../repositories/settlement.repository';
import type { ReferralCreate, ReferralListQuery, ReferralUpdate } from '../schemas/referral';
import { listAuditEvents } from '../repositories/audit.repository';
import type { ServiceContext } from './context';
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
      await lockRowsShared(trx, 'business_units', [bunitId, input.referrer.id]);
      const owner = await findBunit(trx, bunitId);
      if (!owner || isArchivedAt(owner.archivedAt, nowIso)) {
        throw unprocessable('invalid-reference', `Business unit ${bunitId} is archived and owns no new referrals.`, [
          { path: 'body.contract.id', message: 'must name an active contract of an active business unit' },
        ]);
      }
      // R2.
      const referrer = await findBunit(trx, input.referrer.id);
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
      // R3, then R4 and R5 among the contract's referrals.
      const terms = plannedCreation(input, uow);
      const referrals = await findReferralsOfContract(trx, contract.id);
      assertFits(contract.id, { id: null, referrerId: referrer.id, ...terms }, referrals, (at) => uow.dayOf(at));
      return writeNewReferral(uow, contract, referrer, terms);
    });
  }

  /** PUT (R6–R10, then R4 and R5). A PUT that changes nothing answers the referral as it is. */
  async update(bunitId: number, id: number, input: ReferralUpdate, by: Acting, ifMatch?: string): Promise<ReferralRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { current, referrals } = await this.lockForChange(uow, bunitId, id, ifMatch);
      const terms = plannedReplacement(
        current,
        {
          contractId: input.contract.id,
          referrerId: input.referrer.id,
          percentage: input.percentage,
          billingStartDate: input.billingStartDate,
          billingEndDate: input.billingEndDate,
        },
        uow,
        await lastSettledDay(uow.trx, id),
      );
      if (sameTerms(current, terms)) return current;
      assertFits(current.contractId, { ...current, ...terms }, referrals, (at) => uow.dayOf(at));
      return writeReferralTerms(uow, current, terms, 'update');
    });
  }

  /** R10: archive now or at a future instant; again before that instant reschedules. */
  async archive(bunitId: number, id: number, at: Date | undefined, by: Acting, ifMatch?: string): Promise<void> {
    await withUnitOfWork(this.ctx, by, async (uow) => {
      const { current, referrals } = await this.lockForChange(uow, bunitId, id, ifMatch);
      const terms = plannedArchive(current, at ? at.toISOString() : uow.nowIso, uow);
      if (!terms) return;
      // Moving a scheduled archive later lengthens the window: the rules must still hold.
      assertFits(current.contractId, { ...current, ...terms }, referrals, (day) => uow.dayOf(day));
      await writeReferralTerms(uow, current, terms, 'archive');
    });
  }

  /**
   * Loads a referral for a change, under the lock of its contract, with the contract's other
   * referrals; only the owner may change it (R11). A referral never changes contract, so the
   * contract id read before the lock stays right.
   */
  private async lockForChange(uow: UnitOfWork, bunitId: number, id: number, ifMatch?: string) {
    const { contractId } = await this.get(bunitId, id, uow.trx);
    await lockRow(uow.trx, 'contracts', contractId);
    const referrals = await findReferralsOfContract(uow.trx, contractId);
    const current = referrals.find((r) => r.id === id)!;
    if (current.contractBunitId !== bunitId) {
      throw forbidden(`Only the owner of contract ${current.contractId} (business unit ${current.contractBunitId}) may change referral ${id}.`);
    }
    assertIfMatch(ifMatch, referralEtag(current));
    return { current, referrals };
  }
}
