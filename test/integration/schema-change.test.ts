import { expect } from 'chai';
import { preparedSql } from '../../src/db';
import { ADMIN_KEY, describeApi } from '../helpers/api';
import { createBunit, createContract, createReferral } from '../helpers/fixtures';
import { startServer, type ServerProcess } from '../helpers/server-process';

/**
 * A migration that adds a column lands while instances run (issue 11). PostgreSQL keeps a named
 * prepared statement's result type: one that selected `*` would fail in every running instance
 * with "cached plan must not change result type". The prepared statements name their columns.
 */
describe('prepared statements', () => {
  it('refuse SELECT * (a named PostgreSQL plan must not change its result type)', () => {
    expect(() => preparedSql('SELECT * FROM referrals WHERE id = ?')).to.throw(/name its columns/);
    expect(() => preparedSql('SELECT r.* FROM referrals r WHERE r.id = ?')).to.throw(/name its columns/);
    expect(preparedSql('SELECT id, contract_id FROM referrals WHERE id = ?').pgText).to.equal('SELECT id, contract_id FROM referrals WHERE id = $1');
  });
});

describeApi('a running instance while a column is added to its tables', (ctx) => {
  let server: ServerProcess;
  before(async function () {
    this.timeout(60_000);
    server = await startServer({ DATABASE_URL: ctx.url, ADMIN_API_KEY: ADMIN_KEY });
  });
  after(async () => server?.stop());

  const get = async (p: string) => {
    const res = await fetch(`${server.url}${p}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
    return { status: res.status, body: await res.json() };
  };

  it('answers the same reads, with the same bodies, before and after the column lands', async () => {
    const owner = await createBunit(ctx, 'OWNER');
    const alice = await createBunit(ctx, 'ALICE');
    const contract = await createContract(ctx, owner, { number: 'C-1' });
    const referral = await createReferral(ctx, owner, contract, alice, { percentage: '12.5', billingStartDate: '2026-11-01' });
    const revenue = await ctx.post(`/v1/bunits/${owner}/contracts/${contract}/revenue`, {
      lines: [{ externalId: 'L1', amount: '100', date: '2026-11-02' }],
    });
    expect(revenue.status).to.equal(201);
    const paths = [
      '/v1/bunits',
      `/v1/bunits/${owner}`,
      `/v1/bunits/${owner}/contracts`,
      `/v1/bunits/${owner}/contracts/${contract}`,
      `/v1/bunits/${owner}/referrals`,
      `/v1/bunits/${owner}/referrals/${referral.id}`,
      `/v1/bunits/${owner}/referrals/${referral.id}/history`,
      `/v1/bunits/${owner}/contracts/${contract}/revenue`,
      `/v1/bunits/${owner}/statements`,
      '/v1/settlement-runs',
      '/v1/api-keys',
    ];
    // Twice, so that every statement is prepared (and its plan cached) before the change.
    const before = [];
    for (const p of paths) await get(p);
    for (const p of paths) before.push(await get(p));
    for (const r of before) expect(r.status).to.equal(200);

    for (const table of ['business_units', 'contracts', 'referrals', 'referral_percentages', 'revenue_lines', 'settlement_runs', 'statements', 'api_keys', 'audit_events', 'settled_pairs']) {
      await ctx.db.schema.alterTable(table, (t) => t.integer('added_later').nullable());
    }

    const after = [];
    for (const p of paths) after.push(await get(p));
    expect(after.map((r) => r.status)).to.deep.equal(paths.map(() => 200));
    expect(after.map((r) => r.body)).to.deep.equal(before.map((r) => r.body));
  });
});
