import type { EventRecord } from '../repositories/event.repository';

/**
 * An event as the feed and the webhooks carry it (SPEC §13): `{id, sequence, type, createdDate,
 * bunitIds, data}`, the id being its sequence number. The JSON is written around the stored
 * `data` text, which is never parsed and written again: what a receiver verifies is what was stored.
 */
export function eventJson(e: EventRecord): string {
  return `{"id":${e.id},"sequence":${e.id},"type":${JSON.stringify(e.type)},"createdDate":${JSON.stringify(e.createdAt)},"bunitIds":${JSON.stringify(e.bunitIds)},"data":${e.data}}`;
}
