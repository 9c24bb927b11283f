import { z } from 'zod';
import { ArchivedFilter, BunitIdParam, Limit, ListOf, Offset, SortParam, Text, Timestamp } from './common';

export const BunitCode = z
  .string('must be a string')
  .regex(/^[A-Z0-9-]{2,32}$/, 'must be 2 to 32 characters of A-Z, 0-9 and -')
  .openapi({ example: 'NORDICS', description: 'Unique short code, `[A-Z0-9-]{2,32}`.' });

const Name = Text(200);

export const BusinessUnit = z
  .object({
    id: z.number().int().openapi({ example: 3 }),
    code: BunitCode,
    name: z.string().openapi({ example: 'Nordic Sales' }),
    createdDate: Timestamp,
    archivedDate: Timestamp.nullable().openapi({ description: 'When the business unit was archived; null while active.' }),
  })
  .openapi('BusinessUnit', { description: 'A business unit of the company: owns contracts and may refer customers to other units.' });
export type BusinessUnit = z.infer<typeof BusinessUnit>;

const readOnly = {
  id: z.unknown().optional(),
  createdDate: z.unknown().optional(),
  archivedDate: z.unknown().optional(),
};

export const BusinessUnitCreate = z
  .strictObject({ code: BunitCode, name: Name.openapi({ example: 'Nordic Sales' }) })
  .openapi('BusinessUnitCreate');
export type BusinessUnitCreate = z.infer<typeof BusinessUnitCreate>;

export const BusinessUnitUpdate = z
  .strictObject({ code: BunitCode, name: Name.openapi({ example: 'Nordic Sales' }), ...readOnly })
  .openapi('BusinessUnitUpdate', { description: 'The whole business unit; read-only fields (id, createdDate, archivedDate) are ignored.' });
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
