import { isUniqueViolation, lockRows } from '../db';
import { Dec } from '../domain/decimal';
import { ApiError, conflict, forbidden, notFound } from '../domain/errors';
import {
  decideChangeRequest,
  decideChangeRequests,
  findChangeRequest,
  findChangeRequests,
  insertChangeRequest,
  listChangeRequests,
  type ChangeKind,
  type ChangeRequestRecord,
  type ChangeStatus,
} from '../repositories/change-request.repository';
import { findReferralsOfContracts, saveReferralApproval, saveReferralApprovals, type ReferralRecord } from '../repositories/referral.repository';
import { presentChangeRequest } from '../representations/change-request';
import { presentReferral } from '../representations/referral';
import type { ChangeRequestListQuery, ModerateBody } from '../schemas/change-request';
import type { Actor, ServiceContext } from './context';
import { changeRequestEvent, referralEvent } from './event.service';
import { applyAmendment, applyArchive, applyReplacement, assertFitsAmong, lockReferral } from './referral-changes';
import { withUnitOfWork, type Acting, type EventDraft, type UnitOfWork } from './unit-of-work';

/**
 * Maker-checker approval (SPEC §11). In APPROVAL_MODE maker-checker, creating a referral, a PUT
 * that changes its terms and a DELETE become change requests; an amendment (§12) is one in both
 * modes. Another key decides: an approver of the contract owner's business unit, or an admin,
 * never the key that asked (four eyes). Approval applies the change as if it were made at that
 * instant, with the PUT's rules and writer, in the approve transaction: a rule it breaks then
 * answers with that rule's code and the request stays pending.
 */

/** Who a key is, for four eyes: by key, not by name (two keys may share a name). */
export const actorKeyOf = (actor: Pick<Actor, 'keyId' | 'name'>) => (actor.keyId === null ? `env:${actor.name}` : `key:${actor.keyId}`);

export const changePending = (referral: Pick<ReferralRecord, 'id' | 'pendingChange'>) =>
  conflict(
    'change-pending',
    referral.pendingChange
      ? `Referral ${referral.id} waits for change request ${referral.pendingChange.id} (${referral.pendingChange.kind}); it must be decided or withdrawn first: one pending request per referral.`
      : `Referral ${referral.id} got another change request meanwhile; it must be decided or withdrawn first: one pending request per referral.`,
  );

/**
 * Opens a change request for a referral, in the caller's unit of work: the referral then shows it
 * as its pendingChange (a new version), and its audit trail records the request.
 */
export async function openChangeRequest(
  uow: UnitOfWork,
  referral: ReferralRecord,
  kind: ChangeKind,
  proposed: Record<string, unknown>,
  reason: string | null = uow.actor.reason ?? null,
): Promise<ChangeRequestRecord> {
  if (referral.pendingChange) throw changePending(referral);
  let id: number;
  try {
    id = await insertChangeRequest(uow.trx, {
      referralId: referral.id,
      kind,
      proposed,
      reason,
      requestedBy: uow.actor.name,
      requestedByKey: actorKeyOf(uow.actor),
      requestedAt: uow.nowIso,
    });
  } catch (err) {
    // Another request of this referral committed first (the database holds one pending per referral).
    throw isUniqueViolation(err) ? changePending(referral) : err;
  }
  const pendingChange = { id, kind, requestedAt: uow.nowIso };
  await saveReferralApproval(uow.trx, referral.id, { status: referral.status, pendingChange, at: uow.nowIso });
  uow.record({
    entity: 'referral',
    id: referral.id,
    action: `request-${kind}`,
    reason: uow.actor.reason ?? reason,
    changes: [{ field: 'pendingChange', from: null, to: { id, kind, proposed } }],
    events: [changeRequestEvent('change_request.created', { id }, referral)],
  });
  return (await findChangeRequest(uow.trx, id))!;
}

type Decision = { status: 'approved'; reason: string | null } | { status: 'denied'; reason: string } | { status: 'withdrawn'; reason: null };

export class ApprovalService {
  constructor(private readonly ctx: ServiceContext) {}

