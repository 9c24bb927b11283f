import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createBenchDatabase, seedDatabase } from './lib/database';
import { DEFAULT_SIZE, ownerOf, referrals } from './lib/dataset';
import { compare, type LoadResult } from './lib/load';
import { ROOT, freePort, startHttpProcess, type HttpProcess } from './lib/processes';

/**
 * npm run bench:ab -- dist-before/server.js dist/server.js
 *
 * Two builds of our server side by side, on one freshly seeded database, under scenario 1's load
 * (GET one referral, 20 connections): is a change faster, or is it the machine? On this 2-core VM
 * two identical builds differ by up to ±5 % in one comparison, and whichever runs second in a
 * round tends to gain, so every pair is measured in both orders and the two are combined
 * (geometric mean). A change whose B/A stays inside ±3 % over the pairs is noise.
 *
 * Both builds must sit in the project (dist-…/server.js), where they find node_modules, and run
 * with npm start's node flags. BENCH_AB_PAIRS (default 3) pairs of 2 × 20 s.
 */
const [fileA, fileB] = process.argv.slice(2);
const PAIRS = Number(process.env.BENCH_AB_PAIRS ?? 3);
const SIZE = { ...DEFAULT_SIZE, revenueLines: 20_000 };
const ADMIN_KEY = `bench-admin-${crypto.randomBytes(24).toString('hex')}`;
const LOAD = { seconds: 8, warmupSeconds: 2, rounds: 4 };

function getReferral() {
  const refs = referrals(SIZE);
  let i = 0;
  return () => {
    const r = refs[(i++ * 7919) % refs.length]!;
    return { method: 'GET' as const, path: `/v1/bunits/${ownerOf(r.contractId, SIZE)}/referrals/${r.id}` };
  };
}

const target = (server: HttpProcess) => ({
  url: server.url,
  pid: server.pid,
  headers: { authorization: `Bearer ${ADMIN_KEY}` },
  connections: 20,
  next: getReferral(),
});

const geomean = (values: number[]) => Math.exp(values.reduce((sum, v) => sum + Math.log(v), 0) / values.length);
const µs = (r: LoadResult) => r.cpuMicrosPerRequest.toFixed(0).padStart(4);

async function main(): Promise<void> {
  if (!fileA || !fileB) throw new Error('usage: npm run bench:ab -- dist-before/server.js dist/server.js');
  for (const file of [fileA, fileB]) {
    if (!fs.existsSync(path.join(ROOT, file))) throw new Error(`${file}: no such file (build it with npm run build and copy dist/ beside it)`);
  }
  const database = await createBenchDatabase(process.env.DATABASE_URL);
  const servers: HttpProcess[] = [];
  try {
    await seedDatabase(database.url, SIZE);
    const env = { DATABASE_URL: database.url, ADMIN_API_KEY: ADMIN_KEY, LOG_LEVEL: 'info' };
    // As deployed: info log to a file, the metrics listener on.
    const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'referral-bench-ab-'));
    const start = async (file: string, name: string) => {
      const server = await startHttpProcess(file, { ...env, METRICS_PORT: String(await freePort()) }, '/readyz', `ab-${name}`, { logFile: path.join(logs, `${name}.log`) });
      servers.push(server);
      return server;
    };
    console.log(`servers log to ${logs}`);
    console.log(`A = ${fileA}, B = ${fileB}: CPU µs a request (A first / B first), and B/A`);
    const cpu: number[] = [];
    const rps: number[] = [];
    for (let pair = 1; pair <= PAIRS; pair++) {
      // New processes for every pair: one process of a build can stay a few per cent faster or
      // slower than another of the same build for as long as it lives (its JIT's and heap's history).
      const [a, b] = [await start(fileA, 'a'), await start(fileB, 'b')];
      const aFirst = await compare(target(a), target(b), LOAD);
      const bFirst = await compare(target(b), target(a), LOAD);
      const [a1, b1, b2, a2] = [aFirst.ours, aFirst.baseline, bFirst.ours, bFirst.baseline];
      if ([a1, b1, b2, a2].some((r) => r.failures > 0)) throw new Error('failed requests: compare the two servers’ logs');
      cpu.push(Math.sqrt((b1.cpuMicrosPerRequest / a1.cpuMicrosPerRequest) * (b2.cpuMicrosPerRequest / a2.cpuMicrosPerRequest)));
      rps.push(Math.sqrt((b1.requestsPerSecond / a1.requestsPerSecond) * (b2.requestsPerSecond / a2.requestsPerSecond)));
      console.log(`pair ${pair}: A ${µs(a1)} / ${µs(a2)}, B ${µs(b1)} / ${µs(b2)}; B/A CPU ${cpu.at(-1)!.toFixed(3)}, req/s ${rps.at(-1)!.toFixed(3)}`);
      for (const server of servers.splice(0)) await server.stop();
    }
    console.log(`B/A over ${PAIRS} pairs: CPU a request ${geomean(cpu).toFixed(3)}, requests a second ${geomean(rps).toFixed(3)}`);
  } finally {
    for (const server of servers) await server.stop();
    await database.drop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
