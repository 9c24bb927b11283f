import crypto from 'node:crypto';
import fs from 'node:fs';
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
import { ROOT, runNodeScript, startHttpProcess, type HttpProcess } from './lib/processes';
import { machine, printReport, updateReadme, type RunReport, type ScenarioResult } from './lib/report';
import { runWebhookScenarios } from './webhooks';

/**
 * npm run bench: seeds a fresh database, runs the five scenarios against the service (a separate
 * process) and against bare baselines, prints the figures and writes bench/results.json and the
 * table in bench/README.md. DATABASE_URL=postgres://… runs it on PostgreSQL. See bench/README.md.
 */
const env = process.env;
const SECONDS = Number(env.BENCH_DURATION ?? 10);
const WARMUP = Number(env.BENCH_WARMUP ?? 2);
const CONNECTIONS = Number(env.BENCH_CONNECTIONS ?? 20);
const ROUNDS = Number(env.BENCH_ROUNDS ?? 4);
const ONLY = env.BENCH_SCENARIOS ? new Set(env.BENCH_SCENARIOS.split(',').map(Number)) : null;
const SIZE: DatasetSize = { ...DEFAULT_SIZE, revenueLines: Number(env.BENCH_REVENUE_LINES ?? DEFAULT_SIZE.revenueLines) };
/** A run with other settings than the documented ones goes to results.local.json. */
const OFFICIAL = !ONLY && SECONDS === 10 && SIZE.revenueLines === DEFAULT_SIZE.revenueLines && env.BENCH_CPU_PROF !== '1';
const ADMIN_KEY = `bench-admin-${crypto.randomBytes(24).toString('hex')}`;
const SETTLE_TIMEOUT_MS = 10 * 60 * 1000;
const INGEST_LINES = 1000;

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
  { id: 1, name: 'GET one referral', connections: CONNECTIONS, next: getReferral, perRequest: 1, unit: 'req/s', target: { ratio: 0.75 } },
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

async function runSettlementScenario(db: BenchDatabase): Promise<ScenarioResult> {
  const through = settleThrough(SIZE);
  log(`scenario 5: settlement run through ${through} (npm run settle in a child process)`);
  const ours = await runNodeScript('src/cli/settle.ts', ['--through', through], { DATABASE_URL: db.url, BUSINESS_TIMEZONE: 'UTC' }, SETTLE_TIMEOUT_MS, 'settle');
  if (ours.code !== 0) throw new Error(`settle failed (${ours.code}):\n${ours.stdout}\n${ours.stderr}`);
  const statementLines = Number(/lines:\s+(\d+)/.exec(ours.stdout)?.[1] ?? NaN);
  const revenueLines = SIZE.revenueLines;
  log(`  settled ${revenueLines} revenue lines into ${statementLines} statement lines in ${ours.seconds.toFixed(1)} s, peak RSS ${ours.peakRssMb.toFixed(0)} MB`);
  log('  baseline: the same lines read, the same number of statement lines inserted');
  const base = await runNodeScript('bench/settle-baseline.ts', [through, String(statementLines)], { DATABASE_URL: db.url }, SETTLE_TIMEOUT_MS, 'settle-baseline');
  if (base.code !== 0) throw new Error(`settle baseline failed (${base.code}):\n${base.stdout}\n${base.stderr}`);
  const baseSeconds = Number(/seconds ([\d.]+)/.exec(base.stdout)?.[1]);
  const inserted = Number(/inserted (\d+)/.exec(base.stdout)?.[1]);
  if (inserted !== statementLines) throw new Error(`the baseline inserted ${inserted} lines, not ${statementLines}`);
  const ratio = ours.seconds / baseSeconds;
  return {
    id: 5,
    name: `settlement run over ${(revenueLines / 1e6).toLocaleString('en-US')} M revenue lines`,
    unit: 's',
    ours: ours.seconds,
    baseline: baseSeconds,
    ratio,
    target: 'ratio ≤ 10, peak RSS ≤ 512 MB',
    met: ratio <= 10 && ours.peakRssMb <= 512,
    details: { 'statement lines': statementLines, 'peak RSS MB': Math.round(ours.peakRssMb), 'baseline peak RSS MB': Math.round(base.peakRssMb) },
  };
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
    if (http.length) {
      const ours = await startHttpProcess('src/server.ts', { DATABASE_URL: db.url, ADMIN_API_KEY: ADMIN_KEY, BUSINESS_TIMEZONE: 'UTC' }, '/readyz', 'server');
      servers.push(ours);
      const baseline = await startHttpProcess('bench/baseline-server.ts', { DATABASE_URL: db.url }, '/healthz', 'baseline-server');
      servers.push(baseline);
      for (const scenario of http) scenarios.push(await runHttpScenario(scenario, ours, baseline));
      for (const s of servers.splice(0)) await s.stop();
    }
    if (!ONLY || ONLY.has(5)) scenarios.push(await runSettlementScenario(db));
    if (!ONLY || ONLY.has(9) || ONLY.has(10)) {
      const settings = { seconds: SECONDS, warmupSeconds: WARMUP, rounds: ROUNDS, connections: CONNECTIONS };
      scenarios.push(...(await runWebhookScenarios({ ...settings, baseUrl: env.DATABASE_URL, size: SIZE, adminKey: ADMIN_KEY, only: ONLY, log })));
    }

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
    // The targets are SQLite's; PostgreSQL's figures are reported.
    if (db.dialect === 'sqlite' && scenarios.some((s) => !s.met)) process.exitCode = 1;
  } finally {
    for (const s of servers) await s.stop();
    await db.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