  /** A change request visible under the business unit: it owns the referral's contract or is its referrer (R11). */
  async get(bunitId: number, id: number, db = this.ctx.db): Promise<ChangeRequestRecord> {
    const cr = await findChangeRequest(db, id);
    if (!cr || (cr.bunitId !== bunitId && cr.referrerId !== bunitId)) {
      throw notFound(`Change request ${id} does not exist under business unit ${bunitId}.`);
    }
    return cr;
  }

  list(bunitId: number, query: ChangeRequestListQuery) {
    return listChangeRequests(this.ctx.db, { bunitId, status: query.status, kind: query.kind, referralId: query.referralId }, query.sort, query);
  }

  /** The decision's reason is the body's, or else the request's X-Change-Reason. */
  approve(bunitId: number, id: number, reason: string | undefined, by: Acting): Promise<ChangeRequestRecord> {
    return withUnitOfWork(this.ctx, by, (uow) => this.decide(uow, bunitId, id, { status: 'approved', reason: reason ?? uow.actor.reason ?? null }));
  }

  deny(bunitId: number, id: number, reason: string, by: Acting): Promise<ChangeRequestRecord> {
    return withUnitOfWork(this.ctx, by, (uow) => this.decide(uow, bunitId, id, { status: 'denied', reason }));
  }

  /** The key that asked, or an admin, takes its request back. */
  withdraw(bunitId: number, id: number, by: Acting): Promise<ChangeRequestRecord> {
    return withUnitOfWork(this.ctx, by, (uow) => this.decide(uow, bunitId, id, { status: 'withdrawn', reason: null }));
  }

  /**
   * Several decisions, all or nothing: the first one that cannot be made answers for all (its
   * detail names the request) and nothing is decided. Set-based, so that 1,000 decisions take
   * a handful of statements rather than ten round trips each: the requests are read in one
   * statement, their contracts locked in one (in id order, so two moderations of overlapping
   * requests never deadlock), the contracts' referrals read in one; each decision is checked
   * in memory (four eyes, still pending, R4/R5 for a creation); then one UPDATE per outcome
   * decides the requests and one per status clears the referrals' pending changes, and the audit
   * entries and events are written in bulk (their data read once, after every change). An
   * approved update, archive or amendment is applied with the PUT's and the amendment's own rules
   * and writer, as a single approval would be (those change terms; a creation changes none).
   */
  moderate(bunitId: number, body: ModerateBody, by: Acting): Promise<ChangeRequestRecord[]> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const decisions: [number, Decision][] = [
        ...(body.approve ?? []).map((id): [number, Decision] => [id, { status: 'approved', reason: body.reason ?? uow.actor.reason ?? null }]),
        ...(body.deny ?? []).map((id): [number, Decision] => [id, { status: 'denied', reason: body.reason! }]),
      ];
      const ids = decisions.map(([id]) => id);
      const seen = await findChangeRequests(uow.trx, ids);
      for (const id of ids) {
        const cr = seen.get(id);
        if (!cr || (cr.bunitId !== bunitId && cr.referrerId !== bunitId)) throw about(id, notFound(`Change request ${id} does not exist under business unit ${bunitId}.`));
      }
      const contractIds = [...new Set([...seen.values()].map((cr) => cr.contractId))].sort((a, b) => a - b);
      await lockRows(uow.trx, 'contracts', contractIds);
      // Read again under the contracts' locks: a decision made meanwhile is seen here.
      const requests = await findChangeRequests(uow.trx, ids);
      const referralsOf = await findReferralsOfContracts(uow.trx, contractIds);
      // The requests and referrals after every change, read once for the answer and every event's data.
      let loaded: Promise<AfterModeration> | undefined;
      const after = () =>
        (loaded ??= (async () => {
          const byContract = await findReferralsOfContracts(uow.trx, contractIds);
          return { requests: await findChangeRequests(uow.trx, ids), referrals: new Map([...byContract.values()].flat().map((r) => [r.id, r])) };
        })());

      const decided = new Map<Decision['status'], number[]>();
      const referralStatus = new Map<ReferralRecord['status'], number[]>();
      for (const [id, decision] of decisions) {
        const cr = requests.get(id)!;
        try {
          this.assertMayDecide(uow, bunitId, cr, decision.status);
          const referrals = referralsOf.get(cr.contractId)!;
          const at = referrals.findIndex((r) => r.id === cr.referralId);
          const current = referrals[at]!;
          let status = current.status;
          if (decision.status === 'approved') {
            const applied = await this.apply(uow, cr, current, referrals);
            status = applied.status;
            // What later decisions of the same contract are checked against.
            referrals[at] = { ...applied.referral, status };
          } else if (cr.kind === 'create') {
            status = 'denied';
            referrals[at] = { ...current, status };
          }
          push(decided, decision.status, id);
          push(referralStatus, status, current.id);
          this.recordDecision(uow, cr, current, status, decision, after);
        } catch (err) {
          throw about(id, err);
        }
      }

