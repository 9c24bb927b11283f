import { isUniqueViolation } from '../db';
import { ApiError, conflict, forbidden, notFound, unprocessable, type FieldError } from '../domain/errors';
import {
  amendmentMisfit,
  creditNoteMisfit,
  type DisputeOutcome,
  type DisputeReasonCode,
} from '../domain/statement-lifecycle';
import { findChangeRequest } from '../repositories/change-request.repository';
import {
  endDispute,
  findDispute,
  heldAmong,
  holdDisputedLines,
  insertDispute,
  lineIdsOfDisputes,
  listDisputes,
  subjectsOfDispute,
  type DisputeRecord,
} from '../repositories/dispute.repository';
import { findRevenueLine } from '../repositories/revenue.repository';
import { findLinesOfStatement, findStatement, lockStatement } from '../repositories/statement.repository';
import { presentDispute } from '../representations/dispute';
import type { DisputeListQuery } from '../schemas/dispute';
import type { Actor, ServiceContext } from './context';
import { periodClosed } from './statement-acceptance.service';
import { assertPeriodOpen } from './period-close.service';
import { withUnitOfWork, type Acting, type EventDraft, type UnitOfWork } from './unit-of-work';

/**
 * Disputes over statement lines (SPEC §15). Either party of a statement disputes 1..1000 of its
 * lines; while the dispute is open they are held (a held_lines row each, whose primary key makes
 * "a line is in one open dispute at most" a guarantee of the database). The other party's approver
 * (or an admin) resolves it, never the key that raised it; the raising key (or an admin) may
 * withdraw it. Either way the lines are released. Settled lines never change: an upheld dispute
 * names the correction (an amendment, or a credit note) that settles the difference in a later run.
 */

/** A dispute with its lines, as the API shows it. */
export interface DisputeView {
  dispute: DisputeRecord;
  lineIds: number[];
}

const disputeEvent = (type: 'dispute.opened' | 'dispute.resolved' | 'dispute.withdrawn', d: { id: number; payerId: number; referrerId: number }): EventDraft => ({
  type,
  bunitIds: [d.payerId, d.referrerId],
  data: async (uow) => {
    const dispute = (await findDispute(uow.trx, d.id))!;
    return presentDispute(dispute, (await lineIdsOfDisputes(uow.trx, [d.id])).get(d.id)!);
  },
});

/** The key that raised a dispute, by key (two keys may share a name); the bootstrap admin key by its name. */
const raisedBy = (actor: Actor, d: DisputeRecord) =>
  actor.keyId !== null ? actor.keyId === d.raisedByKeyId : d.raisedByKeyId === null && d.raisedBy === actor.name;

const notOpen = (d: DisputeRecord) => conflict('not-open', `Dispute ${d.id} is ${d.status}, no longer open.`);

export interface OpenDispute {
  lineIds: number[];
  reasonCode: DisputeReasonCode;
  comment: string;
}

export interface Resolution {
  outcome: Extract<DisputeOutcome, 'rejected' | 'upheld'>;
  reason: string;
  changeRequestId?: number | undefined;
  revenueLineId?: number | undefined;
}

export class DisputeService {
  constructor(private readonly ctx: ServiceContext) {}

  /** A dispute visible under the business unit: it pays or earns the dispute's statement. */
  async get(bunitId: number, id: number, db = this.ctx.db): Promise<DisputeView> {
    const dispute = await findDispute(db, id);
    if (!dispute || (dispute.payerId !== bunitId && dispute.referrerId !== bunitId)) {
      throw notFound(`Dispute ${id} does not exist under business unit ${bunitId}.`);
    }
    return { dispute, lineIds: (await lineIdsOfDisputes(db, [id])).get(id)! };
  }

  async list(bunitId: number, query: DisputeListQuery): Promise<{ rows: DisputeView[]; total: number }> {
    const page = await listDisputes(this.ctx.db, { bunitId, status: query.status, statementId: query.statementId }, query.sort, query);
    const lines = await lineIdsOfDisputes(this.ctx.db, page.rows.map((d) => d.id));
    return { rows: page.rows.map((dispute) => ({ dispute, lineIds: lines.get(dispute.id)! })), total: page.total };
  }

