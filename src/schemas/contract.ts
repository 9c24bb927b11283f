import { z } from 'zod';
import { isKnownCurrency } from '../domain/currency';
import { ArchivedFilter, BunitIdParam, IdParam, IsoDate, Limit, ListOf, Offset, SortParam, Text, Timestamp, whenFieldsValid } from './common';

export const CurrencyCode = z
  .string('must be a string')
  .refine(isKnownCurrency, 'must be an active ISO 4217 currency code such as EUR')
  .openapi({ example: 'EUR', description: 'ISO 4217 currency code; fixed at creation.' });

export const Contract = z
  .object({
    id: z.number().int().openapi({ example: 42 }),
    bunitId: z.number().int().openapi({ example: 1, description: 'The owning business unit; never changes.' }),
    number: z.string().openapi({ example: 'C-2026-001', description: 'Unique within the business unit.' }),
    name: z.string().openapi({ example: 'Fleet telematics, 3 years' }),
    customer: z.string().nullable().openapi({ example: 'Acme Logistics AS' }),
    currency: z.string().openapi({ example: 'EUR' }),
    startDate: IsoDate,
    endDate: IsoDate.nullable(),
    createdDate: Timestamp,
    archivedDate: Timestamp.nullable(),
  })
  .openapi('Contract', { description: 'A contract sold by a business unit to a customer. Revenue is booked against it.' });
export type Contract = z.infer<typeof Contract>;

const contractContent = {
  number: Text(64).openapi({ example: 'C-2026-001' }),
  name: Text(200).openapi({ example: 'Fleet telematics, 3 years' }),
  customer: Text(200).nullable().optional().openapi({ example: 'Acme Logistics AS' }),
  currency: CurrencyCode,
  startDate: IsoDate,
  endDate: IsoDate.nullable().optional(),
};

function endNotBeforeStart<T extends { startDate: string; endDate?: string | null }>(v: T, ctx: z.core.$RefinementCtx<T>) {
  if (v.endDate && v.endDate < v.startDate) {
    ctx.addIssue({ code: 'custom', path: ['endDate'], message: 'must not be before startDate' });
  }
}

export const ContractCreate = z.strictObject(contractContent).superRefine(endNotBeforeStart, whenFieldsValid('startDate', 'endDate')).openapi('ContractCreate');
export type ContractCreate = z.infer<typeof ContractCreate>;

export const ContractUpdate = z
  .strictObject({
    ...contractContent,
    bunitId: z.unknown().optional(),
    id: z.unknown().optional(),
    createdDate: z.unknown().optional(),
    archivedDate: z.unknown().optional(),
  })
  .superRefine(endNotBeforeStart, whenFieldsValid('startDate', 'endDate'))
  .openapi('ContractUpdate', {
    description:
      'The whole contract. `currency` must equal the stored one (409 immutable-relation otherwise); read-only fields are ignored.',
  });
export type ContractUpdate = z.infer<typeof ContractUpdate>;

export const ContractList = ListOf(Contract, 'ContractList');

export const ContractListQuery = z.strictObject({
  archived: ArchivedFilter,
  limit: Limit,
  offset: Offset,
  sort: SortParam(['id', 'number', 'startDate', 'createdDate']),
});
export type ContractListQuery = z.infer<typeof ContractListQuery>;

export const ContractParams = z.strictObject({
  bunitId: BunitIdParam,
  contractId: IdParam.openapi({ description: 'Id of a contract owned by the business unit in the path.', example: 42 }),
});
