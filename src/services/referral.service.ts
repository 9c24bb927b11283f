import type { Knex } from 'knex';
import { lockRow, lockRowsShared, transaction } from '../db';
import { formatDecimal } from '../domain/decimal';
import { conflict, forbidden, notFound, unprocessable, validationFailed } from '../domain/errors';
import { assertIfMatch, referralEtag } from '../domain/etag';
import {
  billableSegments,
  changePercentage,
  effectiveWindow,
  findOverAllocation,
  initialHistory,
  rangesOverlap,
  type PercentageSegment,
  type ReferralTimeline,
} from '../domain/referral-timeline';
import { findBunit } from '../repositories/bunit.repository';
import { findContract } from '../repositories/contract.repository';
import {
  findReferralsOfContract,
  findReferral,
  insertReferral,
  listReferrals,
  setReferralArchivedAt,
  updateReferral,
  type ReferralRecord,
} from '../repositories/referral.repository';
import { lastSettledDay } from '../repositories/settlement.repository';
import type { ReferralCreate, ReferralListQuery, ReferralUpdate } from '../schemas/referral';
import { insertAuditEvents, listAuditEvents } from '../repositories/audit.repository';
import { auditEvent, changesBetween, type AuditActor } from './audit';
import { isArchivedAt, type ServiceContext } from './context';

/** What the audit trail compares before and after a change. */
const snapshot = (r: Pick<ReferralRecord, 'billingStartDate' | 'billingEndDate' | 'archivedAt' | 'history'>) => ({
  percentage: formatDecimal(r.history[r.history.length - 1]!.percentage),
  billingStartDate: r.billingStartDate,
  billingEndDate: r.billingEndDate,
  archivedDate: r.archivedAt,
  percentageHistory: r.history.map((h) => ({ from: h.from, to: h.to, percentage: formatDecimal(h.percentage) })),
});

