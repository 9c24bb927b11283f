import { spawn } from 'node:child_process';
import type { Knex } from 'knex';
import { ROOT } from './server-process';

/**
 * The statement lifecycle of SPEC §15 as a close needs it (accepted statements, lines held by an
 * open dispute, disputes that end), written into the database the way the §15 services write it,
 * so that the §16 suites do not depend on the §15 routes.
 */

export async function acceptStatements(db: Knex, period: string): Promise<void> {
  await db('statements').where({ period, status: 'issued' }).update({ status: 'accepted', accepted_by: 'test', accepted_date: '2026-01-01' });
}

/** Opens a dispute on lines of a statement, raised by `bunitId`: its lines are held. */
export async function holdLines(db: Knex, statementId: number, bunitId: number, lineIds: number[], createdAt = '2026-11-20T10:00:00.000Z'): Promise<number> {
  const [row] = await db('disputes')
    .insert({
      statement_id: statementId,
      bunit_id: bunitId,
      raised_by: 'test',
      reason_code: 'wrong-revenue',
      comment: 'held by a test',
      status: 'open',
      amount_minor: 0,
      line_count: lineIds.length,
      created_at: createdAt,
    })
    .returning('id');
  const id = typeof row === 'object' ? (row as { id: number }).id : (row as number);
  for (const lineId of lineIds) {
    await db('dispute_lines').insert({ dispute_id: id, statement_line_id: lineId });
    await db('held_lines').insert({ statement_line_id: lineId, dispute_id: id });
    await db('statement_lines').where({ id: lineId }).update({ dispute_id: id });
  }
  return id;
}

/** Ends a dispute on a day (rejected): its lines are released. */
export async function endDispute(db: Knex, disputeId: number, endedDate: string): Promise<void> {
  await db('held_lines').where({ dispute_id: disputeId }).delete();
  await db('disputes').where({ id: disputeId }).update({ status: 'rejected', outcome: 'rejected', resolved_by: 'test', ended_date: endedDate });
}

/** Runs `npm run close` as its own process on a database; `onStdout` may kill it. */
export function closeCommand(
  url: string,
  args: string[],
  onStdout?: (text: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/close.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => {
      output += c.toString();
      stdout += c.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

/**
 * The lines netted so far, each as often as it was netted: the lines of every netted statement
 * but those held at its close, and every released line.
 */
export async function nettedLineIds(db: Knex): Promise<number[]> {
  const throughStatements: number[] = await db('statement_lines as l')
    .join('netting_statements as ns', 'ns.statement_id', 'l.statement_id')
    .whereNotExists(db('held_at_close as c').select(db.raw('1')).whereRaw('c.statement_line_id = l.id'))
    .pluck('l.id');
  const released: number[] = await db('netted_lines').pluck('statement_line_id');
  return [...throughStatements, ...released].map(Number).sort((a, b) => a - b);
}

/** Everything a close wrote, undone (statements back to accepted), so that the same period can be closed again. */
export async function forgetClose(db: Knex): Promise<void> {
  for (const table of ['journal_postings', 'journal_entries', 'journals', 'payments', 'netted_lines', 'netting_statements', 'nettings', 'held_at_close', 'periods']) {
    await db(table).delete();
  }
  await db('statements').where({ status: 'closed' }).update({ status: 'accepted' });
}

/**
 * What a close wrote, without database ids: the nettings by pair and currency, the journals with
 * their entries (nettings named by their pair), the lines netted and held.
 */
export async function closeSnapshot(db: Knex, period: string): Promise<unknown> {
  const nettings: Record<string, unknown>[] = await db('nettings').where({ period }).orderBy(['bunit_a_id', 'bunit_b_id', 'currency']);
  const pairOf = new Map(nettings.map((n) => [n.id as number, `${n.bunit_a_id}/${n.bunit_b_id}/${n.currency}`]));
  const netted: { statement_line_id: number; netting_id: number }[] = await db('netted_lines').orderBy('statement_line_id');
  const journals: Record<string, unknown>[] = await db('journals').where({ period, kind: 'close' }).orderBy(['bunit_id', 'currency']);
  const entries: Record<string, unknown>[] = await db('journal_entries').orderBy(['journal_id', 'seq']);
  return {
    status: (await db('periods').where({ period }).first())?.status,
    nettings: nettings.map((n) => ({
      pair: pairOf.get(n.id as number),
      owesA: String(n.owes_a_minor),
      owesB: String(n.owes_b_minor),
      amount: String(n.amount_minor),
      payer: n.payer_id,
    })),
    nettingStatements: (await db('netting_statements').orderBy('statement_id')).map((r: { statement_id: number; netting_id: number }) => [r.statement_id, pairOf.get(r.netting_id)]),
    released: netted.map((l) => [l.statement_line_id, pairOf.get(l.netting_id)]),
    netted: await nettedLineIds(db),
    held: (await db('held_at_close').orderBy('statement_line_id')).map((r: { statement_line_id: number }) => r.statement_line_id),
    journals: journals.map((j) => ({
      bunit: j.bunit_id,
      currency: j.currency,
      date: String(j.date instanceof Date ? (j.date as Date).toISOString().slice(0, 10) : j.date),
      total: String(j.total_minor),
      entries: entries
        .filter((e) => e.journal_id === j.id)
        .map((e) => [e.account, e.partner_id, pairOf.get(e.netting_id as number), e.debit_minor === null ? null : String(e.debit_minor), e.credit_minor === null ? null : String(e.credit_minor)]),
    })),
    statements: (await db('statements').where({ period }).orderBy('id')).map((s: { id: number; status: string }) => [s.id, s.status]),
  };
}
