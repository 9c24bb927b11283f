import { currencyDigits } from '../domain/currency';
import { nettingStatus } from '../domain/netting';
import { formatMinor } from '../domain/settlement-math';
import type { JournalRecord } from '../repositories/journal.repository';
import type { NettingRecord, PaymentRecord } from '../repositories/netting.repository';
import type { PeriodRecord } from '../repositories/period.repository';
import type { z } from 'zod';
import type { Journal, Netting, Payment, Period } from '../schemas/period';

/** SPEC §16 resources as the API shows them, to HTTP clients and in events. */

export const presentPeriod = (p: PeriodRecord): z.infer<typeof Period> => ({
  period: p.period,
  status: p.status,
  closedDate: p.closedAt,
  closedBy: p.closedBy,
  statementCount: p.statementCount,
  issuedCount: p.issuedCount,
  openDisputeCount: p.openDisputeCount,
});

export function presentNetting(n: NettingRecord): z.infer<typeof Netting> {
  const digits = currencyDigits(n.currency);
  const party = (id: number | null) => (id === null ? null : id === n.a.id ? n.a : n.b);
  return {
    id: n.id,
    period: n.period,
    currency: n.currency,
    parties: [
      { bunit: n.a, owes: formatMinor(n.owesA, digits) },
      { bunit: n.b, owes: formatMinor(n.owesB, digits) },
    ],
    payer: party(n.payerId),
    payee: party(n.payeeId),
    amount: formatMinor(n.amountMinor, digits),
    paidAmount: formatMinor(n.paidMinor, digits),
    status: nettingStatus(n.amountMinor, n.paidMinor),
    statementIds: n.statementIds,
    releasedLineIds: n.releasedLineIds,
    createdDate: n.createdAt,
  };
}

export const presentPayment = (p: PaymentRecord, currency: string): z.infer<typeof Payment> => ({
  id: p.id,
  nettingId: p.nettingId,
  amount: formatMinor(p.amountMinor, currencyDigits(currency)),
  paidDate: p.paidDate,
  reference: p.reference,
  recordedBy: p.recordedBy,
  createdDate: p.createdAt,
});

export function presentJournal(j: JournalRecord): z.infer<typeof Journal> {
  const digits = currencyDigits(j.currency);
  const money = (v: bigint | null) => (v === null ? null : formatMinor(v, digits));
  return {
    id: j.id,
    bunit: j.bunit,
    kind: j.kind,
    period: j.period,
    currency: j.currency,
    date: j.date,
    entries: j.entries.map((e) => ({
      account: e.account,
      tradingPartner: e.partner,
      debit: money(e.debitMinor),
      credit: money(e.creditMinor),
      memo: e.memo,
      nettingId: e.nettingId,
    })),
    totalDebit: formatMinor(j.totalMinor, digits),
    totalCredit: formatMinor(j.totalMinor, digits),
    postedDate: j.postedAt,
    externalId: j.externalId,
    createdDate: j.createdAt,
  };
}

const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

const JOURNAL_CSV_COLUMNS = ['journalId', 'bunitCode', 'kind', 'date', 'currency', 'period', 'line', 'account', 'tradingPartnerId', 'tradingPartnerCode', 'debit', 'credit', 'memo', 'nettingId'];

export const journalCsvHeader = () => `${JOURNAL_CSV_COLUMNS.join(',')}\r\n`;

/** One row per entry, the journal's id, unit, kind, date and currency first; an entry's other side empty. */
export function journalCsvRows(j: JournalRecord): string {
  const digits = currencyDigits(j.currency);
  return j.entries
    .map(
      (e, i) =>
        [
          j.id,
          j.bunit.code,
          j.kind,
          j.date,
          j.currency,
          j.period,
          i + 1,
          e.account,
          e.partner.id,
          e.partner.code,
          e.debitMinor === null ? '' : formatMinor(e.debitMinor, digits),
          e.creditMinor === null ? '' : formatMinor(e.creditMinor, digits),
          e.memo,
          e.nettingId,
        ]
          .map((v) => csvCell(String(v)))
          .join(',') + '\r\n',
    )
    .join('');
}
