import type { Knex } from 'knex';
import { toIsoTimestamp } from '../db';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface AuditEvent {
  entityType: 'bunit' | 'contract' | 'referral' | 'revenue-line' | 'settlement-run' | 'api-key';
  entityId: number;
  action: string;
  keyName: string;
  keyId: number | null;
  reason: string | null;
  changes: FieldChange[];
  at: string;
}

export interface AuditRecord extends AuditEvent {
  id: number;
}

export async function insertAuditEvents(trx: Knex, events: AuditEvent[]): Promise<void> {
  const rows = events.map((e) => ({
    entity_type: e.entityType,
    entity_id: e.entityId,
    action: e.action,
    key_name: e.keyName,
    key_id: e.keyId,
    reason: e.reason,
    changes: JSON.stringify(e.changes),
    at: e.at,
  }));
  for (let i = 0; i < rows.length; i += 100) await trx('audit_events').insert(rows.slice(i, i + 100));
}

export async function listAuditEvents(
  db: Knex,
  entityType: AuditEvent['entityType'],
  entityId: number,
  page: { limit: number; offset: number },
): Promise<{ rows: AuditRecord[]; total: number }> {
  const base = db('audit_events').where({ entity_type: entityType, entity_id: entityId });
  const counted = await base.clone().count({ n: '*' }).first();
  const rows: {
    id: number;
    entity_type: AuditEvent['entityType'];
    entity_id: number;
    action: string;
    key_name: string;
    key_id: number | null;
    reason: string | null;
    changes: string;
    at: Date | string;
  }[] = await base.clone().orderBy('id', 'asc').limit(page.limit).offset(page.offset);
  return {
    total: Number((counted as { n: number | string } | undefined)?.n ?? 0),
    rows: rows.map((r) => ({
      id: r.id,
      entityType: r.entity_type,
      entityId: r.entity_id,
      action: r.action,
      keyName: r.key_name,
      keyId: r.key_id,
      reason: r.reason,
      changes: JSON.parse(r.changes) as FieldChange[],
      at: toIsoTimestamp(r.at)!,
    })),
  };
}
