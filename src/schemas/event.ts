import { z } from 'zod';
import { EVENT_TYPES, type EventType } from '../domain/events';
import { ApiKey } from './api-key';
import { BusinessUnit } from './bunit';
import { ChangeRequest } from './change-request';
import { Contract } from './contract';
import { Dispute } from './dispute';
import { Referral } from './referral';
import { SettlementRun, Statement } from './settlement';
import { Timestamp } from './common';
import { Journal, Netting, Period } from './period';
import { WebhookEndpoint } from './webhook';

/** The events feed (SPEC §13). */

export const EventTypeSchema = z.enum(EVENT_TYPES, `must be one of ${EVENT_TYPES.join(', ')}`).openapi('EventType', {
  description: 'What happened. `data` is the resource as its GET returns it after the change (see each type).',
});

export const RevenueIngested = z
  .object({
    contractId: z.number().int().openapi({ example: 42 }),
    lineIds: z.array(z.number().int()).openapi({ example: [901, 902], description: 'The revenue lines the ingest created (not those it found existing).' }),
  })
  .openapi('RevenueIngested');

const common = {
  id: z.number().int().openapi({ example: 1207, description: 'The event’s id: its sequence number, also sent as `webhook-id`.' }),
  sequence: z.number().int().openapi({
    example: 1207,
    description: 'Position in the feed: increasing in the order the changes committed, without gaps. Page with `after` = the last one you saw.',
  }),
  createdDate: Timestamp,
  bunitIds: z.array(z.number().int()).openapi({
    example: [1, 3],
    description: 'The business units the event concerns (a key scoped to business units sees the events naming one of its units); empty for runs, API keys and webhook endpoints, which admin keys alone see.',
  }),
};

function family<T extends EventType>(name: string, types: readonly T[], data: z.ZodType, description: string) {
  return z
    .object({ ...common, type: z.enum(types as unknown as [T, ...T[]]), data })
    .openapi(name, { description });
}

const typesOf = <P extends string>(prefix: P) => EVENT_TYPES.filter((t): t is Extract<EventType, `${P}.${string}`> => t.startsWith(`${prefix}.`));

export const Event = z
  .union([
    family('BusinessUnitEvent', typesOf('business_unit'), BusinessUnit, 'A business unit was created, changed or archived; `data` is the unit.'),
    family('ContractEvent', typesOf('contract'), Contract, 'A contract was created, changed or archived; `data` is the contract.'),
    family(
      'ReferralEvent',
      typesOf('referral'),
      Referral,
      'A referral was created, changed (`updated`: a PUT, or the approval of one), archived, approved or denied (its creation, maker-checker), or amended (§12); `data` is the referral.',
    ),
    family('ChangeRequestEvent', typesOf('change_request'), ChangeRequest, 'A change request was opened, approved, denied or withdrawn; `data` is the request.'),
    family('RevenueIngestedEvent', typesOf('revenue'), RevenueIngested, 'Revenue lines were created on a contract.'),
    family('SettlementRunEvent', typesOf('settlement_run'), SettlementRun, 'A settlement run completed; its statements’ events come just before it.'),
    family(
      'StatementEvent',
      typesOf('statement'),
      Statement,
      'A statement of a completed run was created, or accepted by its payer (or automatically); `data` is the statement without its lines (read them with getStatement).',
    ),
    family('DisputeEvent', typesOf('dispute'), Dispute, 'A dispute over statement lines was opened, resolved (rejected or upheld) or withdrawn; `data` is the dispute.'),
    family('ApiKeyEvent', typesOf('api_key'), ApiKey, 'An API key was created or revoked (never its secret).'),
    family('PeriodEvent', typesOf('period'), Period, 'A period was closed (SPEC §16); its nettings’ and journals’ events follow it.'),
    family('NettingEvent', typesOf('netting'), Netting, 'A netting was written by a close (`created`), or its payments reached its amount (`paid`).'),
    family('JournalEvent', typesOf('journal'), Journal, 'A journal was written (by a close or a payment), or acknowledged by the ERP (`posted`).'),
    family('WebhookEndpointEvent', typesOf('webhook_endpoint'), WebhookEndpoint, 'A webhook endpoint was disabled after failing every delivery for 5 days.'),
  ])
  .openapi('Event', { description: 'One change, as the feed and the webhooks carry it.' });

export const EventList = z
  .object({
    data: z.array(Event),
    meta: z
      .object({
        after: z.number().int().openapi({ example: 1200 }),
        limit: z.number().int().openapi({ example: 100 }),
        next: z.number().int().openapi({
          example: 1207,
          description: 'What to send as `after` for the next page: the last sequence of this page, or `after` again when it is empty (nothing new yet).',
        }),
      })
      .openapi('EventListMeta'),
  })
  .openapi('EventList');

const Sequence = z
  .string()
  .regex(/^\d{1,16}$/, 'must be a non-negative integer')
  .transform(Number)
  .pipe(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER, 'must be a non-negative integer'));

export const EventListQuery = z.strictObject({
  after: Sequence.optional()
    .default(0)
    .openapi({ type: 'integer', minimum: 0, default: 0, description: 'Only events after this sequence: the last one you saw (0: from the oldest kept).' }),
  limit: z
    .string()
    .regex(/^\d+$/, 'must be an integer from 1 to 1000')
    .transform(Number)
    .pipe(z.number().int().min(1, 'must be an integer from 1 to 1000').max(1000, 'must be an integer from 1 to 1000'))
    .optional()
    .default(100)
    .openapi({ type: 'integer', minimum: 1, maximum: 1000, default: 100, description: 'Page size.' }),
  type: z
    .string()
    .transform((text, ctx) => {
      const types = text.split(',');
      const unknown = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
      if (unknown.length > 0) {
        ctx.addIssue({ code: 'custom', message: `${unknown.join(', ')}: not an event type (one of ${EVENT_TYPES.join(', ')})` });
        return z.NEVER;
      }
      return [...new Set(types)] as EventType[];
    })
    .optional()
    .openapi({ type: 'string', example: 'statement.created,settlement_run.completed', description: 'Only events of these types (comma-separated).' }),
});
export type EventListQuery = z.infer<typeof EventListQuery>;
