import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { sqliteFilename } from '../src/db';
import { createBenchDatabase, seedDatabase, type BenchDatabase } from './lib/database';
import {
  DEFAULT_SIZE,
  centsText,
  ownerOf,
  prng,
  referrals,
  settleThrough,
  type DatasetSize,
} from './lib/dataset';
import { compare } from './lib/load';
import { ROOT, freePort, runNodeScript, startHttpProcess, type HttpProcess } from './lib/processes';
import { machine, printReport, targetHolds, updateReadme, type RunReport, type ScenarioResult } from './lib/report';
import { runApprovalScenario, runModerationScenario } from './approval';
import { runCloseScenario } from './close';
import { runSettlementScenarios } from './settlement';
import { runStatementListScenario } from './statements';
import { runWebhookScenarios } from './webhooks';

/**
 * npm run bench: seeds a fresh database, runs the scenarios against the service (a separate
 * process, compiled and logging at info to a file, as it is deployed) and against bare baselines,
 * prints the figures and writes bench/results.json and the table in bench/README.md.
 * DATABASE_URL=postgres://… runs it on PostgreSQL. See bench/README.md.
 */
const env = process.env;
const SECONDS = Number(env.BENCH_DURATION ?? 10);
const WARMUP = Number(env.BENCH_WARMUP ?? 2);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 20);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 4);
const ONLY = env.BENCH_SCENARIOS ? new Set(env.BENCH_SCENARIOS.split(',').map(Number)) : null;
/**
 * BENCH_REVENUE_LINES sizes the data set: below the default, fewer lines a contract (quick runs);
 * above it, more contracts with the same 50 months each (BENCH_REVENUE_LINES=10000000: 200,000
 * contracts; the months settled must stay in the past).
 */
const LINES = Number(env.BENCH_REVENUE_LINES ?? DEFAULT_SIZE.revenueLines);
const SIZE: DatasetSize =
  LINES > DEFAULT_SIZE.revenueLines
    ? { ...DEFAULT_SIZE, contracts: LINES / (DEFAULT_SIZE.revenueLines / DEFAULT_SIZE.contracts), revenueLines: LINES }
    : { ...DEFAULT_SIZE, revenueLines: LINES };
/** A run with other settings than the documented ones goes to results.local.json. */
const OFFICIAL = !ONLY && SECONDS === 10 && SIZE.revenueLines === DEFAULT_SIZE.revenueLines && env.BENCH_CPU_PROF !== '1';
const ADMIN_KEY = `bench-admin-${crypto.randomBytes(24).toString('hex')}`;
const INGEST_LINES = 1000;
/** The server as `npm start` runs it (npm run build), and as it ran before, through the tsx loader. */
const SERVER = 'dist/server.js';
const SERVER_SOURCE = 'src/server.ts';
/** Starts of each kind for scenarios 7 and 8 (the median counts), and the idle time before RSS is read. */
const STARTS = 3;
const IDLE_MS = 2000;
/** Where the servers' logs go: a file, as in production (LOG_LEVEL=info, the default). */
const LOG_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'referral-bench-logs-'));

