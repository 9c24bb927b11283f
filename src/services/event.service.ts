import { runClaimedJob, transaction } from '../db';
import type { EventType } from '../domain/events';
import { findApiKey } from '../repositories/api-key.repository';
import { findBunit } from '../repositories/bunit.repository';
import { findChangeRequest } from '../repositories/change-request.repository';
import { findContract } from '../repositories/contract.repository';
import { deleteEventsBefore, hasPendingEvents, lastSequence, listEvents, publishPendingEvents, stageEvents } from '../repositories/event.repository';
import { findReferral } from '../repositories/referral.repository';
import { findRun } from '../repositories/settlement-run.repository';
import type { StatementRecord } from '../repositories/statement.repository';
import { findWebhookEndpoint } from '../repositories/webhook.repository';
import { presentApiKey } from '../representations/api-key';
import { presentBunit } from '../representations/bunit';
import { presentChangeRequest } from '../representations/change-request';
import { presentContract } from '../representations/contract';
import { presentReferral } from '../representations/referral';
import { presentIssuedStatement, presentRun } from '../representations/settlement';
import { presentWebhookEndpoint } from '../representations/webhook';
import type { EventListQuery } from '../schemas/event';
import type { Actor, ServiceContext } from './context';
import type { EventDraft } from './unit-of-work';
import type { Knex } from 'knex';

/**
 * The events feed (SPEC §13): what each change publishes, and the feed that reads it.
 *
 * A service adds an event to the `record(change)` of the change it describes, with one of the
 * builders below; the unit of work writes it to the outbox with the audit entry, in the same
 * transaction, and a change that records nothing (or rolls back) publishes nothing. `data` is
 * read when the unit of work is done, so it is the resource as its GET returns it afterwards.
 */

export const bunitEvent = (type: Extract<EventType, `business_unit.${string}`>, id: number): EventDraft => ({
  type,
  bunitIds: [id],
  data: async (uow) => presentBunit((await findBunit(uow.trx, id))!),
});

export const contractEvent = (type: Extract<EventType, `contract.${string}`>, contract: { id: number; bunitId: number }): EventDraft => ({
  type,
  bunitIds: [contract.bunitId],
  data: async (uow) => presentContract((await findContract(uow.trx, contract.id))!),
});

/** The business units a referral concerns: the owner of its contract and its referrer (R11). */
type ReferralParties = { id: number; contractBunitId: number; referrerId: number };

export const referralEvent = (type: Extract<EventType, `referral.${string}`>, referral: ReferralParties): EventDraft => ({
  type,
  bunitIds: [referral.contractBunitId, referral.referrerId],
  data: async (uow) => presentReferral((await findReferral(uow.trx, referral.id))!, uow.today),
});

export const changeRequestEvent = (
  type: Extract<EventType, `change_request.${string}`>,
  request: { id: number },
  referral: { contractBunitId: number; referrerId: number },
): EventDraft => ({
  type,
  bunitIds: [referral.contractBunitId, referral.referrerId],
  data: async (uow) => presentChangeRequest((await findChangeRequest(uow.trx, request.id))!),
});

/** The lines an ingest created (not those it found existing): `{contractId, lineIds}`. */
export const revenueIngestedEvent = (contract: { id: number; bunitId: number }, lineIds: readonly number[]): EventDraft => ({
  type: 'revenue.ingested',
  bunitIds: [contract.bunitId],
  data: { contractId: contract.id, lineIds: [...lineIds] },
});

/** A run concerns no business unit of its own: admin keys see it. */
export const settlementRunCompletedEvent = (runId: number): EventDraft => ({
  type: 'settlement_run.completed',
  bunitIds: [],
  data: async (uow) => presentRun((await findRun(uow.trx, runId))!),
});

/** Where a run's statement.created events wait, staged by finalize, until its completion publishes them. */
export const runEventsBatch = (runId: number) => `settlement-run:${runId}`;

