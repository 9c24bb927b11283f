import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { currencyDigits } from '../../domain/currency';
import type { IsoDate } from '../../domain/dates';
import { ShareSum, roundedAmount, splitMinor, type RankKey } from '../../domain/settlement-math';
import { findBunits } from '../../repositories/bunit.repository';
import type { PartitionRange } from '../../repositories/settlement-run.repository';
import type { StatementKey } from '../../repositories/statement.repository';
import { presentDryRun, presentStatement, presentStatementLine, type DryRunSummary, type LineView } from '../../representations/settlement';
import type { ServiceContext } from '../context';
import { computePartition, type ComputedLine } from './partition-work';
import type { RunProgress } from './run-executor';

/**
 * A dry run (SPEC §6.3, §6.5): the run computed as it would settle now, writing nothing to the
 * database and holding no lock. Memory stays bounded whatever its size: the settle command needs
 * only each statement's sums; the API's answer, which lists every line with its rounded amount,
 * keeps the computed lines in a scratch SQLite file of its own (removed afterwards), rounds each
 * statement there exactly as finalize does, and is streamed from it.
 */
export class DryRun {
  private readonly startedAt: string;

  constructor(
    private readonly ctx: ServiceContext,
    readonly through: IsoDate,
    private readonly partitions: PartitionRange[],
  ) {
    this.startedAt = ctx.calendar.nowIso();
  }

  /**
   * The run's figures without its lines, and one row per would-be statement (payer, referrer,
   * currency, lines, total, in the order of their key): what the settle command prints.
   */
  async summary(onProgress?: (p: RunProgress) => void): Promise<DryRunSummary & { statements: DryRunStatement[] }> {
    const statements = new Map<string, { key: StatementKey; sum: ShareSum }>();
    await this.compute((line, split) => {
      const k = keyText(line.key);
      let s = statements.get(k);
      if (!s) statements.set(k, (s = { key: line.key, sum: new ShareSum() }));
      s.sum.add({ num: line.exactNum, periodDays: line.periodDays }, split.floor);
    }, onProgress);
    const ordered = [...statements.values()].sort((a, b) => compareKeys(a.key, b.key));
    const parties = await this.parties(ordered.map((s) => s.key));
    const rows = ordered.map((s) => ({
      payer: parties.get(s.key.payerId)!,
      referrer: parties.get(s.key.referrerId)!,
      currency: s.key.currency,
      lines: s.sum.count,
      totalMinor: s.sum.totalMinor(currencyDigits(s.key.currency)),
    }));
    return { ...this.summarise(rows), statements: rows };
  }

  private async parties(keys: StatementKey[]): Promise<Map<number, { id: number; code: string; name: string }>> {
    const ids = [...new Set(keys.flatMap((k) => [k.payerId, k.referrerId]))];
    return new Map((await findBunits(this.ctx.db, ids)).map((b) => [b.id, { id: b.id, code: b.code, name: b.name }]));
  }

