import type { Request } from 'autocannon';
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
