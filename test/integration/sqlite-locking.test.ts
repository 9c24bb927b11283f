import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { createDb, transaction } from '../../src/db';
import { migrateLatest } from '../../migrations';
import { startServer, type ServerProcess } from '../helpers/server-process';

/**
 * SQLite shared by processes (issue 11, SPEC §6.5): while another process holds the write lock
 * for seconds, a server's event loop keeps turning (health checks and reads answer at once), and
 * its writes wait without blocking it: they succeed once the lock is free, or, past the bounded
 * wait, answer 503 unavailable with Retry-After. Never a 500.
 */
describe('SQLite: a server beside another process that holds the write lock', function () {
  this.timeout(60_000);
  const ADMIN = 'sqlite-locking-admin-key-0123456789abcdef';
  let dir: string;
  let url: string;
  let patient: ServerProcess;
  let impatient: ServerProcess;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'referrals-locking-'));
    url = `sqlite:${path.join(dir, 'shared.db')}`;
    const db = createDb(url);
    await migrateLatest(db);
    await db.destroy();
    [patient, impatient] = await Promise.all([
      startServer({ DATABASE_URL: url, ADMIN_API_KEY: ADMIN, SQLITE_LOCK_WAIT_MS: '20000' }),
      startServer({ DATABASE_URL: url, ADMIN_API_KEY: ADMIN, SQLITE_LOCK_WAIT_MS: '1000' }),
    ]);
  });
  after(async () => {
    await Promise.all([patient?.stop(), impatient?.stop()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const call = async (server: ServerProcess, method: string, p: string, body?: unknown) => {
    const started = Date.now();
    const res = await fetch(`${server.url}${p}`, {
      method,
      headers: { Authorization: `Bearer ${ADMIN}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown>, ms: Date.now() - started };
  };

  let holds = 0;
  /** Holds SQLite's write lock from another connection (another process's, as far as the servers know) for `ms`. */
  async function holdWriteLock<T>(ms: number, meanwhile: () => Promise<T>): Promise<T> {
    const holder = new Database(path.join(dir, 'shared.db'));
    holder.pragma('busy_timeout = 5000');
    holder.exec('BEGIN IMMEDIATE');
    holder.prepare('INSERT INTO business_units (code, name, created_at, version) VALUES (?, ?, ?, 1)').run(`HOLDER-${++holds}`, 'Lock holder', '2026-11-23T12:00:00.000Z');
    const released = new Promise<void>((resolve) =>
      setTimeout(() => {
        holder.exec('COMMIT');
        holder.close();
        resolve();
      }, ms),
    );
    try {
      return await meanwhile();
    } finally {
      await released;
    }
  }

  it('keeps answering health checks and reads while the lock is held, and its write goes through once it is free', async () => {
    const existing = await call(patient, 'POST', '/v1/bunits', { code: 'BEFORE', name: 'Before the lock' });
    expect(existing.status).to.equal(201);
    const lockedAt = Date.now();
    const { write, probes, reads } = await holdWriteLock(3_000, async () => {
      const write = call(patient, 'POST', '/v1/bunits', { code: 'DURING', name: 'Written while locked' });
      const probes: number[] = [];
      const reads: number[] = [];
      // The event loop of the waiting server keeps turning: every probe answers at once.
      while (Date.now() - lockedAt < 2_500) {
        const health = await call(patient, 'GET', '/healthz');
        expect(health.status).to.equal(200);
        probes.push(health.ms);
        const read = await call(patient, 'GET', `/v1/bunits/${existing.body.id}`);
        expect(read.status).to.equal(200);
        reads.push(read.ms);
        await new Promise((r) => setTimeout(r, 100));
      }
      return { write: await write, probes, reads };
    });
    expect(probes.length).to.be.greaterThan(5);
    expect(Math.max(...probes), `health checks answered in ${probes.join(', ')} ms`).to.be.below(250);
    expect(Math.max(...reads), `reads answered in ${reads.join(', ')} ms`).to.be.below(250);
    expect(write.status, JSON.stringify(write.body)).to.equal(201);
    expect(write.ms, 'the write waited for the lock').to.be.at.least(2_500);
  });

  it('answers 503 unavailable with Retry-After once its bounded wait is over, and writes nothing; later the same write succeeds', async () => {
    const refused = await holdWriteLock(2_500, () => call(impatient, 'POST', '/v1/bunits', { code: 'REFUSED', name: 'Too long a wait' }));
    expect(refused.status, JSON.stringify(refused.body)).to.equal(503);
    expect(refused.body.code).to.equal('unavailable');
    expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(Number(refused.headers.get('retry-after'))).to.be.at.least(1);
    expect(refused.ms).to.be.within(900, 2_400);
    const again = await call(impatient, 'POST', '/v1/bunits', { code: 'REFUSED', name: 'Too long a wait' });
    expect(again.status, JSON.stringify(again.body)).to.equal(201);
  });

  it('a read-then-write transaction commits although another process writes meanwhile (no SQLITE_BUSY_SNAPSHOT)', async () => {
    const db = createDb(url);
    try {
      const writes: Promise<{ status: number }>[] = [];
      const result = await transaction(db, async (trx) => {
        const before = Number((await trx('business_units').count({ n: '*' }).first())?.n);
        // Another process tries to commit between this transaction's read and its write.
        for (let i = 0; i < 5; i++) writes.push(call(patient, 'POST', '/v1/bunits', { code: `RACE-${i}`, name: 'Racing writer' }));
        await new Promise((r) => setTimeout(r, 300));
        await trx('business_units').insert({ code: 'READ-THEN-WRITE', name: 'After a read', created_at: '2026-11-23T12:00:00.000Z', version: 1 });
        return before;
      });
      expect(result).to.be.a('number');
      const statuses = (await Promise.all(writes)).map((w) => w.status);
      expect(statuses).to.deep.equal([201, 201, 201, 201, 201]);
      // The same through services on both sides: keys read the business units, then insert.
      const keyRequests = Array.from({ length: 10 }, (_, i) =>
        call(i % 2 ? patient : impatient, 'POST', '/v1/api-keys', { name: `race-${i}`, role: 'read', bunitIds: [1] }),
      );
      expect((await Promise.all(keyRequests)).map((r) => r.status)).to.deep.equal(Array(10).fill(201));
    } finally {
      await db.destroy();
    }
  });
});
