import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

// The same project root and free-port finder the tests' server processes use.
import { ROOT, freePort } from '../../test/helpers/server-process';

export { ROOT, freePort };

/** The HTTP baselines of scenarios 1–4: they run with the heap flags of `npm start`, as ours does. */
const BASELINE_SERVER = 'bench/baseline-server.ts';
/** A compiled server: dist/server.js, or a copy of an earlier build beside it (dist-before/server.js, bench/ab.ts). */
const COMPILED_SERVER = /^dist[\w.-]*\/server\.js$/;

/**
 * Node options for a child: tsx for TypeScript (a compiled `.js` runs as it is deployed, with plain
 * node), plus --cpu-prof into bench/profiles/<name>/ when BENCH_CPU_PROF=1 (one file per thread:
 * the largest is the main thread, the small one tsx's loader).
 */
function nodeArgs(script: string, profileName: string): string[] {
  const flags = npmNodeFlags(script === BASELINE_SERVER || COMPILED_SERVER.test(script) ? 'dist/server.js' : script);
  const args = [...flags, ...(script.endsWith('.ts') ? ['--import', 'tsx'] : [])];
  if (process.env.BENCH_CPU_PROF === '1') {
    args.push('--cpu-prof', `--cpu-prof-dir=${path.join(ROOT, 'bench', 'profiles', profileName)}`);
  }
  return [...args, script];
}

/**
 * The node flags (the heap's sizes, `--max-…`) of the package.json script that runs `script`
 * (`npm start` runs dist/server.js, `npm run settle` src/cli/settle.ts): the bench runs them as npm
 * does, without npm's own process in between (whose RSS would be measured instead).
 */
function npmNodeFlags(script: string): string[] {
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const command = Object.values(scripts).find((c) => c.startsWith('node ') && c.split(' ').includes(script));
  return command ? command.split(' ').filter((t) => /^--max-[a-z-]+-size=\d+$/.test(t)) : [];
}

export interface HttpProcess {
  url: string;
  pid: number;
  /** From the spawn to the first answer of `readyPath`, in ms (polled every 5 ms). */
  readyMs: number;
  /** The process's resident set now (VmRSS), in MB. */
  rssMb(): number;
  /** The largest its resident set has been (VmHWM), in MB. */
  peakRssMb(): number;
  stop(): Promise<void>;
}

/** VmRSS of a live process in MB. */
function vmRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/**
 * Starts an HTTP server script (ours or the baseline) as its own process on a free port and waits
 * until `readyPath` answers (at most 60 s). With `logFile` its output goes to that file, the way a
 * service's logs do, instead of through a pipe to the bench.
 */
export async function startHttpProcess(
  script: string,
  env: Record<string, string>,
  readyPath: string,
  profileName: string,
  options: { logFile?: string } = {},
): Promise<HttpProcess> {
  const port = await freePort();
  const log = options.logFile ? fs.openSync(options.logFile, 'a') : null;
  const spawned = process.hrtime.bigint();
  const child = spawn(process.execPath, nodeArgs(script, profileName), {
    cwd: ROOT,
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'silent', ...env },
    stdio: log === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', log, log],
  });
  if (log !== null) fs.closeSync(log);
  let piped = '';
  child.stdout?.on('data', (c: Buffer) => (piped = (piped + c.toString()).slice(-20_000)));
  child.stderr?.on('data', (c: Buffer) => (piped = (piped + c.toString()).slice(-20_000)));
  const output = () => (options.logFile ? fs.readFileSync(options.logFile, 'utf8').slice(-20_000) : piped);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${script} exited early:\n${output()}`);
    try {
      if ((await fetch(url + readyPath)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${script} did not become ready within 60 s:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const readyMs = Number(process.hrtime.bigint() - spawned) / 1e6;
  return {
    url,
    pid: child.pid!,
    readyMs,
    rssMb: () => vmRssMb(child.pid!),
    peakRssMb: () => vmHwmKb(child.pid!) / 1024,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export interface CommandResult {
  code: number | null;
  seconds: number;
  /** Peak resident set (VmHWM) seen while it ran, in MB. */
  peakRssMb: number;
  stdout: string;
  stderr: string;
}

/** VmHWM of a live process in kB (the kernel's own high-water mark of its resident set). */
function vmHwmKb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/**
 * Runs a Node script to completion (at most `timeoutMs`), timing it and polling its peak RSS every
 * 20 ms. VmHWM only grows, so the last reading before exit is the peak.
 */
export async function runNodeScript(
  script: string,
  args: string[],
  env: Record<string, string>,
  timeoutMs: number,
  profileName: string,
): Promise<CommandResult> {
  const started = process.hrtime.bigint();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs(script, profileName), ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout = (stdout + c.toString()).slice(-20_000)));
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
  let peakKb = 0;
  const poll = setInterval(() => {
    peakKb = Math.max(peakKb, vmHwmKb(child.pid!));
  }, 20);
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(poll);
  clearTimeout(killer);
  return { code, seconds, peakRssMb: peakKb / 1024, stdout, stderr };
}
