import type { Knex } from 'knex';
import { dialectOf, exactIntegerText, insertRows, queryBuilt, toIsoTimestamp } from '../db';
import { nettingStatus, type NettingDraft } from '../domain/netting';
import type { Page, PageResult } from './paging';
import type { PartyRecord } from './statement.repository';

/**
 * Nettings and their payments (SPEC §16). A netting is written by its period's close and shown
 * once the period is closed; its paid amount and status follow from its payments, which are
 * append-only.
 */

export interface NettingRecord {
  id: number;
  period: string;
  currency: string;
  a: PartyRecord;
  b: PartyRecord;
  owesA: bigint;
  owesB: bigint;
  amountMinor: bigint;
  payerId: number | null;
  payeeId: number | null;
  paidMinor: bigint;
  statementIds: number[];
  releasedLineIds: number[];
  createdAt: string;
}

/**
 * Writes a period's nettings, their statements (a row each: netted once, ever) and their released
 * lines (a row each); the ids in the drafts' order.
 */
export async function insertNettings(trx: Knex, period: string, drafts: readonly NettingDraft[], createdAt: string): Promise<number[]> {
  const rows = await insertRows<{ id: number; bunit_a_id: number; bunit_b_id: number; currency: string }>(
    trx,
    'nettings',
    ['period', 'bunit_a_id', 'bunit_b_id', 'currency', 'owes_a_minor', 'owes_b_minor', 'amount_minor', 'payer_id', 'payee_id', 'created_at'],
    drafts.map((d) => [period, d.aId, d.bId, d.currency, d.owesA.toString(), d.owesB.toString(), d.amount.toString(), d.payerId, d.payeeId, createdAt]),
    ['id', 'bunit_a_id', 'bunit_b_id', 'currency'],
  );
  // Matched by value (period, pair, currency: unique), not by position.
  const idOf = new Map(rows.map((r) => [`${r.bunit_a_id}/${r.bunit_b_id}/${r.currency}`, r.id]));
  const ids = drafts.map((d) => idOf.get(`${d.aId}/${d.bId}/${d.currency}`)!);
  // Each statement's lines (all but those held at the close) are netted through its row; a
  // released line has a row of its own.
  await insertRows(trx, 'netting_statements', ['statement_id', 'netting_id'], drafts.flatMap((d, i) => d.statementIds.map((s) => [s, ids[i]])));
  await insertRows(trx, 'netted_lines', ['statement_line_id', 'netting_id'], drafts.flatMap((d, i) => d.releasedLineIds.map((l) => [l, ids[i]])));
  return ids;
}

interface NettingRow {
  id: number;
  period: string;
  currency: string;
  a_id: number;
  a_code: string;
  a_name: string;
  b_id: number;
  b_code: string;
  b_name: string;
  owes_a_minor: string;
  owes_b_minor: string;
  amount_minor: string;
  payer_id: number | null;
  payee_id: number | null;
  created_at: Date | string;
}

/** Nettings of closed periods only: a period's nettings are seen once its close is done. */
function nettingQuery(db: Knex, options: { includeClosing?: boolean } = {}) {
  const query = db({ n: 'nettings' })
    .join({ p: 'periods' }, 'p.period', 'n.period')
    .join({ a: 'business_units' }, 'a.id', 'n.bunit_a_id')
    .join({ b: 'business_units' }, 'b.id', 'n.bunit_b_id')
    .select(
      'n.id',
      'n.period',
      'n.currency',
      { a_id: 'a.id', a_code: 'a.code', a_name: 'a.name', b_id: 'b.id', b_code: 'b.code', b_name: 'b.name' },
      exactIntegerText(db, 'n.owes_a_minor', 'owes_a_minor'),
      exactIntegerText(db, 'n.owes_b_minor', 'owes_b_minor'),
      exactIntegerText(db, 'n.amount_minor', 'amount_minor'),
      'n.payer_id',
      'n.payee_id',
      'n.created_at',
    );
  if (!options.includeClosing) query.where('p.status', 'closed');
  return query;
}

async function toRecords(db: Knex, rows: NettingRow[]): Promise<NettingRecord[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const paid = new Map<number, bigint>();
  const statements = new Map<number, number[]>();
  const released = new Map<number, number[]>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const payments: { netting_id: number; amount_minor: string }[] = await db('payments')
      .select('netting_id', exactIntegerText(db, 'amount_minor', 'amount_minor'))
      .whereIn('netting_id', chunk);
    for (const p of payments) paid.set(p.netting_id, (paid.get(p.netting_id) ?? 0n) + BigInt(p.amount_minor));
    const ns: { netting_id: number; statement_id: number }[] = await db('netting_statements').select('netting_id', 'statement_id').whereIn('netting_id', chunk).orderBy('statement_id');
    for (const s of ns) statements.set(s.netting_id, [...(statements.get(s.netting_id) ?? []), s.statement_id]);
    const rl: { netting_id: number; statement_line_id: number }[] = await db('netted_lines')
      .select('netting_id', 'statement_line_id')
      .whereIn('netting_id', chunk)
      .orderBy('statement_line_id');
    for (const l of rl) released.set(l.netting_id, [...(released.get(l.netting_id) ?? []), l.statement_line_id]);
  }
  return rows.map((r) => ({
    id: r.id,
    period: r.period,
    currency: r.currency,
    a: { id: r.a_id, code: r.a_code, name: r.a_name },
    b: { id: r.b_id, code: r.b_code, name: r.b_name },
    owesA: BigInt(r.owes_a_minor),
    owesB: BigInt(r.owes_b_minor),
    amountMinor: BigInt(r.amount_minor),
    payerId: r.payer_id,
    payeeId: r.payee_id,
    paidMinor: paid.get(r.id) ?? 0n,
    statementIds: statements.get(r.id) ?? [],
    releasedLineIds: released.get(r.id) ?? [],
    createdAt: toIsoTimestamp(r.created_at)!,
  }));
}

