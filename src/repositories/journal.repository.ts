import type { Knex } from 'knex';
import { dialectOf, exactIntegerText, insertRows, queryBuilt, toIsoTimestamp } from '../db';
import type { Accounts, JournalEntry } from '../domain/journal';
import type { Page, PageResult } from './paging';

/**
 * Journals (SPEC §16): written once with their entries, never changed; the ERP's acknowledgement
 * of a journal is a row of its own (journal_postings). A close journal is seen once its period is
 * closed.
 */

export interface JournalEntryRecord {
  account: string;
  partner: { id: number; code: string };
  debitMinor: bigint | null;
  creditMinor: bigint | null;
  memo: string;
  nettingId: number;
}

export interface JournalRecord {
  id: number;
  bunit: { id: number; code: string; name: string };
  kind: 'close' | 'payment';
  period: string;
  currency: string;
  date: string;
  paymentId: number | null;
  totalMinor: bigint;
  postedAt: string | null;
  externalId: string | null;
  createdAt: string;
  entries: JournalEntryRecord[];
}

export interface NewJournal {
  bunitId: number;
  kind: 'close' | 'payment';
  period: string;
  currency: string;
  date: string;
  paymentId: number | null;
  entries: readonly JournalEntry[];
  totalMinor: bigint;
  createdAt: string;
}

/**
 * Writes a journal and its entries; null when the unit's close journal of that period and
 * currency exists already (another close wrote it).
 */
export async function insertJournal(trx: Knex, j: NewJournal): Promise<number | null> {
  const conflict = j.kind === 'close' ? "ON CONFLICT (bunit_id, period, currency) WHERE kind = 'close' DO NOTHING" : '';
  const result = await trx.raw(
    `INSERT INTO journals (bunit_id, kind, period, currency, date, payment_id, total_minor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ${conflict} RETURNING id`,
    [j.bunitId, j.kind, j.period, j.currency, j.date, j.paymentId, j.totalMinor.toString(), j.createdAt],
  );
  const rows: { id: number }[] = dialectOf(trx) === 'postgres' ? result.rows : result;
  if (rows.length === 0) return null;
  const id = rows[0]!.id;
  await insertRows(
    trx,
    'journal_entries',
    ['journal_id', 'seq', 'account', 'partner_id', 'netting_id', 'debit_minor', 'credit_minor', 'memo'],
    j.entries.map((e, i) => [id, i + 1, e.account, e.partnerId, e.nettingId, e.debit?.toString() ?? null, e.credit?.toString() ?? null, e.memo]),
  );
  return id;
}

/**
 * Writes close journals (one per unit and currency of a period) and their entries, in two
 * statements whatever their number; a journal that exists already (another close wrote it) is
 * left as it is, with its entries. The number written.
 */
export async function insertCloseJournals(trx: Knex, journals: readonly NewJournal[]): Promise<number> {
  const rows = await insertRows<{ id: number; bunit_id: number; currency: string }>(
    trx,
    'journals',
    ['bunit_id', 'kind', 'period', 'currency', 'date', 'payment_id', 'total_minor', 'created_at'],
    journals.map((j) => [j.bunitId, 'close', j.period, j.currency, j.date, null, j.totalMinor.toString(), j.createdAt]),
    ['id', 'bunit_id', 'currency'],
    { ignoreConflictOn: ['bunit_id', 'period', 'currency'], conflictWhere: "kind = 'close'" },
  );
  // Matched by value (unit and currency: unique among the period's close journals), not by position.
  const idOf = new Map(rows.map((r) => [`${r.bunit_id}/${r.currency}`, r.id]));
  const entries: unknown[][] = [];
  for (const j of journals) {
    const id = idOf.get(`${j.bunitId}/${j.currency}`);
    if (id === undefined) continue;
    j.entries.forEach((e, i) => entries.push([id, i + 1, e.account, e.partnerId, e.nettingId, e.debit?.toString() ?? null, e.credit?.toString() ?? null, e.memo]));
  }
  await insertRows(trx, 'journal_entries', ['journal_id', 'seq', 'account', 'partner_id', 'netting_id', 'debit_minor', 'credit_minor', 'memo'], entries);
  return rows.length;
}

/** The units' close journals of a period that exist, as `bunitId/currency`. */
export async function closeJournalKeys(db: Knex, period: string): Promise<Set<string>> {
  const rows: { bunit_id: number; currency: string }[] = await db('journals').select('bunit_id', 'currency').where({ period, kind: 'close' });
  return new Set(rows.map((r) => `${r.bunit_id}/${r.currency}`));
}

interface JournalRow {
  id: number;
  bunit_id: number;
  bunit_code: string;
  bunit_name: string;
  kind: 'close' | 'payment';
  period: string;
  currency: string;
  date: string | Date;
  payment_id: number | null;
  total_minor: string;
  created_at: Date | string;
  posted_at: Date | string | null;
  external_id: string | null;
}

const dateText = (v: string | Date) => (typeof v === 'string' ? v : v.toISOString().slice(0, 10));

/** Journals that may be seen: a close journal once its period is closed, a payment journal at once. */
function journalQuery(db: Knex) {
  return db({ j: 'journals' })
    .join({ u: 'business_units' }, 'u.id', 'j.bunit_id')
    .leftJoin({ jp: 'journal_postings' }, 'jp.journal_id', 'j.id')
    .leftJoin({ p: 'periods' }, 'p.period', 'j.period')
    .select(
      'j.id',
      'j.bunit_id',
      { bunit_code: 'u.code', bunit_name: 'u.name' },
      'j.kind',
      'j.period',
      'j.currency',
      'j.date',
      'j.payment_id',
      exactIntegerText(db, 'j.total_minor', 'total_minor'),
      'j.created_at',
      'jp.posted_at',
      'jp.external_id',
    )
    .where((q) => q.where('j.kind', 'payment').orWhere('p.status', 'closed'));
}

