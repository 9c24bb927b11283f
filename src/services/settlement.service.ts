import { isUniqueViolation, newClaimOwner } from '../db';
import { addDays } from '../domain/dates';
import { conflict, notFound, validationFailed } from '../domain/errors';
import { periodOf } from '../domain/netting';
import { contractsToAdjust, contractsToSettle, revenueLinesByContract } from '../repositories/settlement.repository';
import {
  findRun,
  findRunningRun,
  insertRun,
  listRuns,
  claimRunningRun,
  type RunRecord,
} from '../repositories/settlement-run.repository';
import { listStatements, statementLines, statementsOfRun } from '../repositories/statement.repository';
import { statementCsvHeader, statementCsvRow, UTF8_BOM } from '../representations/settlement';
import type { Actor, ServiceContext } from './context';
import { DryRun } from './settlement/dry-run';
import { leaseSecondsOf } from './settlement/lease';
import { cutPartitions, type ContractWork } from './settlement/partition-work';
import { RunExecutor, type ExecutionOptions, type RunProgress } from './settlement/run-executor';
import { assertPeriodOpen } from './period-close.service';
import { withUnitOfWork } from './unit-of-work';

export type { RunProgress };

export interface RunRequest {
  through?: string | undefined;
}

export interface RunOptions extends ExecutionOptions {
  /**
   * A run the caller began before and may not have seen completed (an idempotent retry after a
   * crash): continued if it is still running, and answered instead of a new run.
   */
  resume?: number | undefined;
  /** Told the id of the run as soon as it exists (before it executes). */
  onRunCreated?: (runId: number) => Promise<unknown>;
  /** Told of an interrupted run this settle resumes before its own. */
  onResumed?: (run: RunRecord) => void;
}

/**
 * The settlement run of SPEC §6.3, executed as §6.5 says: a job in the database, cut into
 * partitions that commit one by one, resumable, one at a time, shared by workers.
 */
export class SettlementService {
  constructor(private readonly ctx: ServiceContext) {}

  /** `through` as asked, or yesterday; today or later is refused (a PUT may still change today's percentage, R8). */
  resolveThrough(through: string | undefined): string {
    const yesterday = addDays(this.ctx.calendar.today(), -1);
    const value = through ?? yesterday;
    if (value > yesterday) {
      throw validationFailed([{ path: 'body.through', message: `must not be later than yesterday (${yesterday})` }]);
    }
    return value;
  }