  /** The answer of a dry run through the API, as JSON produced while it is sent. */
  async *json(): AsyncGenerator<string> {
    const scratch = new Scratch();
    try {
      const statements = new Map<string, { n: number; key: StatementKey; sum: ShareSum }>();
      await this.compute((line, split) => {
        const k = keyText(line.key);
        let s = statements.get(k);
        if (!s) statements.set(k, (s = { n: statements.size + 1, key: line.key, sum: new ShareSum() }));
        s.sum.add({ num: line.exactNum, periodDays: line.periodDays }, split.floor);
        scratch.add(s.n, line, split.floor, split.remainderKey);
      });
      scratch.flush();

      const ordered = [...statements.values()].sort((a, b) => compareKeys(a.key, b.key));
      const parties = await this.parties(ordered.map((s) => s.key));
      yield `{"id":null,"through":${JSON.stringify(this.through)},"dryRun":true,"statements":[`;
      const totals: { currency: string; totalMinor: bigint; lines: number }[] = [];
      for (const [i, s] of ordered.entries()) {
        const digits = currencyDigits(s.key.currency);
        const totalMinor = s.sum.totalMinor(digits);
        const roundUpThrough = scratch.roundUpBoundary(s.n, Number(totalMinor - s.sum.floorSum));
        totals.push({ currency: s.key.currency, totalMinor, lines: s.sum.count });
        const head = presentStatement({
          id: null,
          runId: null,
          payer: parties.get(s.key.payerId)!,
          referrer: parties.get(s.key.referrerId)!,
          currency: s.key.currency,
          totalMinor,
          lineCount: s.sum.count,
          createdAt: this.startedAt,
        });
        yield `${i === 0 ? '' : ','}${JSON.stringify(head).slice(0, -1)},"lines":[`;
        let first = true;
        for (const page of scratch.lines(s.n, roundUpThrough)) {
          const text = page.map((l) => JSON.stringify(presentStatementLine(l, s.key.currency))).join(',');
          yield `${first ? '' : ','}${text}`;
          first = false;
        }
        yield ']}';
      }
      const { id: _id, through: _through, dryRun: _dryRun, ...rest } = presentDryRun(this.summarise(totals));
      yield `],${JSON.stringify(rest).slice(1)}`;
    } finally {
      scratch.close();
    }
  }

  private async compute(
    take: (line: ComputedLine, split: { floor: bigint; remainderKey: string }) => void,
    onProgress?: (p: RunProgress) => void,
  ): Promise<void> {
    for (const [i, range] of this.partitions.entries()) {
      for await (const batch of computePartition(this.ctx.db, range, this.through, (at) => this.ctx.calendar.dayOf(at))) {
        for (const line of batch.lines) take(line, splitMinor({ num: line.exactNum, periodDays: line.periodDays }, currencyDigits(line.key.currency)));
      }
      onProgress?.({ partitionsDone: i + 1, partitionsTotal: this.partitions.length });
      // Between partitions, the event loop serves other requests.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private summarise(statements: { currency: string; totalMinor: bigint; lines: number }[]): DryRunSummary {
    const totals = new Map<string, bigint>();
    for (const s of statements) totals.set(s.currency, (totals.get(s.currency) ?? 0n) + s.totalMinor);
    return {
      through: this.through,
      startedAt: this.startedAt,
      completedAt: this.ctx.calendar.nowIso(),
      statementCount: statements.length,
      lineCount: statements.reduce((n, s) => n + s.lines, 0),
      partitions: this.partitions.length,
      totals: [...totals].sort(([a], [b]) => (a < b ? -1 : 1)).map(([currency, amountMinor]) => ({ currency, amountMinor })),
    };
  }
}

/** One would-be statement of a dry run, as the settle command shows it. */
export interface DryRunStatement {
  payer: { id: number; code: string; name: string };
  referrer: { id: number; code: string; name: string };
  currency: string;
  lines: number;
  totalMinor: bigint;
}

const keyText = (k: StatementKey) => `${k.payerId}/${k.referrerId}/${k.currency}`;
const compareKeys = (a: StatementKey, b: StatementKey) =>
  a.payerId - b.payerId || a.referrerId - b.referrerId || (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0);

/** The dry run's computed lines, in a temporary SQLite file of their own: disk, not memory. */
class Scratch {
  private readonly file = path.join(os.tmpdir(), `referrals-dry-run-${process.pid}-${crypto.randomBytes(6).toString('hex')}.db`);
  private readonly db = new Database(this.file);
  private readonly insert;
  private pending: unknown[][] = [];
  private indexed = false;