  /**
   * Opens a dispute over lines of a statement, all of them or none: a line that is not on the
   * statement is 422 invalid-reference (every one named), a line another open dispute holds 409
   * line-disputed. The statement is locked first, so that a dispute and an acceptance or a close
   * of the same statement happen one after the other.
   */
  open(bunitId: number, statementId: number, input: OpenDispute, by: Acting): Promise<DisputeView> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const statement = await findStatement(uow.trx, statementId);
      if (!statement || (statement.payer.id !== bunitId && statement.referrer.id !== bunitId)) {
        throw notFound(`Statement ${statementId} does not exist under business unit ${bunitId}.`);
      }
      // A close that has claimed the period (SPEC §16) has recorded what it holds: no new dispute.
      // Taken before the statement's row lock, in the order a close takes them (no deadlock).
      await assertPeriodOpen(uow.trx, statement.period, `statement ${statementId} can no longer be disputed`);
      const status = await lockStatement(uow.trx, statementId);
      if (status === 'closed') throw periodClosed(statement);

      const lines = await findLinesOfStatement(uow.trx, statement, input.lineIds);
      if (lines.length < input.lineIds.length) {
        const found = new Set(lines.map((l) => l.id));
        const errors: FieldError[] = [];
        input.lineIds.forEach((id, i) => {
          if (!found.has(id)) errors.push({ path: `body.lineIds.${i}`, message: `line ${id} is not a line of statement ${statementId}` });
        });
        throw unprocessable('invalid-reference', `${errors.length} of the lines named are not lines of statement ${statementId}; nothing was disputed.`, errors);
      }
      const held = await heldAmong(uow.trx, input.lineIds);
      if (held.length > 0) throw lineDisputed(held);

