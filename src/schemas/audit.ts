import { z } from 'zod';
import { Limit, ListOf, Offset, Timestamp } from './common';

export const AuditEntry = z
  .object({
    id: z.number().int().openapi({ example: 311 }),
    at: Timestamp,
    action: z.string().openapi({ example: 'update', description: 'create, update, archive, …' }),
    keyName: z.string().openapi({ example: 'billing-hq', description: 'Name of the API key that made the change.' }),
    reason: z.string().nullable().openapi({ example: 'Renegotiated in Q4', description: 'The X-Change-Reason header, if one was sent.' }),
    changes: z
      .array(z.object({ field: z.string(), from: z.unknown(), to: z.unknown() }))
      .openapi({ example: [{ field: 'percentage', from: '12.5', to: '15' }] }),
  })
  .openapi('AuditEntry');

export const AuditList = ListOf(AuditEntry, 'AuditEntryList');

export const AuditListQuery = z.strictObject({ limit: Limit, offset: Offset });