/**
 * Stages events for a change that a later unit of work makes visible (`publishesStaged`): their
 * data must be known now, since no unit of work reads it later.
 */
export async function stageEventDrafts(trx: Knex.Transaction, batch: string, drafts: readonly EventDraft[]): Promise<void> {
  await stageEvents(
    trx,
    batch,
    drafts.map((d) => {
      if (typeof d.data === 'function') throw new Error(`a staged ${d.type} event needs its data now`);
      return { type: d.type, bunitIds: d.bunitIds, data: JSON.stringify(d.data) };
    }),
  );
}

/** The statement as a list shows it (without its lines), for its payer and its referrer. */
export const statementCreatedEvent = (statement: StatementRecord): EventDraft => ({
  type: 'statement.created',
  bunitIds: [statement.payer.id, statement.referrer.id],
  data: presentIssuedStatement(statement),
});

/** A key (never its secret); admin keys see it. */
export const apiKeyEvent = (type: 'api_key.created' | 'api_key.revoked', id: number): EventDraft => ({
  type,
  bunitIds: [],
  data: async (uow) => presentApiKey((await findApiKey(uow.trx, id))!),
});

/** An endpoint (never its secret); admin keys see it. */
export const webhookEndpointDisabledEvent = (id: number): EventDraft => ({
  type: 'webhook_endpoint.disabled',
  bunitIds: [],
  data: async (uow) => presentWebhookEndpoint((await findWebhookEndpoint(uow.trx, id))!, uow.nowIso),
});

const PUBLISH_BATCH = 1000;

/**
 * Numbers the events that committed and wait in pending_events (SPEC §13), a thousand in each
 * short transaction, until none is left; how many. The delivery worker of every instance calls
 * it as it polls, and the feed before it reads; when nothing waits it only reads.
 */
export async function publishEvents(db: Knex): Promise<number> {
  let published = 0;
  while (await hasPendingEvents(db)) {
    const round = await transaction(db, (trx) => publishPendingEvents(trx, PUBLISH_BATCH));
    published += round.published;
    if (!round.more) break;
  }
  return published;
}

/**
 * Numbers every event waiting, in the caller's transaction, and answers the last sequence: the
 * events committed before this transaction got the counter have it or a lower one, every later
 * one a higher one (an endpoint created now receives exactly those).
 */
export async function sequenceNow(trx: Knex.Transaction): Promise<number> {
  while ((await publishPendingEvents(trx, PUBLISH_BATCH)).more);
  return lastSequence(trx);
}

/** The retention sweep's lease (renewed while it deletes). */
const SWEEP_LEASE_SECONDS = 300;

export class EventService {
  constructor(private readonly ctx: ServiceContext) {}

  /**
   * The feed: events after `after` that the key may see (admin: all; a scoped key: those naming
   * one of its units). What has committed before the request is numbered first, so a client reads
   * its own changes.
   */
  async list(actor: Actor, query: EventListQuery) {
    await publishEvents(this.ctx.db);
    return listEvents(this.ctx.db, { after: query.after, limit: query.limit, types: query.type, scope: actor.bunitIds });
  }

  /**
   * Deletes the events older than the retention, in short batches; how many. A singleton job
   * (background_jobs 'event-retention'): while one instance sweeps, the others' sweeps do
   * nothing and answer 0.
   */
  async sweep(retentionDays: number): Promise<number> {
    const before = new Date(this.ctx.calendar.now().getTime() - retentionDays * 24 * 60 * 60 * 1000).toISOString();
    const job = await runClaimedJob(this.ctx.db, 'event-retention', SWEEP_LEASE_SECONDS, async (claim) => {
      await publishEvents(this.ctx.db);
      let deleted = 0;
      while (!claim.lost) {
        const n = await deleteEventsBefore(this.ctx.db, before, 1000);
        deleted += n;
        if (n < 1000) break;
      }
      return deleted;
    });
    return job.ran ? job.result : 0;
  }
}
