import type { Logger } from 'pino';

/**
 * Work a server instance does besides answering requests: polls, sweeps, and later the
 * settlement run's workers and the webhook deliveries. The runtime (src/runtime.ts) starts every
 * worker after the app is built and stops them all, awaiting each, when the process shuts down.
 */
export interface BackgroundWorker {
  readonly name: string;
  /** Begins its work; a worker that must be ready first (a listener) resolves once it is. */
  start(): void | Promise<void>;
  /** Takes no new work, and resolves once the work in hand is finished or handed back. */
  stop(): Promise<void>;
}

/**
 * Runs `tick` every `intervalMs`, one at a time (a slow tick delays the next instead of
 * overlapping it). A failing tick is logged and the next one runs as planned.
 */
export class PeriodicWorker implements BackgroundWorker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = true;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<unknown>,
    private readonly logger?: Logger,
  ) {}

  start(): void {
    if (!this.stopped || this.intervalMs <= 0) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.tick()
        .then(
          () => undefined,
          (err: unknown) => this.logger?.warn({ err, worker: this.name }, 'background work failed; it runs again at its next turn'),
        )
        .finally(() => {
          this.running = null;
          this.schedule();
        });
    }, this.intervalMs);
    this.timer.unref();
  }
}
