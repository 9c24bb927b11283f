import { expect } from 'chai';
import type { Knex } from 'knex';
import { ADMIN_KEY } from '../helpers/api';
import { testDatabases } from '../helpers/databases';
import { settleCommand } from '../helpers/portfolio';
import { startServer, type ServerProcess } from '../helpers/server-process';

/**
 * Auto-acceptance (SPEC §15) with two server instances and the settle command on one database,
 * all looking for due statements at once: every statement still issued STATEMENT_ACCEPT_DAYS days
 * after its creation is accepted exactly once (one audit entry, one `statement.accepted` event),
 * by whichever process got to it first; statements not yet due, and those a key accepted, are left.
 */
const DAY = 86_400_000;

async function seedStatements(db: Knex): Promise<{ due: number[]; young: number[]; acceptedByKey: number[] }> {
  const now = Date.now();
  const old = new Date(now - 10 * DAY).toISOString();
  const fresh = new Date(now).toISOString();
  // Ids from the database's sequences, so that the processes' own inserts (the settle command's run) get the next ones.
  const inserted: { id: number }[] = await db('business_units')
    .insert(Array.from({ length: 26 }, (_, i) => ({ code: `BU-${i + 1}`, name: `Unit ${i + 1}`, created_at: old, version: 1 })))
    .returning('id');
  const units = inserted.map((r) => r.id);
  const [run] = (await db('settlement_runs')
    .insert({ through: '2026-10-31', statement_count: 0, line_count: 0, created_by: 'nightly', created_at: old })
    .returning('id')) as { id: number }[];
  const rows: Record<string, unknown>[] = [];
  for (const payer of units) {
    for (const referrer of units) {
      if (payer === referrer) continue;
      const n = rows.length;
      rows.push({
        run_id: run!.id,
        payer_id: payer,
        referrer_id: referrer,
        currency: 'EUR',
        total_minor: '100',
        line_count: 0,
        created_at: n % 10 === 9 ? fresh : old,
        period: '2026-10',
        status: n % 13 === 0 ? 'accepted' : 'issued',
        accepted_by: n % 13 === 0 ? 'payer-approver' : null,
        accepted_date: n % 13 === 0 ? '2026-11-02' : null,
      });
    }
  }
  for (let i = 0; i < rows.length; i += 100) await db('statements').insert(rows.slice(i, i + 100));
  const all: { id: number; status: string; created_at: unknown }[] = await db('statements').select('id', 'status', 'created_at').orderBy('id');
  const youngIds = new Set(rows.map((r, i) => (r.created_at === fresh ? i : -1)).filter((i) => i >= 0));
  return {
    due: all.filter((s, i) => s.status === 'issued' && !youngIds.has(i)).map((s) => s.id),
    young: all.filter((s, i) => s.status === 'issued' && youngIds.has(i)).map((s) => s.id),
    acceptedByKey: all.filter((s) => s.status === 'accepted').map((s) => s.id),
  };
}

for (const database of testDatabases) {
  describe(`auto-acceptance with two instances and the settle command on one database [${database.name}]`, function () {
    this.timeout(120_000);
    let db: Knex;
    let url: string;
    let drop: () => Promise<void>;
    const servers: ServerProcess[] = [];

    before(async () => {
      ({ db, url, drop } = await database.create());
    });
    after(async () => {
      await Promise.all(servers.map((s) => s.stop()));
      await drop();
    });

    it('accepts every due statement exactly once, whoever gets there first; the others are left as they are', async () => {
      const { due, young, acceptedByKey } = await seedStatements(db);
      expect(due.length).to.be.greaterThan(500);

      const env = { DATABASE_URL: url, ADMIN_API_KEY: ADMIN_KEY, STATEMENT_ACCEPT_INTERVAL_MS: '20', WEBHOOK_DELIVERY: 'off' };
      const [settled, ...started] = await Promise.all([
        settleCommand(url, [], { STATEMENT_ACCEPT_DAYS: '5' }),
        startServer(env),
        startServer(env),
      ]);
      servers.push(...started);
      expect(settled.code, settled.output).to.equal(0);

      const deadline = Date.now() + 60_000;
      for (;;) {
        const { n } = (await db('statements').whereIn('id', due).where({ status: 'issued' }).count({ n: '*' }).first()) as { n: number | string };
        if (Number(n) === 0) break;
        if (Date.now() > deadline) throw new Error(`${n} due statements are still issued`);
        await new Promise((r) => setTimeout(r, 100));
      }

      const statements: { id: number; status: string; accepted_by: string | null }[] = await db('statements').select('id', 'status', 'accepted_by').orderBy('id');
      const byId = new Map(statements.map((s) => [s.id, s]));
      for (const id of due) expect(byId.get(id)).to.deep.include({ status: 'accepted', accepted_by: 'auto' });
      for (const id of young) expect(byId.get(id)!.status).to.equal('issued');
      for (const id of acceptedByKey) expect(byId.get(id)!.accepted_by).to.equal('payer-approver');

      const audit: { entity_id: number; action: string; key_name: string }[] = await db('audit_events').select('entity_id', 'action', 'key_name').where({ entity_type: 'statement' });
      expect(audit.every((a) => a.action === 'accept' && a.key_name === 'auto')).to.equal(true);
      expect(audit.map((a) => a.entity_id).sort((a, b) => a - b)).to.deep.equal([...due].sort((a, b) => a - b));

      // The feed, read through one instance: one statement.accepted event per due statement.
      const seen: number[] = [];
      for (let after = 0; ; ) {
        const res = await fetch(`${servers[0]!.url}/v1/events?type=statement.accepted&limit=1000&after=${after}`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } });
        const page = (await res.json()) as { data: { data: { id: number; acceptedBy: string } }[]; meta: { next: number } };
        if (page.data.length === 0) break;
        for (const e of page.data) {
          expect(e.data.acceptedBy).to.equal('auto');
          seen.push(e.data.id);
        }
        after = page.meta.next;
      }
      expect(seen.sort((a, b) => a - b)).to.deep.equal([...due].sort((a, b) => a - b));
    });
  });
}
