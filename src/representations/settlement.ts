import { currencyDigits } from '../domain/currency';
import { formatMoney, toDec } from '../domain/decimal';
import { exactAmountText, formatMinor } from '../domain/settlement-math';
import type { RunRecord } from '../repositories/settlement-run.repository';
import type { ListedStatement, StatementLineRecord, StatementRecord } from '../repositories/statement.repository';

/** Settlement runs, statements and their lines as the API shows them (SPEC §6.3, §6.5), to HTTP clients and in events. */

const totalsOf = (totals: RunRecord['totals']) =>
  totals.map((t) => ({ currency: t.currency, amount: formatMinor(t.amountMinor, currencyDigits(t.currency)) }));

export function presentRun(run: RunRecord) {
  return {
    id: run.id,
    through: run.through,
    dryRun: false as const,
    status: run.status,
    createdDate: run.createdAt,
    startedDate: run.startedAt,
    completedDate: run.completedAt,
    statementCount: run.statementCount,
    lineCount: run.lineCount,
    totals: totalsOf(run.totals),
    progress: { partitionsDone: run.partitionsDone, partitionsTotal: run.partitionsTotal, partitionsFailed: run.partitionsFailed },
  };
}

/** What a dry run computed: the run as it would be, with nothing stored (no ids). */
export interface DryRunSummary {
  through: string;
  startedAt: string;
  completedAt: string;
  statementCount: number;
  lineCount: number;
  partitions: number;
  totals: RunRecord['totals'];
}

export function presentDryRun(run: DryRunSummary) {
  return {
    id: null,
    through: run.through,
    dryRun: true as const,
    status: 'completed' as const,
    createdDate: run.startedAt,
    startedDate: run.startedAt,
    completedDate: run.completedAt,
    statementCount: run.statementCount,
    lineCount: run.lineCount,
    totals: totalsOf(run.totals),
    progress: { partitionsDone: run.partitions, partitionsTotal: run.partitions, partitionsFailed: 0 },
  };
}

/** A line as stored (id) or as a dry run computes it (id null; no dispute). */
export type LineView = Omit<StatementLineRecord, 'id' | 'contractNumber' | 'externalId' | 'disputeId' | 'held'> & { id: number | null };

export function presentStatementLine(line: LineView, currency: string) {
  const digits = currencyDigits(currency);
  return {
    id: line.id,
    kind: line.kind,
    revenueLineId: line.revenueLineId,
    referralId: line.referralId,
    contractId: line.contractId,
    periodStart: line.periodStart,
    periodEnd: line.periodEnd,
    periodDays: line.periodDays,
    billableDays: line.billableDays,
    revenueAmount: formatMoney(toDec(line.revenueAmount), digits),
    exactAmount: exactAmountText({ num: line.exactNum, periodDays: line.periodDays }),
    amount: formatMinor(line.amountMinor, digits),
    adjusts: line.adjusts,
  };
}

/** A line of a statement as stored, with its dispute (SPEC §15). */
export function presentIssuedLine(line: StatementLineRecord, currency: string) {
  return { ...presentStatementLine(line, currency), disputeId: line.disputeId, held: line.held };
}

/** A statement as stored or as a dry run computes it (ids null), without what §15 adds. */
export type StatementView = Omit<StatementRecord, 'id' | 'runId' | 'roundUpThrough' | 'period' | 'status' | 'acceptedBy' | 'acceptedDate' | 'heldMinor'> & {
  id: number | null;
  runId: number | null;
};

export function presentStatement(s: StatementView, lines?: LineView[]) {
  return {
    id: s.id,
    runId: s.runId,
    payer: s.payer,
    referrer: s.referrer,
    currency: s.currency,
    total: formatMinor(s.totalMinor, currencyDigits(s.currency)),
    lineCount: s.lineCount,
    createdDate: s.createdAt,
    ...(lines ? { lines: lines.map((l) => presentStatementLine(l, s.currency)) } : {}),
  };
}

/**
 * A statement of a completed run as the API shows it: with its period, where it is in its
 * lifecycle (SPEC §15) and what open disputes hold of it; with its lines, each with its dispute.
 */
export function presentIssuedStatement(s: ListedStatement, lines?: StatementLineRecord[]) {
  return {
    ...presentStatement(s),
    period: s.period,
    status: s.status,
    acceptedBy: s.acceptedBy,
    acceptedDate: s.acceptedDate,
    heldAmount: formatMinor(s.heldMinor, currencyDigits(s.currency)),
    ...(lines ? { lines: lines.map((l) => presentIssuedLine(l, s.currency)) } : {}),
  };
}

/**
 * The CSV of statements (SPEC §6.3), one layout for a single statement and for a run's export:
 * one row per line, each naming its statement (id, payer, referrer, currency) and what a reader
 * reconciles it with (the contract's number, the revenue line's externalId) before the line's own
 * fields; amounts exactly as in JSON; last, the dispute that holds the line, if any (SPEC §15).
 */
export const STATEMENT_CSV_COLUMNS = [
  'statementId',
  'payerId',
  'payerCode',
  'referrerId',
  'referrerCode',
  'currency',
  'lineId',
  'kind',
  'contractId',
  'contractNumber',
  'revenueLineId',
  'externalId',
  'referralId',
  'periodStart',
  'periodEnd',
  'periodDays',
  'billableDays',
  'revenueAmount',
  'exactAmount',
  'amount',
  'adjustsStatementId',
  'adjustsLineId',
  'disputeId',
  'held',
] as const;

/** The UTF-8 byte-order mark that spreadsheet programs need to read non-ASCII text right (`?bom=true`). */
export const UTF8_BOM = '\uFEFF';

const csvRow = (cells: string[]) => `${cells.map(csvCell).join(',')}\r\n`;
/** RFC 4180: a cell with a comma, a quote or a line break is quoted, its quotes doubled. */
const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** The header row of a statement CSV. */
export const statementCsvHeader = () => csvRow([...STATEMENT_CSV_COLUMNS]);

/** One row of a statement CSV: the statement, then the line. */
export function statementCsvRow(s: StatementRecord, line: StatementLineRecord): string {
  const p = presentStatementLine(line, s.currency);
  const row: Record<(typeof STATEMENT_CSV_COLUMNS)[number], string | number> = {
    statementId: s.id,
    payerId: s.payer.id,
    payerCode: s.payer.code,
    referrerId: s.referrer.id,
    referrerCode: s.referrer.code,
    currency: s.currency,
    lineId: line.id,
    kind: p.kind,
    contractId: p.contractId,
    contractNumber: line.contractNumber,
    revenueLineId: p.revenueLineId,
    externalId: line.externalId,
    referralId: p.referralId,
    periodStart: p.periodStart,
    periodEnd: p.periodEnd,
    periodDays: p.periodDays,
    billableDays: p.billableDays,
    revenueAmount: p.revenueAmount,
    exactAmount: p.exactAmount,
    amount: p.amount,
    adjustsStatementId: p.adjusts?.statementId ?? '',
    adjustsLineId: p.adjusts?.lineId ?? '',
    disputeId: line.disputeId ?? '',
    held: String(line.held),
  };
  return csvRow(STATEMENT_CSV_COLUMNS.map((c) => String(row[c])));
}

/** One statement as CSV: a header row and one row per line. */
export function statementCsv(s: StatementRecord, lines: StatementLineRecord[], bom = false): string {
  return (bom ? UTF8_BOM : '') + statementCsvHeader() + lines.map((l) => statementCsvRow(s, l)).join('');
}
