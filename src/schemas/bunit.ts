import { z } from 'zod';
import { ArchivedFilter, BunitIdParam, Limit, ListOf, Offset, SortParam, Text, Timestamp } from './common';

export const BunitCode = z
  .string('must be a string')
  .regex(/^[A-Z0-9-]{2,32}$/, 'must be 2 to 32 characters of A-Z, 0-9 and -')
  .openapi({ example: 'NORDICS', description: 'Unique short code, `[A-Z0-9-]{2,32}`.' });

const Name = Text(200);

const AccountName = z
  .string('must be a string')
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[^\u0000-\u001f\u007f-\u009f]*$/, 'must not contain control characters');

export const Accounts = z
  .strictObject({
    receivable: AccountName.openapi({ example: 'intercompany-receivable' }),
    payable: AccountName.openapi({ example: 'intercompany-payable' }),
    income: AccountName.openapi({ example: 'revenue-share-income' }),
    expense: AccountName.openapi({ example: 'revenue-share-expense' }),
    clearing: AccountName.openapi({ example: 'intercompany-clearing' }),
  })
  .openapi('Accounts', { description: 'The accounts a business unit’s journals book on (1..64 characters each). A change applies to journals written afterwards.' });
export type Accounts = z.infer<typeof Accounts>;

export const BusinessUnit = z
  .object({
    id: z.number().int().openapi({ example: 3 }),
    code: BunitCode,
    name: z.string().openapi({ example: 'Nordic Sales' }),
    createdDate: Timestamp,
    archivedDate: Timestamp.nullable().openapi({ description: 'When the business unit was archived; null while active.' }),
    accounts: Accounts.openapi({ description: 'The accounts its journals book on (SPEC §16); changed by `PUT /v1/bunits/{bunitId}/accounts`.' }),
  })
  .openapi('BusinessUnit', { description: 'A business unit of the company: owns contracts and may refer customers to other units.' });
export type BusinessUnit = z.infer<typeof BusinessUnit>;

const readOnly = {
  id: z.unknown().optional(),
  createdDate: z.unknown().optional(),
  archivedDate: z.unknown().optional(),
  accounts: z.unknown().optional(),
};

export const BusinessUnitCreate = z
  .strictObject({ code: BunitCode, name: Name.openapi({ example: 'Nordic Sales' }) })
  .openapi('BusinessUnitCreate');
export type BusinessUnitCreate = z.infer<typeof BusinessUnitCreate>;

export const BusinessUnitUpdate = z
  .strictObject({ code: BunitCode, name: Name.openapi({ example: 'Nordic Sales' }), ...readOnly })
  .openapi('BusinessUnitUpdate', { description: 'The whole business unit; read-only fields (id, createdDate, archivedDate, accounts) are ignored; accounts change by `PUT /v1/bunits/{bunitId}/accounts`.' });
export type BusinessUnitUpdate = z.infer<typeof BusinessUnitUpdate>;

export const BusinessUnitList = ListOf(BusinessUnit, 'BusinessUnitList');

export const BusinessUnitListQuery = z.strictObject({
  archived: ArchivedFilter,
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'code', 'name', 'createdDate']),
});
export type BusinessUnitListQuery = z.infer<typeof BusinessUnitListQuery>;

export const BunitParams = z.strictObject({ bunitId: BunitIdParam });
