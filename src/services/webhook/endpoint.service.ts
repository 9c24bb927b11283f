import { systemClock, type Clock } from '../../clock';
import { notFound, unprocessable } from '../../domain/errors';
import { findBunits } from '../../repositories/bunit.repository';
import type { Page } from '../../repositories/paging';
import {
  findDelivery,
  findWebhookEndpoint,
  insertWebhookEndpoint,
  listDeliveries,
  listWebhookEndpoints,
  lockWebhookEndpoint,
  resendDeliveries,
  updateWebhookEndpoint,
  type DeliveryRecord,
  type EndpointContent,
  type WebhookEndpointRecord,
} from '../../repositories/webhook.repository';
import type { DeliveryListQuery, WebhookEndpointCreate, WebhookEndpointUpdate } from '../../schemas/webhook';
import type { ServiceContext } from '../context';
import { changesBetween, withUnitOfWork, type Acting, type UnitOfWork } from '../unit-of-work';
import { newWebhookSecret } from './signing';
import { assertSafeUrl, type UrlPolicy } from './url-safety';
import { sequenceNow } from '../event.service';

/** A rotated secret keeps signing beside the new one this long (SPEC §13). */
const PREVIOUS_SECRET_MS = 24 * 60 * 60 * 1000;

const snapshot = (e: EndpointContent & { enabled: boolean }) => ({
  url: e.url,
  description: e.description,
  eventTypes: e.eventTypes,
  bunitIds: e.bunitIds,
  enabled: e.enabled,
});

/**
 * Webhook endpoints (SPEC §13, admin keys): where events go, their secrets, and their delivery
 * log. Sending is the dispatcher's (./dispatcher.ts); this service only changes rows, so a retry
 * or a recovery is picked up by whichever instance claims the endpoint next.
 */
export class WebhookEndpointService {
  constructor(
    private readonly ctx: ServiceContext,
    private readonly policy: UrlPolicy,
    /** Deliveries are timed by the real clock, as the dispatcher's are. */
    private readonly clock: Clock = systemClock,
  ) {}

