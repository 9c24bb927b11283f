import type { Knex } from 'knex';
import { insertRows, toIsoTimestamp } from '../db';

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface AuditEvent {
  entityType: 'bunit' | 'contract' | 'referral' | 'revenue-line' | 'settlement-run' | 'api-key' | 'webhook-endpoint' | 'statement' | 'dispute' | 'period' | 'netting' | 'journal';
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
  await insertRows(
    trx,
    'audit_events',
    ['entity_type', 'entity_id', 'action', 'key_name', 'key_id', 'reason', 'changes', 'at'],
    events.map((e) => [e.entityType, e.entityId, e.action, e.keyName, e.keyId, e.reason, JSON.stringify(e.changes), e.at]),
  );
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
