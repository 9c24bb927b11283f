import { currencyDigits } from '../domain/currency';
import { formatMoney, toDec } from '../domain/decimal';
import { exactAmountText, formatMinor } from '../domain/settlement-math';
import type { RunRecord } from '../repositories/settlement-run.repository';
import type { StatementLineRecord, StatementRecord } from '../repositories/statement.repository';

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
export type LineView = Omit<StatementLineRecord, 'id' | 'disputeId' | 'held'> & { id: number | null };

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
export function presentIssuedStatement(s: StatementRecord, lines?: StatementLineRecord[]) {
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

const LINE_COLUMNS = [
  'id',
  'kind',
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
  'adjustsStatementId',
  'adjustsLineId',
  'disputeId',
  'held',
] as const;

function lineCells(line: StatementLineRecord, currency: string): string[] {
  const p = presentIssuedLine(line, currency);
  const row = { ...p, adjustsStatementId: p.adjusts?.statementId ?? '', adjustsLineId: p.adjusts?.lineId ?? '', disputeId: p.disputeId ?? '' };
  return LINE_COLUMNS.map((c) => String(row[c]));
}

const csvRow = (cells: string[]) => `${cells.map(csvCell).join(',')}\r\n`;
/** RFC 4180: a cell with a comma, a quote or a line break is quoted, its quotes doubled. */
const csvCell = (v: string) => (/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

/** One statement as CSV: a header row and one row per line, amounts exactly as in JSON. */
export function statementCsv(s: StatementRecord, lines: StatementLineRecord[]): string {
  return csvRow([...LINE_COLUMNS]) + lines.map((l) => csvRow(lineCells(l, s.currency))).join('');
}

const EXPORT_STATEMENT_COLUMNS = ['statementId', 'payerId', 'payerCode', 'referrerId', 'referrerCode', 'currency'] as const;

/** The run export (SPEC §6.3): the header row of the file the invoicing job hands to the ERP. */
export const runExportHeader = () =>
  csvRow([...EXPORT_STATEMENT_COLUMNS, ...LINE_COLUMNS.map((c) => (c === 'id' ? 'lineId' : c))]);

/** One row of the run export: the statement's id, payer, referrer and currency, then the line. */
export function runExportRow(s: StatementRecord, line: StatementLineRecord): string {
  return csvRow([String(s.id), String(s.payer.id), s.payer.code, String(s.referrer.id), s.referrer.code, s.currency, ...lineCells(line, s.currency)]);
}