async function withEntries(db: Knex, rows: JournalRow[]): Promise<JournalRecord[]> {
  const entries = new Map<number, JournalEntryRecord[]>();
  const ids = rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) {
    const found: {
      journal_id: number;
      account: string;
      partner_id: number;
      partner_code: string;
      debit_minor: string | null;
      credit_minor: string | null;
      memo: string;
      netting_id: number;
    }[] = await db({ e: 'journal_entries' })
      .join({ u: 'business_units' }, 'u.id', 'e.partner_id')
      .select(
        'e.journal_id',
        'e.account',
        'e.partner_id',
        { partner_code: 'u.code' },
        exactIntegerText(db, 'e.debit_minor', 'debit_minor'),
        exactIntegerText(db, 'e.credit_minor', 'credit_minor'),
        'e.memo',
        'e.netting_id',
      )
      .whereIn('e.journal_id', ids.slice(i, i + 500))
      .orderBy([{ column: 'e.journal_id' }, { column: 'e.seq' }]);
    for (const e of found) {
      const list = entries.get(e.journal_id) ?? [];
      list.push({
        account: e.account,
        partner: { id: e.partner_id, code: e.partner_code },
        debitMinor: e.debit_minor === null ? null : BigInt(e.debit_minor),
        creditMinor: e.credit_minor === null ? null : BigInt(e.credit_minor),
        memo: e.memo,
        nettingId: e.netting_id,
      });
      entries.set(e.journal_id, list);
    }
  }
  return rows.map((r) => ({
    id: r.id,
    bunit: { id: r.bunit_id, code: r.bunit_code, name: r.bunit_name },
    kind: r.kind,
    period: r.period,
    currency: r.currency,
    date: dateText(r.date),
    paymentId: r.payment_id,
    totalMinor: BigInt(r.total_minor),
    postedAt: toIsoTimestamp(r.posted_at),
    externalId: r.external_id,
    createdAt: toIsoTimestamp(r.created_at)!,
    entries: entries.get(r.id) ?? [],
  }));
}

/** The close journals of a (closed) period with their entries, in id order: a few reads for all of them. */
export async function closeJournalsOfPeriod(db: Knex, period: string): Promise<JournalRecord[]> {
  const rows = await queryBuilt<JournalRow>(journalQuery(db).where('j.period', period).where('j.kind', 'close').orderBy('j.id'));
  return withEntries(db, rows);
}

export async function findJournal(db: Knex, id: number): Promise<JournalRecord | undefined> {
  const rows = await queryBuilt<JournalRow>(journalQuery(db).where('j.id', id));
  return (await withEntries(db, rows))[0];
}

export interface JournalFilter {
  bunitId: number;
  period?: string | undefined;
  kind?: 'close' | 'payment' | undefined;
  posted?: boolean | undefined;
}

export async function listJournals(db: Knex, filter: JournalFilter, page: Page): Promise<PageResult<JournalRecord>> {
  const query = journalQuery(db).where('j.bunit_id', filter.bunitId);
  if (filter.period !== undefined) query.where('j.period', filter.period);
  if (filter.kind !== undefined) query.where('j.kind', filter.kind);
  if (filter.posted === true) query.whereNotNull('jp.journal_id');
  if (filter.posted === false) query.whereNull('jp.journal_id');
  const [counted] = await queryBuilt<{ total: number | string }>(query.clone().clearSelect().count({ total: '*' }));
  const rows = await queryBuilt<JournalRow>(query.orderBy('j.id').limit(page.limit).offset(page.offset));
  return { rows: await withEntries(db, rows), total: Number(counted?.total ?? 0) };
}

/** Records the ERP's acknowledgement; false when the journal was posted already. */
export async function insertPosting(trx: Knex, p: { journalId: number; externalId: string; postedBy: string; postedByKeyId: number | null; postedAt: string }): Promise<boolean> {
  const rows = await insertRows<{ journal_id: number }>(
    trx,
    'journal_postings',
    ['journal_id', 'external_id', 'posted_by', 'posted_by_key_id', 'posted_at'],
    [[p.journalId, p.externalId, p.postedBy, p.postedByKeyId, p.postedAt]],
    ['journal_id'],
    { ignoreConflictOn: ['journal_id'] },
  );
  return rows.length > 0;
}

// ---- accounts --------------------------------------------------------------------------------

const ACCOUNT_COLUMNS = {
  receivable: 'account_receivable',
  payable: 'account_payable',
  income: 'account_income',
  expense: 'account_expense',
  clearing: 'account_clearing',
} as const;

export async function accountsOf(db: Knex, bunitIds: readonly number[]): Promise<Map<number, Accounts>> {
  const out = new Map<number, Accounts>();
  if (bunitIds.length === 0) return out;
  const rows: Record<string, string | number>[] = await db('business_units')
    .select('id', ...Object.values(ACCOUNT_COLUMNS))
    .whereIn('id', [...new Set(bunitIds)]);
  for (const r of rows) {
    out.set(r.id as number, {
      receivable: r.account_receivable as string,
      payable: r.account_payable as string,
      income: r.account_income as string,
      expense: r.account_expense as string,
      clearing: r.account_clearing as string,
    });
  }
  return out;
}

export async function updateAccounts(trx: Knex, bunitId: number, accounts: Accounts): Promise<void> {
  await trx('business_units')
    .where({ id: bunitId })
    // The accounts are part of the business unit's resource: its version (and ETag) moves with them.
    .update({ ...Object.fromEntries(Object.entries(ACCOUNT_COLUMNS).map(([k, col]) => [col, accounts[k as keyof Accounts]])), version: trx.raw('version + 1') });
}
