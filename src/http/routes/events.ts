import { eventJson } from '../../representations/event';
import { EventList, EventListQuery } from '../../schemas/event';
import { defineRoute } from '../route';

const tags = ['Events'];

export const eventRoutes = [
  defineRoute({
    method: 'get',
    path: '/v1/events',
    operationId: 'listEvents',
    summary: 'The event feed',
    description: [
      'What changed, in the order the changes committed: every change of a business unit, contract, referral, change request, revenue ingest, completed settlement run, statement and API key, as one event with the resource as its GET returns it after the change.',
      '',
      'Page with `after` = the `sequence` of the last event you processed (or `meta.next`): you never miss an event and never see one twice, even while changes commit on several instances at once. An empty page means nothing new yet; ask again later with the same `after`.',
      '',
      'A key scoped to business units sees the events that name one of them (`bunitIds`); an admin key sees all of them, including runs and API keys. Events are kept EVENT_RETENTION_DAYS (30).',
    ].join('\n'),
    tags,
    access: 'read',
    query: EventListQuery,
    responses: {
      200: {
        description: 'The next events after `after`, oldest first.',
        schema: EventList,
        example: {
          data: [
            {
              id: 1207,
              sequence: 1207,
              type: 'business_unit.updated',
              createdDate: '2026-11-23T10:15:00.000Z',
              bunitIds: [3],
              data: {
                id: 3,
                code: 'NORDICS',
                name: 'Nordic Sales',
                createdDate: '2026-11-01T09:00:00.000Z',
                archivedDate: null,
                accounts: {
                  receivable: '1410-ic-receivable',
                  payable: 'intercompany-payable',
                  income: 'revenue-share-income',
                  expense: 'revenue-share-expense',
                  clearing: 'intercompany-clearing',
                },
              },
            },
          ],
          meta: { after: 1206, limit: 100, next: 1207 },
        },
      },
    },
    problems: [],
    async handler({ query, services, actor }) {
      const events = await services.events.list(actor, query);
      const next = events.length > 0 ? events[events.length - 1]!.id : query.after;
      // Each event's data is sent as it was stored (never parsed and written again).
      const body = `{"data":[${events.map(eventJson).join(',')}],"meta":${JSON.stringify({ after: query.after, limit: query.limit, next })}}`;
      return { status: 200, body, contentType: 'application/json; charset=utf-8' };
    },
  }),
];