  /** Creates an endpoint; its secret is returned this once. It receives the events committed from now on. */
  async create(input: WebhookEndpointCreate, by: Acting): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    // Resolving the host is a network call: made before the transaction, never inside it.
    await assertSafeUrl(input.url, this.policy);
    const content = contentOf(input);
    const secret = newWebhookSecret();
    return withUnitOfWork(this.ctx, by, async (uow) => {
      await this.assertBunitsExist(uow, content.bunitIds);
      const id = await insertWebhookEndpoint(uow.trx, { ...content, secret, fromSequence: await sequenceNow(uow.trx), createdAt: uow.nowIso });
      uow.record({ entity: 'webhook-endpoint', id, action: 'create', changes: changesBetween(null, snapshot({ ...content, enabled: true })) });
      return { endpoint: (await findWebhookEndpoint(uow.trx, id))!, secret };
    });
  }

  async get(id: number): Promise<WebhookEndpointRecord> {
    const endpoint = await findWebhookEndpoint(this.ctx.db, id);
    if (!endpoint) throw notFound(`Webhook endpoint ${id} does not exist.`);
    return endpoint;
  }

  list(page: Page) {
    return listWebhookEndpoints(this.ctx.db, page);
  }

  /**
   * Replaces the endpoint's content; `enabled` left out stays as it is. Enabling it again sends
   * it the events committed from then on (and whatever deliveries were still pending); a PUT that
   * changes nothing changes nothing.
   */
  async update(id: number, input: WebhookEndpointUpdate, by: Acting): Promise<WebhookEndpointRecord> {
    await assertSafeUrl(input.url, this.policy);
    const content = contentOf(input);
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lock(uow, id);
      const enabled = input.enabled ?? current.enabled;
      const changes = changesBetween(snapshot(current), snapshot({ ...content, enabled }));
      if (changes.length === 0) return current;
      await this.assertBunitsExist(uow, content.bunitIds);
      await updateWebhookEndpoint(uow.trx, id, {
        ...content,
        enabled,
        updatedAt: uow.nowIso,
        ...(enabled && !current.enabled ? { disabledAt: null, disabledReason: null, failingSince: null, fromSequence: await sequenceNow(uow.trx) } : {}),
        ...(!enabled && current.enabled ? { disabledAt: uow.nowIso, disabledReason: `Disabled by ${uow.actor.name}.` } : {}),
      });
      uow.record({ entity: 'webhook-endpoint', id, action: 'update', changes });
      return (await findWebhookEndpoint(uow.trx, id))!;
    });
  }

  /** Deletes the endpoint: nothing more is sent to it; its delivery log goes with it (from the API's view). */
  async remove(id: number, by: Acting): Promise<void> {
    await withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lock(uow, id);
      await updateWebhookEndpoint(uow.trx, id, { enabled: false, deletedAt: uow.nowIso, updatedAt: uow.nowIso });
      uow.record({ entity: 'webhook-endpoint', id, action: 'delete', changes: changesBetween(snapshot(current), null) });
    });
  }

  /** A new secret, returned this once; the previous one keeps signing beside it for 24 h. */
  async rotateSecret(id: number, by: Acting): Promise<{ endpoint: WebhookEndpointRecord; secret: string }> {
    const secret = newWebhookSecret();
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const current = await this.lock(uow, id);
      // Real time, as signing goes by (receivers check webhook-timestamp against their clocks).
      const until = new Date(this.clock.now().getTime() + PREVIOUS_SECRET_MS).toISOString();
      await updateWebhookEndpoint(uow.trx, id, { secret, previousSecret: current.secret, previousSecretUntil: until, updatedAt: uow.nowIso });
      // The secrets themselves are never written to the audit trail.
      uow.record({ entity: 'webhook-endpoint', id, action: 'rotate-secret', changes: [{ field: 'previousSecretExpiresDate', from: null, to: until }] });
      return { endpoint: (await findWebhookEndpoint(uow.trx, id))!, secret };
    });
  }

  async deliveries(endpointId: number, query: DeliveryListQuery) {
    await this.get(endpointId);
    return listDeliveries(this.ctx.db, { endpointId, status: query.status, eventId: query.eventId }, query);
  }

  /**
   * Sends one delivery again now (whatever its status), with the retry schedule begun anew. To a
   * disabled endpoint it is sent once the endpoint is enabled again.
   */
  async retry(endpointId: number, deliveryId: number, by: Acting): Promise<DeliveryRecord> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      const endpoint = await this.lock(uow, endpointId);
      const delivery = await findDelivery(uow.trx, deliveryId);
      if (!delivery || delivery.endpointId !== endpoint.id) throw notFound(`Delivery ${deliveryId} does not exist for webhook endpoint ${endpointId}.`);
      await resendDeliveries(uow.trx, { id: deliveryId }, this.clock.now().toISOString());
      // In the endpoint's audit trail, with the request's X-Change-Reason (an operator's action).
      uow.record({ entity: 'webhook-endpoint', id: endpoint.id, action: 'retry-delivery', changes: [{ field: 'delivery', from: { id: deliveryId, status: delivery.status }, to: { id: deliveryId, status: 'pending' } }] });
      return (await findDelivery(uow.trx, deliveryId))!;
    });
  }

  /** Sends every delivery that failed at or after `since` again now; how many. */
  async recover(endpointId: number, since: Date, by: Acting): Promise<number> {
    return withUnitOfWork(this.ctx, by, async (uow) => {
      await this.lock(uow, endpointId);
      const resent = await resendDeliveries(uow.trx, { endpointId, failedSince: since.toISOString() }, this.clock.now().toISOString());
      uow.record({ entity: 'webhook-endpoint', id: endpointId, action: 'recover', changes: [{ field: 'failedDeliveriesResent', from: { since: since.toISOString() }, to: resent }] });
      return resent;
    });
  }

  private async lock(uow: UnitOfWork, id: number): Promise<WebhookEndpointRecord> {
    const endpoint = await lockWebhookEndpoint(uow.trx, id);
    if (!endpoint) throw notFound(`Webhook endpoint ${id} does not exist.`);
    return endpoint;
  }

  private async assertBunitsExist(uow: UnitOfWork, ids: number[] | null): Promise<void> {
    if (ids === null) return;
    const found = new Set((await findBunits(uow.trx, ids)).map((b) => b.id));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length > 0) {
      throw unprocessable(
        'invalid-reference',
        `Business units ${missing.join(', ')} do not exist.`,
        missing.map((id) => ({ path: `body.bunitIds.${ids.indexOf(id)}`, message: `business unit ${id} does not exist` })),
      );
    }
  }
}

const contentOf = (input: WebhookEndpointCreate | WebhookEndpointUpdate): EndpointContent => ({
  url: input.url,
  description: input.description ?? null,
  eventTypes: input.eventTypes ? [...new Set(input.eventTypes)] : null,
  bunitIds: input.bunitIds ? [...new Set(input.bunitIds)].sort((a, b) => a - b) : null,
});
