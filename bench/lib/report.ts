import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  nproc: number;
  cpu: string;
  memoryGb: number;
  node: string;
  os: string;
  database: string;
}

export interface ScenarioResult {
  id: number;
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  ratio: number;
  /** "ratio >= 0.75", "ours >= 20000", "ratio <= 10 and peak RSS <= 512 MB" */
  target: string;
  met: boolean;
  /** The target holds on PostgreSQL as well (otherwise it is SQLite's, and PostgreSQL's figure is reported). */
  binding?: boolean;
  details: Record<string, number | string>;
}

/** Whether a missed target fails the bench on this database. */
export const targetHolds = (s: ScenarioResult, dialect: 'sqlite' | 'postgres') => dialect === 'sqlite' || s.binding === true;

export interface RunReport {
  measuredAt: string;
  machine: Machine;
  dataset: Record<string, number | string>;
  settings: Record<string, number>;
  totalSeconds: number;
  scenarios: ScenarioResult[];
}

export function machine(database: string): Machine {
  const cpuinfo = fs.existsSync('/proc/cpuinfo') ? fs.readFileSync('/proc/cpuinfo', 'utf8') : '';
  return {
    nproc: os.availableParallelism(),
    cpu: /model name\s*:\s*(.+)/.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    database,
  };
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** A value with its unit, readable in a table. */
export function figure(value: number, unit: string): string {
  if (unit === 's') return `${fmt(value, 1)} s`;
  return `${fmt(value)} ${unit}`;
}

export function printReport(report: RunReport): void {
  const rows = report.scenarios.map((s) => [
    `${s.id}. ${s.name}`,
    figure(s.ours, s.unit),
    figure(s.baseline, s.unit),
    fmt(s.ratio, 2),
    s.target,
    s.met ? 'met' : 'MISSED',
  ]);
  const header = ['scenario', 'ours', 'baseline', 'ratio', 'target', ''];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === 4 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}`);
  for (const r of rows) console.log(line(r));
  for (const s of report.scenarios) {
    const details = Object.entries(s.details).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v, Number.isInteger(v) ? 0 : 1) : v}`);
    if (details.length) console.log(`  ${s.id}: ${details.join(', ')}`);
  }
}

/** The results table of one database for bench/README.md (the targets are SQLite's). */
function markdownTable(report: RunReport, dialect: 'sqlite' | 'postgres'): string {
  const verdict = (s: ScenarioResult) => (targetHolds(s, dialect) ? (s.met ? 'met' : '**missed**') : s.met ? '(met)' : '(below)');
  const lines = [
    '| scenario | ours | baseline | ratio | target | |',
    '| --- | ---: | ---: | ---: | --- | --- |',
    ...report.scenarios.map(
      (s) => `| ${s.id}. ${s.name} | ${figure(s.ours, s.unit)} | ${figure(s.baseline, s.unit)} | ${fmt(s.ratio, 2)} | ${s.target} | ${verdict(s)} |`,
    ),
  ];
  const notes = report.scenarios
    .filter((s) => Object.keys(s.details).length)
    .map((s) => `scenario ${s.id}: ${Object.entries(s.details).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v, Number.isInteger(v) ? 0 : 1) : v}`).join(', ')}`);
  const m = report.machine;
  return [
    `Measured ${report.measuredAt.slice(0, 16).replace('T', ' ')} UTC on ${m.nproc} × ${m.cpu}, ${m.memoryGb} GB, Node ${m.node}, ${m.os}; ${m.database}. Whole run: ${fmt(report.totalSeconds / 60, 1)} min.`,
    '',
    ...lines,
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
}

const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

/** Rewrites the part of bench/README.md between the result markers from results.json. */
export function updateReadme(readmePath: string, results: Record<string, RunReport>): void {
  if (!fs.existsSync(readmePath)) return;
  const text = fs.readFileSync(readmePath, 'utf8');
  const from = text.indexOf(START);
  const to = text.indexOf(END);
  if (from < 0 || to < from) return;
  const sections = (['sqlite', 'postgres'] as const)
    .filter((d) => results[d])
    .map((d) =>
      d === 'sqlite'
        ? `### SQLite\n\n${markdownTable(results[d]!, d)}`
        : `### PostgreSQL\n\nThe targets of scenarios 1–4, 7 and 8 are SQLite's (in parentheses here); those of the settlement run (5, 6) hold on PostgreSQL too.\n\n${markdownTable(results[d]!, d)}`,
    );
  const body = sections.length ? sections.join('\n\n') : '_No results yet: run `npm run bench`._';
  fs.writeFileSync(readmePath, `${text.slice(0, from + START.length)}\n${body}\n${text.slice(to)}`);
}
