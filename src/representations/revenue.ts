import { currencyDigits } from '../domain/currency';
import { formatMoney, toDec } from '../domain/decimal';
import type { RevenueLineRecord } from '../repositories/revenue.repository';

/** A revenue line as the API shows it (SPEC §3.4): the amount with the currency's minor digits at least. */
export const presentRevenueLine = (l: RevenueLineRecord) => ({
  id: l.id,
  contractId: l.contractId,
  externalId: l.externalId,
  amount: formatMoney(toDec(l.amount), currencyDigits(l.currency)),
  currency: l.currency,
  periodStart: l.periodStart,
  periodEnd: l.periodEnd,
  createdDate: l.createdAt,
  settled: l.settled,
});
