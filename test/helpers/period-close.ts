import type { Knex } from 'knex';

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
