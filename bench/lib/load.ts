import fs from 'node:fs';
import autocannon, { type RawResult, type Request } from 'autocannon';

export interface Target {
  url: string;
  /** The server's process, whose CPU time is measured. */
  pid: number;
  headers: Record<string, string>;
  connections: number;
  /** Called for every request: its method, path and body. */
  next: () => { method: 'GET' | 'POST'; path: string; body?: string };
  /** Instead of `next`: a sequence each connection sends in turn (autocannon's requests, with their context). */
  sequence?: Request[];
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  completed: number;
  /** CPU time (user + system) the server process spent per request, in µs: steadier than throughput on a busy machine. */
  cpuMicrosPerRequest: number;
  /** Responses that were not 2xx, plus errors and timeouts: a valid run has none. */
  failures: number;
  statusCodes: Record<string, number>;
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime are fields 14 and 15 of stat, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

interface Round {
  raw: RawResult;
  cpuSeconds: number;
}

/** Drives one server with autocannon for a fixed time and number of connections. */
async function drive(target: Target, seconds: number): Promise<Round> {
  const before = cpuSeconds(target.pid);
  const raw = await run(target, seconds);
  return { raw, cpuSeconds: cpuSeconds(target.pid) - before };
}

function run(target: Target, seconds: number): Promise<RawResult> {
  return start(target, seconds) as unknown as Promise<RawResult>;
}

function start(target: Target, seconds: number, overallRate?: number) {
  const request: Request = {
    setupRequest(req) {
      const { method, path, body } = target.next();
      req.method = method;
      req.path = path;
      req.body = body;
      return req;
    },
  };
  return autocannon({
    url: target.url,
    connections: target.connections,
    duration: seconds,
    timeout: 30,
    headers: target.headers,
    requests: target.sequence ?? [request],
    skipAggregateResult: true,
    ...(overallRate === undefined ? {} : { overallRate }),
  });
}

/**
 * A steady load at `rate` requests a second (not as fast as it can: latency under a fixed load is
 * what a client of a busy night sees), from now until `until` settles, then its figures.
 */
export async function driveUntil(target: Target, rate: number, until: Promise<unknown>): Promise<LoadResult> {
  const before = cpuSeconds(target.pid);
  const instance = start(target, 24 * 3600, rate);
  await until.catch(() => undefined);
  instance.stop();
  const raw = (await instance) as unknown as RawResult;
  return summarise(target, [{ raw, cpuSeconds: cpuSeconds(target.pid) - before }]);
}

function summarise(target: Target, rounds: Round[]): LoadResult {
  const all = autocannon.aggregateResult(rounds.map((r) => r.raw), { url: target.url, connections: target.connections });
  const completed = rounds.reduce((n, r) => n + r.raw.totalCompletedRequests, 0);
  const seconds = rounds.reduce((n, r) => n + r.raw.duration, 0);
  const cpu = rounds.reduce((n, r) => n + r.cpuSeconds, 0);
  return {
    requestsPerSecond: completed / seconds,
    p50Ms: all.latency.p50,
    p99Ms: all.latency.p99,
    completed,
    cpuMicrosPerRequest: (cpu / completed) * 1e6,
    failures: all.non2xx + all.errors + all.timeouts,
    statusCodes: Object.fromEntries(Object.entries(all.statusCodeStats ?? {}).map(([code, s]) => [code, s.count])),
  };
}

/**
 * Ours against the baseline: a warm-up of each, then `rounds` short runs taking turns, so that a
 * drift of the machine (another process, CPU frequency) weighs on both alike. Throughput is all
 * completed requests over all measured time; latency percentiles come from the merged histograms.
 */
export async function compare(
  ours: Target,
  baseline: Target,
  options: { seconds: number; warmupSeconds: number; rounds: number },
): Promise<{ ours: LoadResult; baseline: LoadResult }> {
  if (options.warmupSeconds > 0) {
    await drive(ours, options.warmupSeconds);
    await drive(baseline, options.warmupSeconds);
  }
  const a: Round[] = [];
  const b: Round[] = [];
  const each = options.seconds / options.rounds;
  for (let i = 0; i < options.rounds; i++) {
    a.push(await drive(ours, each));
    b.push(await drive(baseline, each));
  }
  return { ours: summarise(ours, a), baseline: summarise(baseline, b) };
}
