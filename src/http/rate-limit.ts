import type { Clock } from '../clock';
import { rateLimited } from '../domain/errors';

/**
 * Per-key limit of requests per minute (RATE_LIMIT_PER_MINUTE; 0 = off), a fixed one-minute
 * window per key. Kept in memory: with several instances each enforces the limit on the
 * requests it serves.
 */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly clock: Clock,
  ) {}

  hit(key: string): void {
    if (this.perMinute <= 0) return;
    const now = this.clock.now().getTime();
    let window = this.windows.get(key);
    if (!window || now - window.start >= 60_000) {
      if (this.windows.size > 10_000) this.prune(now);
      window = { start: now, count: 0 };
      this.windows.set(key, window);
    }
    window.count += 1;
    if (window.count > this.perMinute) {
      throw rateLimited(Math.max(1, Math.ceil((window.start + 60_000 - now) / 1000)));
    }
  }

  private prune(now: number): void {
    for (const [key, w] of this.windows) if (now - w.start >= 60_000) this.windows.delete(key);
  }
}
