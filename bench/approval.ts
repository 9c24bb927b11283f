import type { Request } from 'autocannon';
import { createBenchDatabase, seedDatabase } from './lib/database';
import { ownerOf, type DatasetSize } from './lib/dataset';
import { compare, type Target } from './lib/load';
import { startHttpProcess, type HttpProcess } from './lib/processes';
import type { ScenarioResult } from './lib/report';

/**
 * Scenario 11, maker-checker (SPEC §11): what a referral costs when another key must approve it.
 * Ours: the server in APPROVAL_MODE=maker-checker, each connection sending POST referral (201,
 * pending) and then, as a second admin key, POST …/change-requests/{id}/approve (200), in turn.
 * Baseline: the same server in mode none, POST referral alone. Both run on the seeded database,
 * taking turns; the figure is referrals committed a second (approved ones, for ours). Reported.
 */
export interface ApprovalBench {
  adminKey: string;
  server: string;
  serverEnv: () => Promise<Record<string, string>>;
  logFile: string;
  /** The generator of scenario 3: each call a new (contract, referrer) pair, so no request breaks R4 or R5. */
  postReferral: () => () => { method: 'POST'; path: string; body: string };
  settings: { seconds: number; warmupSeconds: number; rounds: number; connections: number };
  log: (message: string) => void;
}

