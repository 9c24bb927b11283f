import { createDb } from '../src/db';
import { forgetRuns } from '../test/helpers/portfolio';
import type { BenchDatabase } from './lib/database';
import { centsText, linesPerContract, monthOf, ownerOf, prng, referrals, settleThrough, type DatasetSize } from './lib/dataset';
import { driveUntil, type LoadResult, type Target } from './lib/load';
import { runNodeScript, startHttpProcess, type CommandResult, type HttpProcess } from './lib/processes';
import type { ScenarioResult } from './lib/report';

/**
 * Scenarios 5 and 6, the nightly run (SPEC §6.5):
 *
 * 5. The run over the seeded revenue, as `npm run settle` runs it: its time against a bare script
 *    that reads the same lines and inserts as many statement lines in one transaction, and its peak
 *    RSS; the dry run's peak RSS, of the command and of the server answering it. On PostgreSQL the
 *    run is repeated with `--workers 2` and the speed-up reported.
 * 6. The API under the run: GET one referral and POST revenue at a steady rate on the same
 *    database while the run executes in another process; p99 and errors, against the same load
 *    before the run (the baseline).
 *
 * 12. Amendments (SPEC §12): the first half of the months settled, then the second half, once as
 *    it is and once after 10 % of the referrals were amended (a percentage corrected from their
 *    start, approved by a second key): that run also adjusts every settled pair of the amended
 *    referrals. Its time against the same run without amendments.
 *
 * They settle the same data, so runs are forgotten (their ledger deleted) between them.
 */
export interface SettlementBench {
  db: BenchDatabase;
  size: DatasetSize;
  adminKey: string;
  /** The compiled server and its environment, as the other scenarios start it. */
  server: string;
  serverEnv: () => Promise<Record<string, string>>;
  logFile: string;
  only: Set<number> | null;
  log: (message: string) => void;
}

const SETTLE_TIMEOUT_MS = 60 * 60 * 1000;
const RSS_LIMIT_MB = 300;
/** Scenario 6's load: requests a second of each kind, over a few connections (a busy night, not a flood). */
const GET_RATE = 200;
const POST_RATE = 20;
const POST_LINES = 10;
const QUIET_SECONDS = 10;
const P99_LIMIT_MS = 250;
/** Scenario 12: every AMEND_EVERY-th referral amended, by AMEND_CONNECTIONS clients at once; the time limit. */
const AMEND_EVERY = 10;
const AMEND_CONNECTIONS = 8;
const AMENDED_LIMIT = 1.5;

export async function runSettlementScenarios(bench: SettlementBench): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  if (!bench.only || bench.only.has(5)) results.push(await settlementRun(bench));
  if (!bench.only || bench.only.has(6)) {
    if (results.length) await forget(bench);
    results.push(await apiUnderRun(bench));
  }
  if (!bench.only || bench.only.has(12)) results.push(await amendedRun(bench));
  return results;
}

function settle(bench: SettlementBench, args: string[], name: string, through = settleThrough(bench.size)): Promise<CommandResult> {
  return runNodeScript('src/cli/settle.ts', ['--through', through, ...args], { DATABASE_URL: bench.db.url, BUSINESS_TIMEZONE: 'UTC' }, SETTLE_TIMEOUT_MS, name);
}

function settled(result: CommandResult, what: string): CommandResult {
  if (result.code !== 0) throw new Error(`${what} failed (${result.code}):\n${result.stdout}\n${result.stderr}`);
  return result;
}

async function forget(bench: SettlementBench): Promise<void> {
  bench.log('  forgetting the run (its ledger deleted), so that the next one settles the same lines');
  const knex = createDb(bench.db.url);
  try {
    await forgetRuns(knex);
    // SQLite: the deleted ledger (hundreds of MB in the WAL) is copied back into the file now, not
    // by whichever process of the next scenario commits first (its latency is what is measured).
    if (bench.db.dialect === 'sqlite') await knex.raw('PRAGMA wal_checkpoint(TRUNCATE)');
  } finally {
    await knex.destroy();
  }
}

async function startServer(bench: SettlementBench): Promise<HttpProcess> {
  return startHttpProcess(bench.server, await bench.serverEnv(), '/readyz', 'server', { logFile: bench.logFile });
}