  constructor() {
    this.db.pragma('journal_mode = OFF');
    this.db.pragma('synchronous = OFF');
    this.db.exec(`CREATE TABLE lines (statement INTEGER NOT NULL, revenue_line_id INTEGER NOT NULL, referral_id INTEGER NOT NULL,
      contract_id INTEGER NOT NULL, period_start TEXT NOT NULL, period_end TEXT NOT NULL, period_days INTEGER NOT NULL,
      billable_days INTEGER NOT NULL, revenue_amount TEXT NOT NULL, exact_num TEXT NOT NULL, floor_minor TEXT NOT NULL,
      remainder_key TEXT NOT NULL, kind TEXT NOT NULL, adjusts_statement_id INTEGER, adjusts_line_id INTEGER)`);
    this.insert = this.db.prepare(
      'INSERT INTO lines (statement, revenue_line_id, referral_id, contract_id, period_start, period_end, period_days, billable_days, revenue_amount, exact_num, floor_minor, remainder_key, kind, adjusts_statement_id, adjusts_line_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  add(statement: number, s: ComputedLine, floor: bigint, remainderKey: string): void {
    this.pending.push([
      statement, s.line.id, s.referralId, s.line.contractId, s.line.periodStart, s.line.periodEnd, s.periodDays, s.billableDays,
      s.line.amount, s.exactNum.toString(), floor.toString(), remainderKey, s.kind, s.adjusts?.statementId ?? null, s.adjusts?.lineId ?? null,
    ]);
    if (this.pending.length >= 5000) this.flush();
  }

  flush(): void {
    const rows = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const row of rows) this.insert.run(row);
    })();
  }

  /** The same rounding finalize does: the k-th line by remainder is the last that gets one more minor unit. */
  roundUpBoundary(statement: number, k: number): RankKey | null {
    if (!this.indexed) {
      this.db.exec('CREATE INDEX lines_by_statement ON lines (statement, revenue_line_id, referral_id); CREATE INDEX lines_by_remainder ON lines (statement, remainder_key)');
      this.indexed = true;
    }
    if (k <= 0) return null;
    const row = this.db
      .prepare('SELECT remainder_key, revenue_line_id, referral_id FROM lines WHERE statement = ? ORDER BY remainder_key DESC, revenue_line_id ASC, referral_id ASC LIMIT 1 OFFSET ?')
      .get(statement, k - 1) as { remainder_key: string; revenue_line_id: number; referral_id: number };
    return { remainderKey: row.remainder_key, revenueLineId: row.revenue_line_id, referralId: row.referral_id };
  }

  *lines(statement: number, roundUpThrough: RankKey | null): Generator<LineView[]> {
    const page = this.db.prepare(
      `SELECT revenue_line_id, referral_id, contract_id, period_start, period_end, period_days, billable_days, revenue_amount,
       exact_num, floor_minor, remainder_key, kind, adjusts_statement_id, adjusts_line_id FROM lines WHERE statement = ? AND (revenue_line_id > ? OR (revenue_line_id = ? AND referral_id > ?))
       ORDER BY revenue_line_id, referral_id LIMIT 1000`,
    );
    let after = { line: 0, referral: 0 };
    for (;;) {
      const rows = page.all(statement, after.line, after.line, after.referral) as {
        revenue_line_id: number;
        referral_id: number;
        contract_id: number;
        period_start: string;
        period_end: string;
        period_days: number;
        billable_days: number;
        revenue_amount: string;
        exact_num: string;
        floor_minor: string;
        remainder_key: string;
        kind: 'share' | 'adjustment';
        adjusts_statement_id: number | null;
        adjusts_line_id: number | null;
      }[];
      if (rows.length === 0) return;
      yield rows.map((r) => ({
        id: null,
        kind: r.kind,
        revenueLineId: r.revenue_line_id,
        referralId: r.referral_id,
        contractId: r.contract_id,
        periodStart: r.period_start,
        periodEnd: r.period_end,
        periodDays: r.period_days,
        billableDays: r.billable_days,
        revenueAmount: r.revenue_amount,
        exactNum: BigInt(r.exact_num),
        amountMinor: roundedAmount(BigInt(r.floor_minor), { remainderKey: r.remainder_key, revenueLineId: r.revenue_line_id, referralId: r.referral_id }, roundUpThrough),
        adjusts: r.adjusts_line_id === null ? null : { statementId: r.adjusts_statement_id!, lineId: r.adjusts_line_id },
      }));
      const last = rows[rows.length - 1]!;
      after = { line: last.revenue_line_id, referral: last.referral_id };
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
    fs.rmSync(this.file, { force: true });
  }
}