      const values = { decidedBy: uow.actor.name, decidedByKey: actorKeyOf(uow.actor), decidedAt: uow.nowIso };
      for (const [status, batch] of decided) {
        const reason = decisions.find(([, d]) => d.status === status)![1].reason;
        if ((await decideChangeRequests(uow.trx, batch, { ...values, status, decisionReason: reason })) !== batch.length) {
          // Cannot happen under the contracts' locks; if it did, nothing is decided.
          throw conflict('not-pending', 'A change request of the moderation was decided meanwhile. Nothing was decided.');
        }
      }
      await saveReferralApprovals(uow.trx, referralStatus, uow.nowIso);
      const result = await after();
      return ids.map((id) => result.requests.get(id)!);
    });
  }

  private async decide(uow: UnitOfWork, bunitId: number, id: number, decision: Decision): Promise<ChangeRequestRecord> {
    const seen = await this.get(bunitId, id, uow.trx);
    const { current, referrals } = await lockReferral(uow, seen.referralId);
    // Read again under the contract lock: a decision made meanwhile is seen here.
    const cr = (await findChangeRequest(uow.trx, id))!;
    this.assertMayDecide(uow, bunitId, cr, decision.status);

    let status = current.status;
    let referral = current;
    if (decision.status === 'approved') {
      const applied = await this.apply(uow, cr, current, referrals);
      referral = applied.referral;
      status = applied.status;
    } else if (cr.kind === 'create') {
      // A referral whose creation is denied or withdrawn never comes into force: final, read-only.
      status = 'denied';
    }
    if (!(await decideChangeRequest(uow.trx, id, { status: decision.status, decidedBy: uow.actor.name, decidedByKey: actorKeyOf(uow.actor), decidedAt: uow.nowIso, decisionReason: decision.reason }))) {
      throw notPending(cr);
    }
    await saveReferralApproval(uow.trx, referral.id, { status, pendingChange: null, at: uow.nowIso });
    this.recordDecision(uow, cr, current, status, decision);
    return (await findChangeRequest(uow.trx, id))!;
  }

  /**
   * The decision in the referral's audit trail and the event feed. `after`, when given, reads the
   * events' data for a whole moderation at once; else each event reads its own.
   */
  private recordDecision(
    uow: UnitOfWork,
    cr: ChangeRequestRecord,
    current: ReferralRecord,
    status: ReferralRecord['status'],
    decision: Decision,
    after?: () => Promise<AfterModeration>,
  ): void {
    const referralData = (type: 'referral.approved' | 'referral.denied'): EventDraft =>
      after
        ? { type, bunitIds: [current.contractBunitId, current.referrerId], data: async (u) => presentReferral((await after()).referrals.get(current.id)!, u.today) }
        : referralEvent(type, current);
    const requestData = (type: `change_request.${Decision['status']}`): EventDraft =>
      after
        ? { type, bunitIds: [current.contractBunitId, current.referrerId], data: async () => presentChangeRequest((await after()).requests.get(cr.id)!) }
        : changeRequestEvent(type, cr, current);
    uow.record({
      entity: 'referral',
      id: current.id,
      action: decision.status === 'approved' ? 'approve' : decision.status === 'denied' ? 'deny' : 'withdraw',
      // The audit trail's reason is the request's X-Change-Reason (SPEC §7.4), else the decision's.
      reason: uow.actor.reason ?? decision.reason,
      changes: [
        { field: 'pendingChange', from: { id: cr.id, kind: cr.kind }, to: null },
        ...(status !== current.status ? [{ field: 'status', from: current.status, to: status }] : []),
      ],
      events: [
        // A creation approved, denied or withdrawn: the referral's status changed.
        ...(status === 'approved' && current.status !== 'approved' ? [referralData('referral.approved')] : []),
        ...(status === 'denied' && current.status !== 'denied' ? [referralData('referral.denied')] : []),
        requestData(`change_request.${decision.status}`),
      ],
    });
  }

  /** Four eyes (SPEC §11): who may decide this request, and whether it still can be decided. */
  private assertMayDecide(uow: UnitOfWork, bunitId: number, cr: ChangeRequestRecord, outcome: Exclude<ChangeStatus, 'pending'>): void {
    const self = actorKeyOf(uow.actor) === cr.requestedByKey;
    if (outcome === 'withdrawn') {
      if (!self && uow.actor.role !== 'admin') throw forbidden(`Only the key that asked for change request ${cr.id}, or an admin, may withdraw it.`);
    } else if (bunitId !== cr.bunitId) {
      throw forbidden(`Change request ${cr.id} is decided by the business unit that owns the contract (${cr.bunitId}), not by the referrer.`);
    } else if (mayActFor(uow.actor, cr.referrerId) && uow.actor.role !== 'admin') {
      // Four eyes between the units: the referrer is the party that gains, so a key that may act
      // for it never decides, whatever else it may act for (the owner too).
      throw forbidden(`Change request ${cr.id} concerns a referral to business unit ${cr.referrerId}, which this key may act for; a key of the owner alone (${cr.bunitId}) or an admin key decides it.`);
    }
    if (cr.status !== 'pending') throw notPending(cr);
    if (outcome !== 'withdrawn' && self) throw new ApiError(403, 'four-eyes', 'Forbidden', `Change request ${cr.id} was asked for by this key; another key must decide it.`);
  }

  /** Applies an approved request at this instant, with the rules of a change made now. */
  private async apply(uow: UnitOfWork, cr: ChangeRequestRecord, current: ReferralRecord, referrals: ReferralRecord[]): Promise<{ referral: ReferralRecord; status: ReferralRecord['status'] }> {
    const reason = cr.reason ?? undefined;
    const options = reason === undefined ? {} : { reason };
    switch (cr.kind) {
      case 'create':
        // R4 and R5 again: the pending referral counted already, so only a change made meanwhile can break them.
        assertFitsAmong(uow, current, current, referrals);
        return { referral: current, status: 'approved' };
      case 'update': {
        const p = cr.proposed as { percentage: string; billingStartDate: string; billingEndDate: string | null };
        const input = {
          contractId: current.contractId,
          referrerId: current.referrerId,
          percentage: new Dec(p.percentage),
          billingStartDate: p.billingStartDate,
          billingEndDate: p.billingEndDate,
        };
        return { referral: await applyReplacement(uow, current, referrals, input, options), status: current.status };
      }
      case 'archive': {
        // A requested instant that has passed meanwhile archives at the approval, never before it.
        const asked = (cr.proposed as { archivedDate: string | null }).archivedDate;
        const when = asked !== null && asked > uow.nowIso ? asked : uow.nowIso;
        return { referral: (await applyArchive(uow, current, referrals, when, options)) ?? current, status: current.status };
      }
      case 'amend': {
        const p = cr.proposed as { effectiveFrom?: string; percentage?: string; billingStartDate?: string; billingEndDate?: string | null };
        const input = {
          effectiveFrom: p.effectiveFrom,
          percentage: p.percentage === undefined ? undefined : new Dec(p.percentage),
          billingStartDate: p.billingStartDate,
          billingEndDate: p.billingEndDate,
        };
        return { referral: await applyAmendment(uow, current, referrals, input, options), status: current.status };
      }
    }
  }
}

const mayActFor = (actor: Pick<Actor, 'bunitIds'>, bunitId: number) => actor.bunitIds === 'all' || actor.bunitIds.includes(bunitId);

interface AfterModeration {
  requests: Map<number, ChangeRequestRecord>;
  referrals: Map<number, ReferralRecord>;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const notPending = (cr: ChangeRequestRecord) => conflict('not-pending', `Change request ${cr.id} is ${cr.status}, no longer pending.`);

/** An error of one request of a moderation, saying which one. */
function about(id: number, err: unknown): unknown {
  if (!(err instanceof ApiError)) return err;
  return new ApiError(err.status, err.code, err.title, `Change request ${id}: ${err.detail} Nothing was decided.`, err.errors, err.headers);
}