      const amountMinor = lines.reduce((sum, l) => sum + l.amountMinor, 0n);
      const id = await insertDispute(uow.trx, {
        statementId,
        bunitId,
        raisedBy: uow.actor.name,
        raisedByKeyId: uow.actor.keyId,
        reasonCode: input.reasonCode,
        comment: input.comment,
        amountMinor,
        lineCount: lines.length,
        createdAt: uow.nowIso,
      });
      try {
        await holdDisputedLines(uow.trx, id, lines.map((l) => l.id));
      } catch (err) {
        // Another dispute over one of these lines committed after the check (the primary key of held_lines).
        if (isUniqueViolation(err)) throw lineDisputed([]);
        throw err;
      }
      const parties = { id, payerId: statement.payer.id, referrerId: statement.referrer.id };
      uow.record({
        entity: 'dispute',
        id,
        action: 'open',
        changes: [
          { field: 'status', from: null, to: 'open' },
          { field: 'statementId', from: null, to: statementId },
          { field: 'lineIds', from: null, to: lines.map((l) => l.id) },
          { field: 'reasonCode', from: null, to: input.reasonCode },
        ],
        events: [disputeEvent('dispute.opened', parties)],
      });
      return this.get(bunitId, id, uow.trx);
    });
  }

  /**
   * The other party (its approver, or an admin) resolves an open dispute: `rejected`, or `upheld`
   * with the correction that fixes the lines (422 correction-required when there is none that fits).
   */
  resolve(bunitId: number, id: number, resolution: Resolution, by: Acting): Promise<DisputeView> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { dispute } = await this.get(bunitId, id, uow.trx);
      this.assertMayResolve(uow, bunitId, dispute);
      if (dispute.status !== 'open') throw notOpen(dispute);
      const correction = resolution.outcome === 'upheld' ? await this.correctionOf(uow, dispute, resolution) : null;
      return this.end(uow, bunitId, dispute, {
        status: resolution.outcome,
        reason: resolution.reason,
        correctionChangeRequestId: correction?.changeRequestId ?? null,
        correctionRevenueLineId: correction?.revenueLineId ?? null,
      });
    });
  }

  /** The key that raised a dispute, or an admin, withdraws it. */
  withdraw(bunitId: number, id: number, reason: string | undefined, by: Acting): Promise<DisputeView> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const { dispute } = await this.get(bunitId, id, uow.trx);
      if (uow.actor.role !== 'admin' && !raisedBy(uow.actor, dispute)) {
        throw forbidden(`Only the key that raised dispute ${id}, or an admin, may withdraw it.`);
      }
      if (dispute.status !== 'open') throw notOpen(dispute);
      return this.end(uow, bunitId, dispute, {
        status: 'withdrawn',
        reason: reason ?? uow.actor.reason ?? null,
        correctionChangeRequestId: null,
        correctionRevenueLineId: null,
      });
    });
  }

  /** Four eyes (SPEC §15): never the raising key, never a key that may act for the raising party. */
  private assertMayResolve(uow: UnitOfWork, bunitId: number, dispute: DisputeRecord): void {
    if (raisedBy(uow.actor, dispute)) {
      throw new ApiError(403, 'four-eyes', 'Forbidden', `Dispute ${dispute.id} was raised by this key; the other party must resolve it.`);
    }
    if (bunitId === dispute.bunitId) {
      throw forbidden(`Dispute ${dispute.id} was raised by business unit ${dispute.bunitId}; the other party of the statement resolves it.`);
    }
    const { bunitIds } = uow.actor;
    if (uow.actor.role !== 'admin' && bunitIds !== 'all' && bunitIds.includes(dispute.bunitId)) {
      throw forbidden(`This key may act for business unit ${dispute.bunitId}, which raised dispute ${dispute.id}: a key of the other party alone (or an admin) resolves it.`);
    }
  }

  /** The correction an upheld dispute names, checked against its lines; 422 correction-required naming every misfit. */
  private async correctionOf(uow: UnitOfWork, dispute: DisputeRecord, r: Resolution): Promise<{ changeRequestId: number | null; revenueLineId: number | null }> {
    if (r.changeRequestId === undefined && r.revenueLineId === undefined) {
      throw unprocessable(
        'correction-required',
        `An upheld dispute names the correction that fixes its lines: changeRequestId (an amendment of a referral of the lines) or revenueLineId (a credit note on a contract of the lines), created after the dispute.`,
        [{ path: 'body', message: 'must name changeRequestId or revenueLineId' }],
      );
    }
    const subjects = { createdAt: dispute.createdAt, ...(await subjectsOfDispute(uow.trx, dispute.id)) };
    const errors: FieldError[] = [];
    if (r.changeRequestId !== undefined) {
      const misfit = amendmentMisfit(subjects, await findChangeRequest(uow.trx, r.changeRequestId), r.changeRequestId);
      if (misfit) errors.push({ path: 'body.changeRequestId', message: misfit });
    }
    if (r.revenueLineId !== undefined) {
      const misfit = creditNoteMisfit(subjects, await findRevenueLine(uow.trx, r.revenueLineId), r.revenueLineId);
      if (misfit) errors.push({ path: 'body.revenueLineId', message: misfit });
    }
    if (errors.length > 0) {
      throw unprocessable('correction-required', `The correction named does not fix the lines of dispute ${dispute.id}: ${errors.map((e) => e.message).join('; ')}.`, errors);
    }
    return { changeRequestId: r.changeRequestId ?? null, revenueLineId: r.revenueLineId ?? null };
  }

  /** Ends an open dispute (exactly one end wins: 409 not-open for the others) and releases its lines. */
  private async end(
    uow: UnitOfWork,
    bunitId: number,
    dispute: DisputeRecord,
    end: { status: DisputeOutcome; reason: string | null; correctionChangeRequestId: number | null; correctionRevenueLineId: number | null },
  ): Promise<DisputeView> {
    const ended = await endDispute(uow.trx, dispute.id, { ...end, by: uow.actor.name, byKeyId: uow.actor.keyId, endedDate: uow.today });
    // Resolved or withdrawn by another transaction that committed first.
    if (!ended) throw notOpen((await findDispute(uow.trx, dispute.id))!);
    const withdrawn = end.status === 'withdrawn';
    uow.record({
      entity: 'dispute',
      id: dispute.id,
      action: withdrawn ? 'withdraw' : 'resolve',
      // As for change requests: the audit entry keeps the X-Change-Reason header's, the dispute the body's.
      reason: uow.actor.reason ?? end.reason,
      changes: [
        { field: 'status', from: 'open', to: end.status },
        ...(end.correctionChangeRequestId !== null ? [{ field: 'correctionChangeRequestId', from: null, to: end.correctionChangeRequestId }] : []),
        ...(end.correctionRevenueLineId !== null ? [{ field: 'correctionRevenueLineId', from: null, to: end.correctionRevenueLineId }] : []),
      ],
      events: [disputeEvent(withdrawn ? 'dispute.withdrawn' : 'dispute.resolved', dispute)],
    });
    return this.get(bunitId, dispute.id, uow.trx);
  }
}

/** 409 line-disputed, naming the lines held and their disputes (when known). */
function lineDisputed(held: { lineId: number; disputeId: number }[]): ApiError {
  if (held.length === 0) return conflict('line-disputed', 'A line named is in another open dispute, opened a moment ago; nothing was disputed.');
  const named = held.slice(0, 20).map((h) => `line ${h.lineId} (dispute ${h.disputeId})`);
  const more = held.length > named.length ? ` and ${held.length - named.length} more` : '';
  return conflict('line-disputed', `${held.length} of the lines named are in an open dispute already: ${named.join(', ')}${more}. A line is in one open dispute at most; nothing was disputed.`);
}
