import crypto from 'node:crypto';
import net from 'node:net';
import { expect } from 'chai';
import knexFactory, { type Knex } from 'knex';
import { migrateLatest } from '../../migrations';
import { createDb } from '../../src/db';
import { ADMIN_KEY } from '../helpers/api';
import { freePort, startServer, type ServerProcess } from '../helpers/server-process';

/**
 * The database cannot be reached (SPEC §14): a server process whose PostgreSQL database is
 * dropped under it, or whose connection to PostgreSQL goes through a TCP proxy that is closed,
 * answers every request that needs the database with 503 unavailable and Retry-After (reads and
 * writes alike), never a 500, /readyz says 503, the process stays up, and once the database is
 * back it answers as before. PostgreSQL only (TEST_DATABASE_URL): SQLite is a file of the process.
 */
const adminUrl = process.env.TEST_DATABASE_URL;

/** A TCP proxy to `target` on a port of its own; `close()` refuses new connections and cuts the open ones. */
async function tcpProxy(target: { host: string; port: number }, port = 0) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

const describePg = adminUrl ? describe : describe.skip;

describePg('a server whose PostgreSQL cannot be reached (SPEC §14) [postgres]', function () {
  this.timeout(90_000);
  let admin: Knex;
  let name: string;
  let dbUrl: URL;
  let server: ServerProcess | undefined;

  const create = async () => {
    await admin.raw('CREATE DATABASE ??', [name]);
    const db = createDb(dbUrl.toString());
    await migrateLatest(db);
    await db.destroy();
  };

  beforeEach(async () => {
    admin = knexFactory({ client: 'pg', connection: adminUrl!, pool: { min: 0, max: 1 } });
    name = `referrals_unreachable_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
    dbUrl = new URL(adminUrl!);
    dbUrl.pathname = `/${name}`;
    await create();
  });

  afterEach(async () => {
    await server?.stop();
    server = undefined;
    await admin.raw('DROP DATABASE IF EXISTS ?? WITH (FORCE)', [name]);
    await admin.destroy();
  });

  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server!.url}${path}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN_KEY}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  /** A read, a write and the readiness probe, all while the database is away. */
  async function expectUnavailable(round: string, n: number) {
    const read = await call('GET', '/v1/bunits');
    const readOne = await call('GET', '/v1/bunits/1');
    const write = await call('POST', '/v1/bunits', { code: `NEW-${n}`, name: 'Created while the database is away' });
    const put = await call('PUT', '/v1/bunits/1', { code: 'HQ', name: 'Renamed while away' });
    for (const [what, res] of [['list', read], ['read', readOne], ['create', write], ['save', put]] as const) {
      expect(res.status, `${round} ${what}: ${JSON.stringify(res.body)}`).to.equal(503);
      expect(res.headers.get('content-type'), `${round} ${what}`).to.match(/^application\/problem\+json/);
      expect(res.body.code, `${round} ${what}`).to.equal('unavailable');
      expect(Number(res.headers.get('retry-after')), `${round} ${what}`).to.be.at.least(1);
    }
    const ready = await call('GET', '/readyz');
    expect(ready.status, round).to.equal(503);
    expect(ready.body).to.deep.equal({ status: 'unavailable' });
    expect((await call('GET', '/healthz')).status, `${round}: the process is alive`).to.equal(200);
  }

  async function expectServing(round: string) {
    expect((await call('GET', '/readyz')).status, round).to.equal(200);
    const list = await call('GET', '/v1/bunits');
    expect(list.status, `${round}: ${JSON.stringify(list.body)}`).to.equal(200);
    return list.body;
  }

  it('answers 503 with Retry-After to reads and writes once its database is dropped, stays up, and serves again once it is back', async () => {
    server = await startServer({ DATABASE_URL: dbUrl.toString(), ADMIN_API_KEY: ADMIN_KEY });
    expect((await call('POST', '/v1/bunits', { code: 'HQ', name: 'Head office' })).status).to.equal(201);
    await expectServing('before');

    // Terminates the server's open connections (idle ones too: their errors must not crash it).
    await admin.raw('DROP DATABASE ?? WITH (FORCE)', [name]);
    await expectUnavailable('dropped', 1);
    await new Promise((r) => setTimeout(r, 1000));
    await expectUnavailable('a second later', 2);
    expect(server.child.exitCode, server.output()).to.equal(null);

    await create();
    const back = await expectServing('recreated');
    expect(back.meta, 'a new, empty database').to.deep.include({ total: 0 });
    expect((await call('POST', '/v1/bunits', { code: 'HQ', name: 'Head office' })).status).to.equal(201);
    expect(server.output(), 'no unhandled error, and no stack on the console').not.to.match(/Unhandled|uncaught|\n\s+at /i);
  });

  it('answers 503 with Retry-After when nothing listens any more where its database was, and serves again when it listens again', async () => {
    const pg = new URL(adminUrl!);
    const proxy = await tcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) }, await freePort());
    const through = new URL(dbUrl.toString());
    through.hostname = '127.0.0.1';
    through.port = String(proxy.port);
    server = await startServer({ DATABASE_URL: through.toString(), ADMIN_API_KEY: ADMIN_KEY });
    expect((await call('POST', '/v1/bunits', { code: 'HQ', name: 'Head office' })).status).to.equal(201);
    await expectServing('before');

    await proxy.close();
    await expectUnavailable('closed', 1);
    await new Promise((r) => setTimeout(r, 1000));
    await expectUnavailable('a second later', 2);
    expect(server.child.exitCode, server.output()).to.equal(null);

    const reopened = await tcpProxy({ host: pg.hostname, port: Number(pg.port || 5432) }, proxy.port);
    try {
      const back = await expectServing('reopened');
      expect(back.meta).to.deep.include({ total: 1 });
    } finally {
      await server.stop();
      server = undefined;
      await reopened.close();
    }
  });
});