export async function findNetting(db: Knex, id: number, options: { includeClosing?: boolean } = {}): Promise<NettingRecord | undefined> {
  const rows = await queryBuilt<NettingRow>(nettingQuery(db, options).where('n.id', id));
  return (await toRecords(db, rows))[0];
}

/** A closing period's nettings (the close's own work: its journals are built from them). */
export async function nettingsOfPeriod(db: Knex, period: string, options: { includeClosing?: boolean } = {}): Promise<NettingRecord[]> {
  const rows = await queryBuilt<NettingRow>(nettingQuery(db, options).where('n.period', period).orderBy('n.id'));
  return toRecords(db, rows);
}

export interface NettingFilter {
  period?: string | undefined;
  bunitId?: number | undefined;
  status?: 'open' | 'partially-paid' | 'paid' | undefined;
}

/**
 * Nettings, newest period first, then by id. The status is derived from the payments, so the
 * filter on it reads the paid sums (a BU has a few nettings a month).
 */
export async function listNettings(db: Knex, filter: NettingFilter, page: Page): Promise<PageResult<NettingRecord>> {
  const query = nettingQuery(db);
  if (filter.period !== undefined) query.where('n.period', filter.period);
  if (filter.bunitId !== undefined) query.where((q) => q.where('n.bunit_a_id', filter.bunitId!).orWhere('n.bunit_b_id', filter.bunitId!));
  if (filter.status === undefined) {
    const [counted] = await queryBuilt<{ total: number | string }>(query.clone().clearSelect().count({ total: '*' }));
    const rows = await queryBuilt<NettingRow>(query.orderBy([{ column: 'n.period', order: 'desc' }, { column: 'n.id', order: 'asc' }]).limit(page.limit).offset(page.offset));
    return { rows: await toRecords(db, rows), total: Number(counted?.total ?? 0) };
  }
  const all = await toRecords(db, await queryBuilt<NettingRow>(query.orderBy([{ column: 'n.period', order: 'desc' }, { column: 'n.id', order: 'asc' }])));
  const matching = all.filter((n) => nettingStatus(n.amountMinor, n.paidMinor) === filter.status);
  return { rows: matching.slice(page.offset, page.offset + page.limit), total: matching.length };
}

/** Locks a netting for a payment (PostgreSQL: its row; SQLite: the transaction holds the write lock). */
export async function lockNetting(trx: Knex.Transaction, id: number): Promise<void> {
  const query = trx('nettings').select('id').where({ id });
  if (dialectOf(trx) === 'postgres') query.forUpdate();
  await query;
}

// ---- payments --------------------------------------------------------------------------------

export interface PaymentRecord {
  id: number;
  nettingId: number;
  amountMinor: bigint;
  paidDate: string;
  reference: string;
  recordedBy: string;
  createdAt: string;
}

interface PaymentRow {
  id: number;
  netting_id: number;
  amount_minor: string;
  paid_date: string | Date;
  reference: string;
  recorded_by: string;
  created_at: Date | string;
}

const dateText = (v: string | Date) => (typeof v === 'string' ? v : v.toISOString().slice(0, 10));

const toPayment = (r: PaymentRow): PaymentRecord => ({
  id: r.id,
  nettingId: r.netting_id,
  amountMinor: BigInt(r.amount_minor),
  paidDate: dateText(r.paid_date),
  reference: r.reference,
  recordedBy: r.recorded_by,
  createdAt: toIsoTimestamp(r.created_at)!,
});

const paymentQuery = (db: Knex) =>
  db('payments').select('id', 'netting_id', exactIntegerText(db, 'amount_minor', 'amount_minor'), 'paid_date', 'reference', 'recorded_by', 'created_at');

export async function paymentsOf(db: Knex, nettingId: number): Promise<PaymentRecord[]> {
  const rows = await queryBuilt<PaymentRow>(paymentQuery(db).where('netting_id', nettingId).orderBy('id'));
  return rows.map(toPayment);
}

export async function findPayment(db: Knex, id: number): Promise<PaymentRecord | undefined> {
  const [row] = await queryBuilt<PaymentRow>(paymentQuery(db).where('id', id));
  return row && toPayment(row);
}

export async function insertPayment(
  trx: Knex,
  p: { nettingId: number; amountMinor: bigint; paidDate: string; reference: string; recordedBy: string; recordedByKeyId: number | null; createdAt: string },
): Promise<number> {
  const [row] = await trx('payments')
    .insert({
      netting_id: p.nettingId,
      amount_minor: p.amountMinor.toString(),
      paid_date: p.paidDate,
      reference: p.reference,
      recorded_by: p.recordedBy,
      recorded_by_key_id: p.recordedByKeyId,
      created_at: p.createdAt,
    })
    .returning('id');
  return typeof row === 'object' ? (row as { id: number }).id : (row as number);
}