  /**
   * Settles through `through`: first an interrupted run, if there is one (with its own through),
   * then a run of its own. 409 run-in-progress while another settle holds a live run.
   */
  async run(request: RunRequest, actor: Actor, options: RunOptions = {}): Promise<RunRecord> {
    const through = this.resolveThrough(request.through);
    const resumed = await this.resumeInterrupted(actor, options);
    if (options.resume !== undefined) {
      if (resumed?.id === options.resume) return resumed;
      const begun = await findRun(this.ctx.db, options.resume);
      if (begun?.status === 'completed') return begun;
    }
    // The work is planned by reading, outside any transaction; the run and its partitions are then written at once.
    const partitions = cutPartitions(await this.contractsWithWork(through), this.ctx.partitionLines);
    const owner = newClaimOwner();
    let runId: number;
    try {
      runId = await withUnitOfWork(this.ctx, actor, async (uow) => {
        // SPEC §16: no run into a closed period (nor one a close has claimed).
        await assertPeriodOpen(uow.trx, periodOf(through), `no run may settle through ${through}`);
        const id = await insertRun(uow.trx, {
          through,
          createdBy: actor.name,
          createdAt: uow.nowIso,
          leaseOwner: owner,
          leaseSeconds: leaseSecondsOf(this.ctx),
          partitions,
        });
        uow.record({
          entity: 'settlement-run',
          id,
          action: 'create',
          changes: [
            { field: 'through', from: null, to: through },
            { field: 'status', from: null, to: 'running' },
            { field: 'partitionsTotal', from: null, to: partitions.length },
          ],
        });
        return id;
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw runInProgress();
      throw err;
    }
    await options.onRunCreated?.(runId);
    const run = (await findRun(this.ctx.db, runId))!;
    return new RunExecutor(this.ctx, run, options).execute(owner, actor);
  }

  /**
   * The run that was interrupted (its lease ran out by the database's clock, or was handed back),
   * resumed to completion; null when there is none. 409 while its holder renews the lease.
   */
  private async resumeInterrupted(actor: Actor, options: RunOptions): Promise<RunRecord | null> {
    const running = await findRunningRun(this.ctx.db);
    if (!running) return null;
    const owner = newClaimOwner();
    if (!(await claimRunningRun(this.ctx.db, running.id, owner, leaseSecondsOf(this.ctx)))) throw runInProgress(running);
    options.onResumed?.(running);
    return new RunExecutor(this.ctx, running, options).execute(owner, actor);
  }

  /**
   * Helps the running run with its partitions (`settle --join`, on another process or machine);
   * its holder finalizes it. Null when no run is running.
   */
  async join(options: ExecutionOptions = {}): Promise<{ run: RunRecord; partitions: number } | null> {
    const running = await findRunningRun(this.ctx.db);
    if (!running) return null;
    const executor = new RunExecutor(this.ctx, running, options);
    const workers = Math.max(1, options.workers ?? 1);
    const counts = await Promise.all(Array.from({ length: workers }, () => executor.settlePartitions()));
    return { run: running, partitions: counts.reduce((a, b) => a + b, 0) };
  }

  /** A dry run through `through`: planned now (so that a bad request fails before any answer), computed when read. */
  async dryRun(request: RunRequest): Promise<DryRun> {
    const through = this.resolveThrough(request.through);
    return new DryRun(this.ctx, through, cutPartitions(await this.contractsWithWork(through), this.ctx.partitionLines));
  }

  /**
   * The contracts a run through `through` has work on (lines to settle, and settled pairs to adjust
   * (§12)) and the contracts whose lines its partitions read through without work (settled
   * before, or due after `through`), by contract.
   */
  private async contractsWithWork(through: string): Promise<ContractWork[]> {
    const work = new Map<number, ContractWork>();
    const of = (contractId: number) => work.get(contractId) ?? work.set(contractId, { contractId, lines: 0, read: 0 }).get(contractId)!;
    for (const c of [...(await contractsToSettle(this.ctx.db, through)), ...(await contractsToAdjust(this.ctx.db))]) of(c.contractId).lines += c.lines;
    for (const c of await revenueLinesByContract(this.ctx.db)) of(c.contractId).read = c.lines;
    return [...work.values()].sort((a, b) => a.contractId - b.contractId);
  }

  async getRun(id: number): Promise<RunRecord> {
    const run = await findRun(this.ctx.db, id);
    if (!run) throw notFound(`Settlement run ${id} does not exist.`);
    return run;
  }

  listRuns(query: { sort: { field: 'id' | 'through' | 'createdDate'; descending: boolean }; limit: number; offset: number }) {
    return listRuns(this.ctx.db, query.sort, query);
  }

  /** The statements of a completed run, paged (a running run's statements are listed nowhere). */
  async statementsOfRun(runId: number, query: { sort: { field: 'id' | 'runId' | 'createdDate'; descending: boolean }; limit: number; offset: number; currency?: string | undefined }) {
    await this.completedRun(runId);
    return listStatements(this.ctx.db, { role: 'any', runId, currency: query.currency }, query.sort, query);
  }

  /**
   * Every line of a completed run as CSV rows, produced while they are sent (SPEC §6.3: the file
   * for the ERP): the statements in the order of their key, each one's lines in theirs.
   */
  async exportRun(runId: number, options: { bom?: boolean } = {}): Promise<AsyncIterable<string>> {
    await this.completedRun(runId);
    const { db } = this.ctx;
    return (async function* () {
      yield (options.bom ? UTF8_BOM : '') + statementCsvHeader();
      for await (const statements of statementsOfRun(db, runId)) {
        for (const statement of statements) {
          for await (const lines of statementLines(db, statement)) yield lines.map((l) => statementCsvRow(statement, l)).join('');
        }
      }
    })();
  }

  private async completedRun(runId: number): Promise<RunRecord> {
    const run = await this.getRun(runId);
    if (run.status !== 'completed') {
      throw conflict('run-in-progress', `Settlement run ${runId} is still running; its statements are listed once it has completed.`);
    }
    return run;
  }
}

function runInProgress(run?: RunRecord) {
  return conflict(
    'run-in-progress',
    run
      ? `Settlement run ${run.id} (through ${run.through}) is running: ${run.partitionsDone} of ${run.partitionsTotal} partitions done. Try again once it has completed.`
      : 'Another settlement run has just started. Try again once it has completed.',
  );
}
