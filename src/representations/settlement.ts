import { currencyDigits } from '../domain/currency';
import { formatDecimal, formatMoney, toDec } from '../domain/decimal';
import { formatMinor } from '../domain/settlement-math';
import type { RunRecord, StatementLineRecord, StatementRecord } from '../repositories/settlement.repository';

/** Settlement runs, statements and their lines as the API shows them (SPEC §6.3), to HTTP clients and in events. */

export function presentRun(run: RunRecord, dryRun: boolean) {
  return {
    id: dryRun ? null : run.id,
    through: run.through,
    dryRun,
    createdDate: run.createdAt,
    statementCount: run.statementCount,
    lineCount: run.lineCount,
    totals: run.totals.map((t) => ({ currency: t.currency, amount: formatMinor(t.amountMinor, currencyDigits(t.currency)) })),
  };
}

export function presentStatementLine(line: StatementLineRecord, currency: string, dryRun = false) {
  const digits = currencyDigits(currency);
  return {
    id: dryRun ? null : line.id,
    revenueLineId: line.revenueLineId,
    referralId: line.referralId,
    contractId: line.contractId,
    periodStart: line.periodStart,
    periodEnd: line.periodEnd,
    periodDays: line.periodDays,
    billableDays: line.billableDays,
    revenueAmount: formatMoney(toDec(line.revenueAmount), digits),
    exactAmount: formatDecimal(toDec(line.exactAmount)),
    amount: formatMinor(line.amountMinor, digits),
  };
}

export function presentStatement(s: StatementRecord, lines?: StatementLineRecord[], dryRun = false) {
  return {
    id: dryRun ? null : s.id,
    runId: dryRun ? null : s.runId,
    payer: s.payer,
    referrer: s.referrer,
    currency: s.currency,
    total: formatMinor(s.totalMinor, currencyDigits(s.currency)),
    lineCount: s.lineCount,
    createdDate: s.createdAt,
    ...(lines ? { lines: lines.map((l) => presentStatementLine(l, s.currency, dryRun)) } : {}),
  };
}

const CSV_COLUMNS = [
  'id',
  'revenueLineId',
  'referralId',
  'contractId',
  'periodStart',
  'periodEnd',
  'periodDays',
  'billableDays',
  'revenueAmount',
  'exactAmount',
  'amount',
] as const;

/** One statement as CSV: a header row and one row per line, amounts exactly as in JSON. */
export function statementCsv(s: StatementRecord, lines: StatementLineRecord[]): string {
  const rows = lines.map((l) => {
    const p = presentStatementLine(l, s.currency);
    return CSV_COLUMNS.map((c) => String(p[c])).join(',');
  });
  return [CSV_COLUMNS.join(','), ...rows].join('\r\n') + '\r\n';
}