/** A dry run through POST /v1/settlement-runs, its streamed answer read to the end: the server's peak RSS. */
async function dryRunThroughApi(bench: SettlementBench): Promise<{ seconds: number; peakRssMb: number; megabytes: number }> {
  const server = await startServer(bench);
  try {
    const started = process.hrtime.bigint();
    const res = await fetch(`${server.url}/v1/settlement-runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bench.adminKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ through: settleThrough(bench.size), dryRun: true }),
    });
    if (res.status !== 200 || !res.body) throw new Error(`the dry run answered ${res.status}: ${await res.text()}`);
    let bytes = 0;
    for await (const chunk of res.body) bytes += (chunk as Uint8Array).byteLength;
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, peakRssMb: server.peakRssMb(), megabytes: bytes / 1e6 };
  } finally {
    await server.stop();
  }
}

async function settlementRun(bench: SettlementBench): Promise<ScenarioResult> {
  const { log, size } = bench;
  const postgres = bench.db.dialect === 'postgres';
  const through = settleThrough(size);
  // BENCH_SETTLE_ONLY=1: the committed run and its baseline alone (the 10 M-line run in reasonable time).
  const only = process.env.BENCH_SETTLE_ONLY === '1';
  log(`scenario 5: settlement run through ${through} (npm run settle in a child process)${only ? ', without the dry runs and the 2-worker run' : ''}`);
  const dryCli = only ? null : settled(await settle(bench, ['--dry-run'], 'settle-dry'), 'the dry run');
  if (dryCli) log(`  dry run (command): ${dryCli.seconds.toFixed(1)} s, peak RSS ${dryCli.peakRssMb.toFixed(0)} MB`);
  const dryApi = only ? null : await dryRunThroughApi(bench);
  if (dryApi) log(`  dry run (API): ${dryApi.seconds.toFixed(1)} s, ${dryApi.megabytes.toFixed(0)} MB streamed, server peak RSS ${dryApi.peakRssMb.toFixed(0)} MB`);

  const ours = settled(await settle(bench, [], 'settle'), 'settle');
  const statementLines = Number(/lines:\s+(\d+)/.exec(ours.stdout)?.[1] ?? NaN);
  log(`  settled ${size.revenueLines} revenue lines into ${statementLines} statement lines in ${ours.seconds.toFixed(1)} s, peak RSS ${ours.peakRssMb.toFixed(0)} MB`);
  log('  baseline: the same lines read, the same number of statement lines inserted');
  const base = settled(
    await runNodeScript('bench/settle-baseline.ts', [through, String(statementLines)], { DATABASE_URL: bench.db.url }, SETTLE_TIMEOUT_MS, 'settle-baseline'),
    'the settle baseline',
  );
  const baseSeconds = Number(/seconds ([\d.]+)/.exec(base.stdout)?.[1]);
  const inserted = Number(/inserted (\d+)/.exec(base.stdout)?.[1]);
  if (inserted !== statementLines) throw new Error(`the baseline inserted ${inserted} lines, not ${statementLines}`);

  const details: Record<string, number | string> = {
    'statement lines': statementLines,
    'peak RSS MB': Math.round(ours.peakRssMb),
    ...(dryCli && dryApi
      ? {
          'dry run (command) s': Number(dryCli.seconds.toFixed(1)),
          'dry run (API) s': Number(dryApi.seconds.toFixed(1)),
          'dry run (command) peak RSS MB': Math.round(dryCli.peakRssMb),
          'dry run (API) server peak RSS MB': Math.round(dryApi.peakRssMb),
          'dry run (API) answer MB': Math.round(dryApi.megabytes),
        }
      : {}),
    'baseline peak RSS MB': Math.round(base.peakRssMb),
  };
  if (postgres && !only) {
    await forget(bench);
    const two = settled(await settle(bench, ['--workers', '2'], 'settle-2-workers'), 'settle --workers 2');
    log(`  --workers 2: ${two.seconds.toFixed(1)} s (1 worker: ${ours.seconds.toFixed(1)} s), peak RSS ${two.peakRssMb.toFixed(0)} MB`);
    details['2 workers s'] = Number(two.seconds.toFixed(1));
    details['2 workers speed-up'] = Number((ours.seconds / two.seconds).toFixed(2));
  }
  const limit = postgres ? 3 : 2;
  const ratio = ours.seconds / baseSeconds;
  const peak = Math.max(ours.peakRssMb, dryCli?.peakRssMb ?? 0, dryApi?.peakRssMb ?? 0);
  return {
    id: 5,
    name: `settlement run over ${(size.revenueLines / 1e6).toLocaleString('en-US')} M revenue lines`,
    unit: 's',
    ours: ours.seconds,
    baseline: baseSeconds,
    ratio,
    target: `ratio ≤ ${limit}, peak RSS ≤ ${RSS_LIMIT_MB} MB (run and dry runs)`,
    met: ratio <= limit && peak <= RSS_LIMIT_MB,
    binding: true,
    details,
  };
}

/** 10 invoice lines for January 2026 (after the settled months) on a contract the run settles, new external ids each time. */
function postRevenue(size: DatasetSize) {
  const random = prng(1234);
  let n = 0;
  return () => {
    const request = n++;
    const contractId = 1 + Math.floor(random() * size.contracts);
    const lines = Array.from({ length: POST_LINES }, (_, k) => {
      const amount = centsText(10_000 + Math.floor(random() * 990_000));
      return `{"externalId":"NIGHT-${request}-${k}","amount":"${amount}","periodStart":"2026-01-01","periodEnd":"2026-01-31"}`;
    });
    return {
      method: 'POST' as const,
      path: `/v1/bunits/${ownerOf(contractId, size)}/contracts/${contractId}/revenue`,
      body: `{"lines":[${lines.join(',')}]}`,
    };
  };
}

function getReferral(size: DatasetSize) {
  const refs = referrals(size);
  let i = 0;
  return () => {
    const r = refs[(i++ * 7919) % refs.length]!;
    return { method: 'GET' as const, path: `/v1/bunits/${ownerOf(r.contractId, size)}/referrals/${r.id}` };
  };
}

async function apiUnderRun(bench: SettlementBench): Promise<ScenarioResult> {
  const { log, size } = bench;
  log(`scenario 6: the API under a run: GET one referral at ${GET_RATE}/s and POST revenue (${POST_LINES} lines) at ${POST_RATE}/s`);
  const server = await startServer(bench);
  try {
    const headers = { authorization: `Bearer ${bench.adminKey}`, 'content-type': 'application/json' };
    const gets: Target = { url: server.url, pid: server.pid, headers, connections: 4, next: getReferral(size) };
    const posts: Target = { url: server.url, pid: server.pid, headers, connections: 2, next: postRevenue(size) };
    const load = (until: Promise<unknown>) => Promise.all([driveUntil(gets, GET_RATE, until), driveUntil(posts, POST_RATE, until)]);

    const [quietGets, quietPosts] = await load(new Promise((r) => setTimeout(r, QUIET_SECONDS * 1000)));
    log(`  before the run (${QUIET_SECONDS} s): GET p99 ${quietGets.p99Ms} ms, POST p99 ${quietPosts.p99Ms} ms`);

    const run = settle(bench, [], 'settle-under-load');
    const [runGets, runPosts] = await load(run);
    const done = settled(await run, 'settle');
    log(`  during the run (${done.seconds.toFixed(1)} s): GET p99 ${runGets.p99Ms} ms, POST p99 ${runPosts.p99Ms} ms`);
    const failures = (r: LoadResult) => `${r.failures}${r.failures ? ` ${JSON.stringify(r.statusCodes)}` : ''}`;
    const p99 = Math.max(runGets.p99Ms, runPosts.p99Ms);
    const quiet = Math.max(quietGets.p99Ms, quietPosts.p99Ms);
    return {
      id: 6,
      name: `GET one referral and POST revenue during a ${(size.revenueLines / 1e6).toLocaleString('en-US')} M-line run (p99; baseline: before the run)`,
      unit: 'ms',
      ours: p99,
      baseline: quiet,
      ratio: p99 / quiet,
      target: `p99 ≤ ${P99_LIMIT_MS} ms, no errors`,
      met: p99 <= P99_LIMIT_MS && [runGets, runPosts, quietGets, quietPosts].every((r) => r.failures === 0),
      binding: true,
      details: {
        'run s': Number(done.seconds.toFixed(1)),
        'GET p50 ms': runGets.p50Ms,
        'GET p99 ms': runGets.p99Ms,
        'GET requests': runGets.completed,
        'GET errors': failures(runGets),
        'POST p50 ms': runPosts.p50Ms,
        'POST p99 ms': runPosts.p99Ms,
        'POST requests': runPosts.completed,
        'POST errors': failures(runPosts),
        'before: GET p99 ms': quietGets.p99Ms,
        'before: POST p99 ms': quietPosts.p99Ms,
      },
    };
  } finally {
    await server.stop();
  }
}

/** POST a JSON body as a key; the answer's body, or an error naming what was sent. */
async function postJson(url: string, key: string, body: object, expected: number): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== expected) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** Every AMEND_EVERY-th referral's percentage corrected to 1 % from its start, asked by the admin key and approved by a second one. */
async function amendReferrals(bench: SettlementBench): Promise<number> {
  const server = await startServer(bench);
  try {
    const checker = (await postJson(`${server.url}/v1/api-keys`, bench.adminKey, { name: 'bench-amend-checker', role: 'admin' }, 201)).key as string;
    const chosen = referrals(bench.size).filter((r) => r.id % AMEND_EVERY === 0);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < chosen.length; i = next++) {
        const r = chosen[i]!;
        const bunit = `${server.url}/v1/bunits/${ownerOf(r.contractId, bench.size)}`;
        const request = await postJson(`${bunit}/referrals/${r.id}/amendments`, bench.adminKey, { percentage: '1', reason: 'bench: corrected from the start' }, 202);
        await postJson(`${bunit}/change-requests/${request.id}/approve`, checker, {}, 200);
      }
    };
    await Promise.all(Array.from({ length: AMEND_CONNECTIONS }, worker));
    return chosen.length;
  } finally {
    await server.stop();
  }
}

async function amendedRun(bench: SettlementBench): Promise<ScenarioResult> {
  const { log, size } = bench;
  const half = monthOf(Math.floor(linesPerContract(size) / 2) - 1).end;
  const through = settleThrough(size);
  log(`scenario 12: settled through ${half}, then the run through ${through}: without amendments, and after 10 % of the referrals were amended`);
  const secondHalf = async (name: string) => {
    await forget(bench);
    settled(await settle(bench, [], `${name}-first-half`, half), 'settle (first half)');
    return settled(await settle(bench, [], name), 'settle (second half)');
  };
  const plain = await secondHalf('settle-unamended');
  const plainLines = Number(/lines:\s+(\d+)/.exec(plain.stdout)?.[1] ?? NaN);
  log(`  without amendments: ${plain.seconds.toFixed(1)} s, ${plainLines} statement lines`);
  await forget(bench);
  settled(await settle(bench, [], 'settle-first-half', half), 'settle (first half)');
  const amendedAt = Date.now();
  const amended = await amendReferrals(bench);
  log(`  ${amended} referrals amended and approved in ${((Date.now() - amendedAt) / 1000).toFixed(1)} s`);
  const ours = settled(await settle(bench, [], 'settle-amended'), 'settle (amended)');
  const lines = Number(/lines:\s+(\d+)/.exec(ours.stdout)?.[1] ?? NaN);
  log(`  after the amendments: ${ours.seconds.toFixed(1)} s, ${lines} statement lines (${lines - plainLines} more: adjustments)`);
  const ratio = ours.seconds / plain.seconds;
  return {
    id: 12,
    name: `the second half of a ${(size.revenueLines / 1e6).toLocaleString('en-US')} M-line run, 10 % of the referrals amended (baseline: none amended)`,
    unit: 's',
    ours: ours.seconds,
    baseline: plain.seconds,
    ratio,
    target: `ratio ≤ ${AMENDED_LIMIT}`,
    met: ratio <= AMENDED_LIMIT,
    binding: true,
    details: {
      'referrals amended': amended,
      'statement lines': lines,
      'baseline statement lines': plainLines,
      'peak RSS MB': Math.round(ours.peakRssMb),
    },
  };
}