const started = Date.now();
const log = (message: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${message}`);

// ---- request generators: the same for ours and the baseline -----------------------------------

const refs = referrals(SIZE);
const spare = (n: number) => SIZE.contracts + 1 + (n % SIZE.spareContracts);

function getReferral() {
  let i = 0;
  return () => {
    const r = refs[(i++ * 7919) % refs.length]!;
    return { method: 'GET' as const, path: `/v1/bunits/${ownerOf(r.contractId, SIZE)}/referrals/${r.id}` };
  };
}

function listReferrals() {
  let i = 0;
  return () => ({ method: 'GET' as const, path: `/v1/bunits/${1 + (i++ % SIZE.bunits)}/referrals?role=referrer&limit=50` });
}

/**
 * A referral of 0.01 % on a spare contract: request n takes contract n mod 4000, and a referrer
 * that contract has not had yet (one more step round the units every 4000 requests), so no
 * request clashes with another (R4) and no contract comes near 100 % (R5).
 */
let postCounter = 0;
function postReferral() {
  return () => {
    const n = postCounter++;
    const contractId = spare(n);
    const owner = ownerOf(contractId, SIZE);
    const referrer = ((owner - 1 + 1 + (Math.floor(n / SIZE.spareContracts) % (SIZE.bunits - 1))) % SIZE.bunits) + 1;
    const body = `{"contract":{"id":${contractId}},"referrer":{"id":${referrer}},"percentage":"0.01","billingStartDate":"2026-01-01"}`;
    return { method: 'POST' as const, path: `/v1/bunits/${owner}/referrals`, body };
  };
}

/** 1000 new invoice lines for January 2026 (after the settled months) on a spare contract. */
let ingestCounter = 0;
function postRevenue() {
  const random = prng(99);
  return () => {
    const n = ingestCounter++;
    const contractId = spare(n);
    const lines: string[] = [];
    for (let k = 0; k < INGEST_LINES; k++) {
      const amount = centsText(10_000 + Math.floor(random() * 990_000));
      lines.push(`{"externalId":"ING-${n}-${k}","amount":"${amount}","periodStart":"2026-01-01","periodEnd":"2026-01-31"}`);
    }
    return {
      method: 'POST' as const,
      path: `/v1/bunits/${ownerOf(contractId, SIZE)}/contracts/${contractId}/revenue`,
      body: `{"lines":[${lines.join(',')}]}`,
    };
  };
}

// ---- the scenarios ----------------------------------------------------------------------------

interface HttpScenario {
  id: number;
  name: string;
  connections: number;
  next: () => () => { method: 'GET' | 'POST'; path: string; body?: string };
  /** Units per request (lines per ingest request). */
  perRequest: number;
  unit: string;
  target: { ratio: number } | { absolute: number };
}

const HTTP_SCENARIOS: HttpScenario[] = [
  { id: 1, name: 'GET one referral', connections: CONNECTIONS, next: getReferral, perRequest: 1, unit: 'req/s', target: { ratio: 0.7 } },
  { id: 2, name: 'GET a list page of 50 with total', connections: CONNECTIONS, next: listReferrals, perRequest: 1, unit: 'req/s', target: { ratio: 0.6 } },
  { id: 3, name: 'POST a referral', connections: CONNECTIONS, next: postReferral, perRequest: 1, unit: 'req/s', target: { ratio: 0.5 } },
  { id: 4, name: 'POST revenue, 1000 lines a request', connections: 4, next: postRevenue, perRequest: INGEST_LINES, unit: 'lines/s', target: { absolute: 20_000 } },
];

async function runHttpScenario(scenario: HttpScenario, ours: HttpProcess, baseline: HttpProcess): Promise<ScenarioResult> {
  log(
    `scenario ${scenario.id}: ${scenario.name} (${scenario.connections} connections; ${WARMUP} s warm-up, then ${SECONDS} s each in ${ROUNDS} alternating rounds)`,
  );
  const headers = { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' };
  const targetOf = (server: HttpProcess) => ({ url: server.url, pid: server.pid, headers, connections: scenario.connections, next: scenario.next() });
  const { ours: a, baseline: b } = await compare(targetOf(ours), targetOf(baseline), { seconds: SECONDS, warmupSeconds: WARMUP, rounds: ROUNDS });
  for (const [who, r] of [['ours', a], ['baseline', b]] as const) {
    if (r.failures > 0) throw new Error(`scenario ${scenario.id}: ${who} had ${r.failures} failed requests (${JSON.stringify(r.statusCodes)})`);
  }
  const ours_ = a.requestsPerSecond * scenario.perRequest;
  const base = b.requestsPerSecond * scenario.perRequest;
  const ratio = ours_ / base;
  const target = 'ratio' in scenario.target ? `ratio ≥ ${scenario.target.ratio}` : `ours ≥ ${scenario.target.absolute.toLocaleString('en-US')} ${scenario.unit}`;
  const met = 'ratio' in scenario.target ? ratio >= scenario.target.ratio : ours_ >= scenario.target.absolute;
  return {
    id: scenario.id,
    name: scenario.name,
    unit: scenario.unit,
    ours: ours_,
    baseline: base,
    ratio,
    target,
    met,
    details: {
      'p50 ms': a.p50Ms,
      'p99 ms': a.p99Ms,
      'baseline p99 ms': b.p99Ms,
      'CPU µs/request': a.cpuMicrosPerRequest,
      'baseline CPU µs/request': b.cpuMicrosPerRequest,
      requests: a.completed,
    },
  };
}

/** The environment of our server in every scenario: as deployed (info logs, metrics on). */
async function serverEnv(db: BenchDatabase): Promise<Record<string, string>> {
  return {
    DATABASE_URL: db.url,
    ADMIN_API_KEY: ADMIN_KEY,
    BUSINESS_TIMEZONE: 'UTC',
    LOG_LEVEL: 'info',
    METRICS_PORT: String(await freePort()),
  };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/**
 * Scenarios 7 and 8: the compiled server started STARTS times on the seeded database, each time
 * timed from spawn to the first 200 of /readyz, then left idle IDLE_MS and its RSS read; the
 * baseline is the same server through the tsx loader (how npm start ran before). Medians.
 */
async function runStartupScenarios(db: BenchDatabase, ids: Set<number>): Promise<ScenarioResult[]> {
  log(`scenarios 7, 8: startup to ready and idle RSS, ${STARTS} starts each of ${SERVER} and of ${SERVER_SOURCE} through tsx`);
  const measure = async (script: string) => {
    const ready: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < STARTS; i++) {
      const server = await startHttpProcess(script, await serverEnv(db), '/readyz', 'server', { logFile: path.join(LOG_DIR, 'startup.log') });
      ready.push(server.readyMs);
      await new Promise((r) => setTimeout(r, IDLE_MS));
      rss.push(server.rssMb());
      await server.stop();
    }
    return { readyMs: median(ready), rssMb: median(rss), all: { ready, rss } };
  };
  const compiled = await measure(SERVER);
  const tsx = await measure(SERVER_SOURCE);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' / ');
  log(`  compiled: ready ${list(compiled.all.ready)} ms, RSS ${list(compiled.all.rss)} MB; tsx: ready ${list(tsx.all.ready)} ms, RSS ${list(tsx.all.rss)} MB`);
  const results: ScenarioResult[] = [];
  if (ids.has(7)) {
    results.push({
      id: 7,
      name: 'startup to ready (compiled; baseline: through tsx)',
      unit: 'ms',
      ours: compiled.readyMs,
      baseline: tsx.readyMs,
      ratio: compiled.readyMs / tsx.readyMs,
      target: 'ours ≤ 1,000 ms',
      met: compiled.readyMs <= 1000,
      details: { 'starts (ms)': list(compiled.all.ready), 'baseline starts (ms)': list(tsx.all.ready) },
    });
  }
  if (ids.has(8)) {
    results.push({
      id: 8,
      name: `idle RSS ${IDLE_MS / 1000} s after ready (compiled; baseline: through tsx)`,
      unit: 'MB',
      ours: compiled.rssMb,
      baseline: tsx.rssMb,
      ratio: compiled.rssMb / tsx.rssMb,
      target: 'ours ≤ 100 MB',
      met: compiled.rssMb <= 100,
      details: { 'starts (MB)': list(compiled.all.rss), 'baseline starts (MB)': list(tsx.all.rss) },
    });
  }
  return results;
}

async function databaseVersion(db: BenchDatabase): Promise<string> {
  if (db.dialect === 'sqlite') {
    const conn = new Database(sqliteFilename(db.url), { readonly: true });
    const version = conn.prepare('select sqlite_version()').pluck().get() as string;
    conn.close();
    return `SQLite ${version} (better-sqlite3, WAL, synchronous=FULL)`;
  }
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  const { rows } = await client.query('SHOW server_version');
  await client.end();
  return `PostgreSQL ${String(rows[0].server_version).split(' ')[0]} on 127.0.0.1`;
}

async function main(): Promise<void> {
  const db = await createBenchDatabase(env.DATABASE_URL);
  log(`fresh ${db.dialect} database: ${db.url.replace(/\/\/[^@]*@/, '//')}`);
  const servers: HttpProcess[] = [];
  try {
    const counts = await seedDatabase(db.url, SIZE);
    log(`seeded ${counts.bunits} business units, ${counts.contracts} contracts, ${counts.referrals} referrals, ${counts.revenueLines} revenue lines`);
    const scenarios: ScenarioResult[] = [];
    const http = HTTP_SCENARIOS.filter((s) => !ONLY || ONLY.has(s.id));
    const startup = new Set([7, 8].filter((id) => !ONLY || ONLY.has(id)));
    {
      log('npm run build');
      const built = await runNodeScript('scripts/build.mjs', [], {}, 120_000, 'build');
      if (built.code !== 0) throw new Error(`the build failed:\n${built.stdout}\n${built.stderr}`);
      log(`servers log to ${LOG_DIR}`);
    }
    if (startup.size) scenarios.push(...(await runStartupScenarios(db, startup)));
    if (http.length) {
      const ours = await startHttpProcess(SERVER, await serverEnv(db), '/readyz', 'server', { logFile: path.join(LOG_DIR, 'server.log') });
      servers.push(ours);
      const baseline = await startHttpProcess('bench/baseline-server.ts', { DATABASE_URL: db.url }, '/healthz', 'baseline-server');
      servers.push(baseline);
      for (const scenario of http) scenarios.push(await runHttpScenario(scenario, ours, baseline));
      for (const s of servers.splice(0)) await s.stop();
    }
    if (!ONLY || ONLY.has(11)) {
      scenarios.push(
        await runApprovalScenario({
          adminKey: ADMIN_KEY,
          server: SERVER,
          serverEnv: () => serverEnv(db),
          logFile: path.join(LOG_DIR, 'server.log'),
          postReferral,
          settings: { seconds: SECONDS, warmupSeconds: WARMUP, rounds: ROUNDS, connections: CONNECTIONS },
          log,
        }),
      );
    }
    if (!ONLY || ONLY.has(13)) {
      scenarios.push(
        await runModerationScenario({
          baseUrl: env.DATABASE_URL,
          size: SIZE,
          adminKey: ADMIN_KEY,
          server: SERVER,
          serverEnv: async (url) => ({ ...(await serverEnv(db)), DATABASE_URL: url }),
          logFile: path.join(LOG_DIR, 'server.log'),
          log,
        }),
      );
    }
    if (!ONLY || ONLY.has(16)) {
      scenarios.push(
        await runStatementListScenario({
          baseUrl: env.DATABASE_URL,
          size: SIZE,
          adminKey: ADMIN_KEY,
          server: SERVER,
          serverEnv: async (url) => ({ ...(await serverEnv(db)), DATABASE_URL: url }),
          logFile: path.join(LOG_DIR, 'server.log'),
          settings: { seconds: SECONDS, warmupSeconds: WARMUP, rounds: ROUNDS, connections: CONNECTIONS },
          log,
        }),
      );
    }
    if (!ONLY || ONLY.has(5) || ONLY.has(6) || ONLY.has(12)) {
      scenarios.push(
        ...(await runSettlementScenarios({
          db,
          size: SIZE,
          adminKey: ADMIN_KEY,
          server: SERVER,
          serverEnv: () => serverEnv(db),
          logFile: path.join(LOG_DIR, 'server.log'),
          only: ONLY,
          log,
        })),
      );
    }
    if (!ONLY || ONLY.has(9) || ONLY.has(10) || ONLY.has(14) || ONLY.has(15)) {
      const settings = { seconds: SECONDS, warmupSeconds: WARMUP, rounds: ROUNDS, connections: CONNECTIONS };
      scenarios.push(...(await runWebhookScenarios({ ...settings, baseUrl: env.DATABASE_URL, size: SIZE, adminKey: ADMIN_KEY, only: ONLY, log })));
    }
    if (!ONLY || ONLY.has(17)) {
      scenarios.push(await runCloseScenario({ baseUrl: env.DATABASE_URL, server: SERVER, log }));
    }

    scenarios.sort((a, b) => a.id - b.id);
    const report: RunReport = {
      measuredAt: new Date().toISOString(),
      machine: machine(await databaseVersion(db)),
      dataset: { ...counts, spareContracts: SIZE.spareContracts, settledThrough: settleThrough(SIZE) },
      settings: { seconds: SECONDS, warmupSeconds: WARMUP, rounds: ROUNDS, connections: CONNECTIONS },
      totalSeconds: (Date.now() - started) / 1000,
      scenarios,
    };
    printReport(report);
    const file = path.join(ROOT, 'bench', OFFICIAL ? 'results.json' : 'results.local.json');
    const all = fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, RunReport>) : {};
    all[db.dialect] = report;
    fs.writeFileSync(file, `${JSON.stringify(all, null, 2)}\n`);
    if (OFFICIAL) updateReadme(path.join(ROOT, 'bench', 'README.md'), all);
    log(`wrote ${path.relative(ROOT, file)}${OFFICIAL ? ' and the table in bench/README.md' : ''}`);
    if (scenarios.some((s) => !s.met && targetHolds(s, db.dialect))) process.exitCode = 1;
  } finally {
    for (const s of servers) await s.stop();
    await db.drop();
    fs.rmSync(LOG_DIR, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