/** The window and percentages a referral would have once a change is saved. */
interface Candidate {
  id: number | null;
  referrerId: number;
  billingStartDate: string;
  billingEndDate: string | null;
  archivedAt: string | null;
  history: PercentageSegment[];
}

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

  async create(bunitId: number, input: ReferralCreate, actor: AuditActor): Promise<ReferralRecord> {
    const { calendar } = this.ctx;
    return transaction(this.ctx.db, async (trx) => {
      const nowIso = calendar.nowIso();
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
      // R3.
      const billingStartDate = input.billingStartDate ?? calendar.today();
      const billingEndDate = input.billingEndDate ?? null;
      assertEndNotBeforeStart(billingStartDate, billingEndDate);

      const candidate: Candidate = {
        id: null,
        referrerId: referrer.id,
        billingStartDate,
        billingEndDate,
        archivedAt: null,
        history: initialHistory(billingStartDate, input.percentage),
      };
      await this.assertFits(trx, contract.id, candidate, nowIso);
      const id = await insertReferral(trx, {
        contractId: contract.id,
        referrerId: referrer.id,
        percentage: formatDecimal(input.percentage),
        billingStartDate,
        billingEndDate,
        history: candidate.history,
        createdAt: nowIso,
      });
      const changes = [
        { field: 'contract', from: null, to: contract.id },
        { field: 'referrer', from: null, to: referrer.id },
        ...changesBetween(null, snapshot(candidate)),
      ];
      await insertAuditEvents(trx, [auditEvent(actor, 'referral', id, 'create', changes, nowIso)]);
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
        billingStartDate,
        billingEndDate,
        createdAt: nowIso,
        archivedAt: null,
        version: 1,
        contractVersion: contract.version,
        referrerVersion: referrer.version,
        history: candidate.history,
      };
    });
  }

  async update(bunitId: number, id: number, input: ReferralUpdate, actor: AuditActor, ifMatch?: string): Promise<ReferralRecord> {
    const { calendar } = this.ctx;
    const { contractId } = await this.get(bunitId, id);
    await transaction(this.ctx.db, async (trx) => {
      const current = await this.lockForChange(trx, contractId, bunitId, id, ifMatch);
      const nowIso = calendar.nowIso();
      const today = calendar.today();
      if (isArchivedAt(current.archivedAt, nowIso)) {
        throw conflict('archived', `Referral ${id} was archived on ${current.archivedAt} and is read-only.`);
      }
      // R6.
      if (input.contract.id !== current.contractId || input.referrer.id !== current.referrerId) {
        throw conflict(
          'immutable-relation',
          `Referral ${id} is for contract ${current.contractId} and referrer ${current.referrerId}; relations cannot change.`,
        );
      }
      // R7.
      const billingStartDate = input.billingStartDate ?? current.billingStartDate;
      if (billingStartDate !== current.billingStartDate && !(current.billingStartDate > today && billingStartDate > today)) {
        throw conflict(
          'start-date-locked',
          `billingStartDate can change only while both the stored (${current.billingStartDate}) and the new value (${billingStartDate}) are after today (${today}).`,
        );
      }
      const billingEndDate = input.billingEndDate ?? null;
      assertEndNotBeforeStart(billingStartDate, billingEndDate);
      // R9.
      const settledThrough = await lastSettledDay(trx, id);
      if (billingEndDate !== null && settledThrough !== null && billingEndDate < settledThrough) {
        throw conflict(
          'settled-period-locked',
          `Referral ${id} is settled through ${settledThrough}; billingEndDate cannot move before that day.`,
        );
      }

      // R8.
      const history =
        billingStartDate !== current.billingStartDate
          ? initialHistory(billingStartDate, input.percentage)
          : changePercentage(current.history, billingStartDate, input.percentage, today);

      await this.assertFits(trx, current.contractId, { ...current, billingStartDate, billingEndDate, history }, nowIso);
      await updateReferral(trx, id, {
        percentage: formatDecimal(history[history.length - 1]!.percentage),
        billingStartDate,
        billingEndDate,
        history,
      });
      const changes = changesBetween(snapshot(current), snapshot({ ...current, billingStartDate, billingEndDate, history }));
      await insertAuditEvents(trx, [auditEvent(actor, 'referral', id, 'update', changes, nowIso)]);
    });
    return this.get(bunitId, id);
  }

  /** R10: archive now or at a future instant; again before that instant reschedules. */
  async archive(bunitId: number, id: number, at: Date | undefined, actor: AuditActor, ifMatch?: string): Promise<void> {
    const { calendar } = this.ctx;
    const { contractId } = await this.get(bunitId, id);
    await transaction(this.ctx.db, async (trx) => {
      const current = await this.lockForChange(trx, contractId, bunitId, id, ifMatch);
      const nowIso = calendar.nowIso();
      if (isArchivedAt(current.archivedAt, nowIso)) return;
      const when = at ? at.toISOString() : nowIso;
      if (when < nowIso) {
        throw validationFailed([{ path: 'query.at', message: 'must not lie in the past' }]);
      }
      // Moving a scheduled archive later lengthens the window: the rules must still hold.
      await this.assertFits(trx, current.contractId, { ...current, archivedAt: when }, nowIso);
      await setReferralArchivedAt(trx, id, when);
      await insertAuditEvents(trx, [
        auditEvent(actor, 'referral', id, 'archive', [{ field: 'archivedDate', from: current.archivedAt, to: when }], nowIso),
      ]);
    });
  }

  /** Loads a referral for a change under the contract lock; only the owner may change it (R11). */
  /**
   * Loads a referral for a change, under the lock of its contract; only the owner may change it
   * (R11). The lock is the transaction's first statement: on SQLite a transaction that read before
   * it wrote could not wait for another writer. A referral never changes contract, so the
   * contract id read before the transaction stays right.
   */
  private async lockForChange(
    trx: Knex.Transaction,
    contractId: number,
    bunitId: number,
    id: number,
    ifMatch?: string,
  ): Promise<ReferralRecord> {
    await lockRow(trx, 'contracts', contractId);
    const current = await this.get(bunitId, id, trx);
    if (current.contractBunitId !== bunitId) {
      throw forbidden(`Only the owner of contract ${current.contractId} (business unit ${current.contractBunitId}) may change referral ${id}.`);
    }
    assertIfMatch(ifMatch, referralEtag(current));
    return current;
  }

  /**
   * R4 and R5 against the other referrals of the contract, with the candidate in place. Archived
   * referrals count with the days they were billable (up to the day before their archive day):
   * a referrer must not earn twice on one day through an archived and a new referral.
   */
  private async assertFits(trx: Knex.Transaction, contractId: number, candidate: Candidate, nowIso: string): Promise<void> {
    const others = (await findReferralsOfContract(trx, contractId)).filter((r) => r.id !== candidate.id);
    const timeline = (r: Candidate | ReferralRecord): ReferralTimeline => ({
      billingStartDate: r.billingStartDate,
      billingEndDate: r.billingEndDate,
      archiveDay: r.archivedAt === null ? null : this.ctx.calendar.dayOf(r.archivedAt),
      history: r.history,
    });
    const window = effectiveWindow(timeline(candidate));
    const clash = others.find((o) => {
      if (o.referrerId !== candidate.referrerId || !window) return false;
      const other = effectiveWindow(timeline(o));
      return other !== null && rangesOverlap(window, other);
    });
    if (clash) {
      throw conflict(
        'overlapping-referral',
        `Referral ${clash.id} already refers contract ${contractId} for business unit ${candidate.referrerId} in an overlapping billing window (${clash.billingStartDate} to ${clash.billingEndDate ?? 'open end'}).`,
      );
    }
    const over = findOverAllocation([candidate, ...others].map((r) => billableSegments(timeline(r))));
    if (over) {
      throw conflict(
        'over-allocated',
        `On ${over.day} the referrals of contract ${contractId} would sum to ${formatDecimal(over.sum)} %, more than 100 %.`,
      );
    }
  }
}

function assertEndNotBeforeStart(start: string, end: string | null): void {
  if (end !== null && end < start) {
    throw validationFailed([{ path: 'body.billingEndDate', message: `must not be before billingStartDate (${start})` }]);
  }
}
