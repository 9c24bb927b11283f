import { expect } from 'chai';
import { describeApi } from '../helpers/api';
import { seedPortfolio } from '../helpers/portfolio';
import { acceptStatements, closeCommand, closeSnapshot, forgetClose, holdLines } from '../helpers/period-close';

/**
 * The close as many short transactions that survive being killed (SPEC §16): a `close` process
 * SIGKILLed at any point leaves the period open to everybody (no netting or journal shown), and
 * the next close finishes it with exactly what a close never interrupted writes.
 */
describeApi('a period close killed and finished by the next one (SPEC §16)', (ctx) => {
  beforeEach(async function () {
    this.timeout(120_000);
    await seedPortfolio(ctx.db, { owners: 6, referrers: 4, linesPerContract: 40, currencies: ['EUR', 'JPY'] });
    expect((await ctx.post('/v1/settlement-runs', { through: '2026-10-31' })).status).to.equal(201);
    const lines: { id: number; statement_id: number; payer_id: number }[] = await ctx
      .db('statement_lines as l')
      .join('statements as s', 's.id', 'l.statement_id')
      .select('l.id', 'l.statement_id', 's.payer_id')
      .orderBy('l.id');
    expect(lines.length).to.be.greaterThan(300);
    for (const l of [lines[0]!, lines[17]!, lines[150]!]) await holdLines(ctx.db, l.statement_id, l.payer_id, [l.id]);
    await acceptStatements(ctx.db, '2026-10');
  });

  /** What an uninterrupted close writes; then forgotten, so that the same period can be closed again. */
  async function reference(): Promise<unknown> {
    const closed = await ctx.post('/v1/periods/2026-10/close');
    expect(closed.status, JSON.stringify(closed.body)).to.equal(200);
    const snapshot = await closeSnapshot(ctx.db, '2026-10');
    await forgetClose(ctx.db);
    return snapshot;
  }

  const points: [string, RegExp][] = [
    ['right after its claim', /claimed: \d+ netting/],
    ['while writing the journals', /journal of business unit/],
  ];

  for (const [when, seen] of points) {
    it(`killed ${when}, it shows nothing of the close, and the next close finishes it with the same result`, async function () {
      this.timeout(120_000);
      const expected = await reference();
      const eventsOfClose = async () => (await ctx.get('/v1/events?type=period.closed,netting.created,journal.created&limit=1000')).body.data.length as number;
      const eventsBefore = await eventsOfClose();
      const killed = await closeCommand(ctx.url, ['--period', '2026-10', '--verbose'], (stdout, child) => {
        if (seen.test(stdout)) child.kill('SIGKILL');
      });
      expect(killed.signal, `the command finished before it could be killed:\n${killed.output}`).to.equal('SIGKILL');

      // Nobody sees half a close.
      const period = (await ctx.get('/v1/periods')).body.data[0];
      expect(period).to.deep.include({ period: '2026-10', status: 'open', closedDate: null });
      expect((await ctx.get('/v1/periods/2026-10/nettings')).body.meta.total).to.equal(0);
      expect((await ctx.get('/v1/bunits/1/journals')).body.meta.total).to.equal(0);
      expect((await ctx.get('/v1/bunits/1/nettings')).body.meta.total).to.equal(0);
      expect(await eventsOfClose()).to.equal(eventsBefore);
      const statuses: { status: string }[] = await ctx.db('statements').distinct('status');
      expect(statuses.map((s) => s.status)).to.deep.equal(['accepted']);

      const finished = await closeCommand(ctx.url, ['--period', '2026-10']);
      expect(finished.code, finished.output).to.equal(0);
      expect(finished.output).to.contain('resuming the close that was under way');
      expect(await closeSnapshot(ctx.db, '2026-10')).to.deep.equal(expected);
      expect((await ctx.get('/v1/periods')).body.data[0].status).to.equal('closed');
      // The same events again (the reference close's and now this one's), once.
      expect(await eventsOfClose()).to.equal(2 * eventsBefore);
    });
  }

  it('answers exit code 2 with the reasons when the period is not ready, and 0 for a closed one', async function () {
    this.timeout(60_000);
    await ctx.db('statements').where({ id: 1 }).update({ status: 'issued' });
    const refused = await closeCommand(ctx.url, ['--period', '2026-10']);
    expect(refused.code, refused.output).to.equal(2);
    expect(refused.output).to.contain('period 2026-10 is not ready to close:');
    expect(refused.output).to.contain('- 1 statement is still issued (not accepted): 1');
    await acceptStatements(ctx.db, '2026-10');
    expect((await closeCommand(ctx.url, ['--period', '2026-10'])).code).to.equal(0);
    const again = await closeCommand(ctx.url, ['--period', '2026-10']);
    expect(again.code, again.output).to.equal(0);
    expect(again.output).to.contain('period 2026-10: closed');
  });
});