async function checkerKey(server: HttpProcess, adminKey: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/api-keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench-checker', role: 'admin' }),
  });
  if (res.status !== 201) throw new Error(`the checker's key: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { key: string }).key;
}

/** POST referral as the maker, then approve its creation as the checker: one referral, two requests. */
function createThenApprove(next: () => { method: 'POST'; path: string; body: string }, headers: Record<string, string>, checker: string): Request[] {
  return [
    {
      setupRequest(req, context) {
        const { method, path, body } = next();
        context.bunit = /^\/v1\/bunits\/(\d+)\//.exec(path)![1];
        return { ...req, method, path, body, headers };
      },
      onResponse(status, body, context) {
        if (status === 201) context.changeRequest = (JSON.parse(body) as { pendingChange: { id: number } }).pendingChange.id;
      },
    },
    {
      setupRequest(req, context) {
        const path = `/v1/bunits/${context.bunit}/change-requests/${context.changeRequest}/approve`;
        return { ...req, method: 'POST', path, body: '{}', headers: { ...headers, authorization: `Bearer ${checker}` } };
      },
    },
  ];
}

export async function runApprovalScenario(bench: ApprovalBench): Promise<ScenarioResult> {
  const { settings, log } = bench;
  log(`scenario 11: POST referral + approve in maker-checker mode against POST referral in mode none (${settings.connections} connections)`);
  const servers: HttpProcess[] = [];
  try {
    const makerChecker = await startHttpProcess(bench.server, { ...(await bench.serverEnv()), APPROVAL_MODE: 'maker-checker' }, '/readyz', 'server-maker-checker', {
      logFile: bench.logFile,
    });
    servers.push(makerChecker);
    const plain = await startHttpProcess(bench.server, { ...(await bench.serverEnv()), APPROVAL_MODE: 'none' }, '/readyz', 'server', { logFile: bench.logFile });
    servers.push(plain);
    const headers = { authorization: `Bearer ${bench.adminKey}`, 'content-type': 'application/json' };
    const checker = await checkerKey(plain, bench.adminKey);
    const next = bench.postReferral();
    const ours: Target = {
      url: makerChecker.url,
      pid: makerChecker.pid,
      headers,
      connections: settings.connections,
      next,
      sequence: createThenApprove(next, headers, checker),
    };
    const baseline: Target = { url: plain.url, pid: plain.pid, headers, connections: settings.connections, next };
    const { ours: a, baseline: b } = await compare(ours, baseline, settings);
    for (const [who, r] of [['ours', a], ['baseline', b]] as const) {
      if (r.failures > 0) throw new Error(`scenario 11: ${who} had ${r.failures} failed requests (${JSON.stringify(r.statusCodes)})`);
    }
    const approved = a.requestsPerSecond / 2;
    return {
      id: 11,
      name: 'POST a referral + approve it (maker-checker) against POST a referral (mode none)',
      unit: 'referrals/s',
      ours: approved,
      baseline: b.requestsPerSecond,
      ratio: approved / b.requestsPerSecond,
      target: 'reported',
      met: true,
      details: {
        'p50 ms (either request)': a.p50Ms,
        'p99 ms (either request)': a.p99Ms,
        'baseline p99 ms': b.p99Ms,
        'CPU µs/referral': a.cpuMicrosPerRequest * 2,
        'baseline CPU µs/referral': b.cpuMicrosPerRequest,
        referrals: a.completed / 2,
      },
    };
  } finally {
    for (const s of servers) await s.stop();
  }
}

/**
 * Scenario 13, set-based moderation (issue 22): 1,000 pending creations of one business unit
 * approved by one `POST …/change-requests/moderate`, timed from the request to its answer. The
 * baseline is the same server deciding another unit's 1,000 pending creations one at a time
 * (`POST …/change-requests/{id}/approve`, one after the other), so the ratio is the set-based
 * gain. Both run on a database of their own, seeded alike (no revenue needed), in maker-checker
 * mode. Target: ≤ 2 s on SQLite, ≤ 5 s on PostgreSQL.
 */
export interface ModerationBench {
  baseUrl: string | undefined;
  size: DatasetSize;
  adminKey: string;
  server: string;
  serverEnv: (databaseUrl: string) => Promise<Record<string, string>>;
  logFile: string;
  log: (message: string) => void;
}

const MODERATED = 1000;
const TARGET_SECONDS = { sqlite: 2, postgres: 5 } as const;

/**
 * `count` pending creations on the spare contracts of `owner`, each a new (contract, referrer)
 * pair of 0.01 %, so none breaks R4 or R5 when approved; their change requests' ids.
 */
async function pendingCreations(server: HttpProcess, adminKey: string, size: DatasetSize, owner: number, count: number): Promise<number[]> {
  const contracts: number[] = [];
  for (let id = size.contracts + 1; id <= size.contracts + size.spareContracts; id++) if (ownerOf(id, size) === owner) contracts.push(id);
  if (contracts.length * (size.bunits - 1) < count) throw new Error(`business unit ${owner} has too few spare contracts for ${count} referrals`);
  const headers = { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' };
  const ids: number[] = new Array<number>(count);
  let next = 0;
  // A few requests in flight, as a maker's client would send them.
  const worker = async () => {
    for (let n = next++; n < count; n = next++) {
      const contractId = contracts[n % contracts.length]!;
      const referrer = ((owner - 1 + 1 + Math.floor(n / contracts.length)) % size.bunits) + 1;
      const res = await fetch(`${server.url}/v1/bunits/${owner}/referrals`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ contract: { id: contractId }, referrer: { id: referrer }, percentage: '0.01', billingStartDate: '2026-01-01' }),
      });
      if (res.status !== 201) throw new Error(`a pending referral: ${res.status} ${await res.text()}`);
      ids[n] = ((await res.json()) as { pendingChange: { id: number } }).pendingChange.id;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return ids;
}

export async function runModerationScenario(bench: ModerationBench): Promise<ScenarioResult> {
  const { log } = bench;
  log(`scenario 13: ${MODERATED} pending creations approved by one moderation, against ${MODERATED} approvals one at a time`);
  const db = await createBenchDatabase(bench.baseUrl);
  let server: HttpProcess | undefined;
  try {
    // Moderation reads no revenue: the smallest data set with every referral and spare contract.
    await seedDatabase(db.url, { ...bench.size, revenueLines: Math.min(bench.size.revenueLines, 20_000) });
    server = await startHttpProcess(bench.server, { ...(await bench.serverEnv(db.url)), APPROVAL_MODE: 'maker-checker' }, '/readyz', 'server-moderation', {
      logFile: bench.logFile,
    });
    const checker = await checkerKey(server, bench.adminKey);
    const headers = { authorization: `Bearer ${checker}`, 'content-type': 'application/json' };
    // Two owners with as many spare contracts (1 and 2): one for each side.
    const [setBased, oneByOne] = [await pendingCreations(server, bench.adminKey, bench.size, 1, MODERATED), await pendingCreations(server, bench.adminKey, bench.size, 2, MODERATED)];
    log(`  ${2 * MODERATED} pending creations made (business units 1 and 2)`);

    const t0 = performance.now();
    const res = await fetch(`${server.url}/v1/bunits/1/change-requests/moderate`, { method: 'POST', headers, body: JSON.stringify({ approve: setBased }) });
    const answer = await res.text();
    const oursSeconds = (performance.now() - t0) / 1000;
    if (res.status !== 200) throw new Error(`scenario 13: the moderation answered ${res.status} ${answer}`);
    const decided = (JSON.parse(answer) as { data: { status: string }[] }).data;
    if (decided.length !== MODERATED || decided.some((cr) => cr.status !== 'approved')) throw new Error('scenario 13: the moderation did not approve every request');

    const t1 = performance.now();
    for (const id of oneByOne) {
      const r = await fetch(`${server.url}/v1/bunits/2/change-requests/${id}/approve`, { method: 'POST', headers, body: '{}' });
      if (r.status !== 200) throw new Error(`scenario 13: approving ${id} answered ${r.status} ${await r.text()}`);
      await r.arrayBuffer();
    }
    const baselineSeconds = (performance.now() - t1) / 1000;
    log(`  moderation ${oursSeconds.toFixed(2)} s, one at a time ${baselineSeconds.toFixed(2)} s`);

    const target = TARGET_SECONDS[db.dialect];
    return {
      id: 13,
      name: `approve ${MODERATED.toLocaleString('en-US')} pending creations in one moderation (baseline: one approval at a time)`,
      unit: 's',
      ours: oursSeconds,
      baseline: baselineSeconds,
      ratio: oursSeconds / baselineSeconds,
      target: `ours ≤ ${target} s (SQLite 2 s, PostgreSQL 5 s)`,
      met: oursSeconds <= target,
      binding: true,
      details: {
        'moderation ms': Math.round(oursSeconds * 1000),
        'approvals/s': MODERATED / oursSeconds,
        'baseline approvals/s': MODERATED / baselineSeconds,
        'answer KB': Buffer.byteLength(answer) / 1024,
      },
    };
  } finally {
    await server?.stop();
    await db.drop();
  }
}
