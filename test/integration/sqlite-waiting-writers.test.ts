import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { createDb, transaction, type Db } from '../../src/db';

/**
 * What the marker-file protocol of SQLite's long jobs prevents (src/db/sqlite.ts,
 * yieldToWaitingWriters; README "Long jobs and waiting writers"). SQLite has no queue for its
 * write lock: a job in another process that commits one transaction after another takes the lock
 * again microseconds after it gave it back, so a writer that waits for it (trying again every few
 * milliseconds) almost never finds it free, and gives up after SQLITE_LOCK_WAIT_MS with a 503.
 * With the protocol, the waiting writer leaves a marker, the job pauses between transactions, and
 * the writer gets in at once. Bounds are wide: the difference is seconds against milliseconds.
 */
describe('SQLite: a writer beside a long job in another process (the waiting-writers marker)', function () {
  this.timeout(90_000);
  let dir: string;
  let db: Db;
  let job: ChildProcess | undefined;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waiting-writers-'));
    db = createDb(`sqlite:${path.join(dir, 'db.sqlite')}`, { lockWaitMs: 2000 });
    await db.schema.createTable('job_rows', (t) => {
      t.increments('id');
      t.bigInteger('at');
    });
  });

  afterEach(async () => {
    job?.kill('SIGKILL');
    job = undefined;
    await db.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the long job (each transaction holds the lock 200 ms, as a large settlement partition may) and resolves once it holds the lock. */
  async function startJob(mode: 'yield' | 'no-yield'): Promise<void> {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/sqlite-long-job.ts', path.join(dir, 'db.sqlite'), '40000', '200', mode], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    job = child;
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => chunk.toString().includes('ready') && resolve());
      child.on('exit', (code) => reject(new Error(`the long job ended before it was ready (${code})`)));
    });
  }

  /** How long each of seven writes waited for the lock (ms); a write that gave up counts as Infinity. */
  async function writes(): Promise<number[]> {
    const waited: number[] = [];
    for (let i = 0; i < 7; i++) {
      const started = Date.now();
      try {
        await transaction(db, (trx) => trx('job_rows').insert({ at: -1 }));
        waited.push(Date.now() - started);
      } catch {
        waited.push(Infinity);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return waited;
  }

  it('with the marker, every write gets in within a second', async () => {
    await startJob('yield');
    const waited = await writes();
    console.log(`      with the marker: waited ${waited.join(', ')} ms`);
    expect(waited.every((ms) => ms < 1000), `waited ${waited.join(', ')} ms`).to.equal(true);
  });

  const median = (ms: number[]) => [...ms].sort((a, b) => a - b)[Math.floor(ms.length / 2)]!;

  it('without it (the job only yields to its own event loop), most writes wait for the lock ten times as long, or give up', async () => {
    await startJob('no-yield');
    const waited = await writes();
    console.log(`      without: waited ${waited.join(', ')} ms`);
    // With the marker a write waits for one transaction at most (200 ms); without, the median is far beyond.
    expect(median(waited), `waited ${waited.join(', ')} ms`).to.be.greaterThan(400);
  });
});
