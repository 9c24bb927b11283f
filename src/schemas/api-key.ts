import { z } from 'zod';
import { IdParam, IdValue, Limit, ListOf, Offset, SortParam, Text, Timestamp } from './common';

export const Role = z.enum(['read', 'write', 'approver', 'admin'], 'must be one of read, write, approver, admin').openapi({
  description:
    '`read`: GET only; `write`: changes within its business units; `approver`: reads, and decides change requests (maker-checker, four eyes) within its business units, but makes no change of its own; `admin`: everything, including business units, runs, keys and webhooks.',
});

export const ApiKey = z
  .object({
    id: z.number().int().openapi({ example: 5 }),
    name: z.string().openapi({ example: 'billing-nordics' }),
    role: Role,
    bunitIds: z
      .array(z.number().int())
      .nullable()
      .openapi({ example: [3], description: 'The business units the key may act for; null for an admin key (all of them).' }),
    createdDate: Timestamp,
    revokedDate: Timestamp.nullable(),
  })
  .openapi('ApiKey');

export const ApiKeyCreated = ApiKey.extend({
  key: z
    .string()
    .optional()
    .openapi({
      example: 'rsk_1f3kq0J3m0Yx2mQd0rYb7pWm8b1nJQvJ3wq9v2e6h8s',
      description:
        'The secret: shown in this answer only, never again (absent from an idempotent replay). Send it as `Authorization: Bearer <key>`.',
    }),
}).openapi('ApiKeyCreated');

export const ApiKeyCreate = z
  .strictObject({
    name: Text(200).openapi({ example: 'billing-nordics' }),
    role: Role,
    bunitIds: z.array(IdValue, 'must be an array of business unit ids').max(1000).optional().openapi({
      description: 'Required and non-empty for read, write and approver keys; not allowed for admin keys.',
      example: [3],
    }),
  })
  .superRefine((v, ctx) => {
    if (v.role === 'admin' && v.bunitIds !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['bunitIds'], message: 'an admin key acts for all business units: leave bunitIds out' });
    }
    if (v.role !== 'admin' && (v.bunitIds === undefined || v.bunitIds.length === 0)) {
      ctx.addIssue({ code: 'custom', path: ['bunitIds'], message: `${v.role === 'approver' ? 'an' : 'a'} ${v.role} key needs at least one business unit` });
    }
  })
  .openapi('ApiKeyCreate');
export type ApiKeyCreate = z.infer<typeof ApiKeyCreate>;

export const ApiKeyList = ListOf(ApiKey, 'ApiKeyList');

export const ApiKeyListQuery = z.strictObject({
  revoked: z
    .enum(['exclude', 'include', 'only'], 'must be one of exclude, include, only')
    .optional()
    .default('exclude')
    .openapi({ description: 'Whether revoked keys are left out (default), included, or the only ones listed.' }),
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'name', 'createdDate']),
});

export const ApiKeyParams = z.strictObject({ keyId: IdParam.openapi({ description: 'Id of an API key (not its secret).', example: 5 }) });
