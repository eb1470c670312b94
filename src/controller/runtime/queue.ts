// A keyed work queue in the manner of client-go: a key is queued at most once, is never
// processed by two workers at once, and a key added while it is processed runs again after.
// Failures back off per key (exponential, capped); delayed adds are computed requeues.
import type { Clock } from '../../ports/clock.ts';

export type ReconcileResult = { requeueAfterMs?: number } | void;
export type ReconcileFn = (key: string) => Promise<ReconcileResult>;

export interface QueueOptions {
  workers: number;
  clock: Clock;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Overall limit across keys (a token bucket): reconciles per second and burst. */
  qps?: number;
  burst?: number;
  onError?: (key: string, err: unknown, retryInMs: number) => void;
  /** Told of every add that queued a key (not of de-duplicated ones), for metrics. */
  onAdd?: (key: string) => void;
}

export class WorkQueue {
  private readonly pending: string[] = [];
  private readonly queued = new Set<string>();
  /** Keys being reconciled -> when they started (clock ms). */
  private readonly processing = new Map<string, number>();
  private readonly dirty = new Set<string>();
  private readonly timers = new Map<string, { at: number; cancel: () => void }>();
  private readonly failures = new Map<string, number>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly drainWaiters: Array<() => void> = [];
  private active = 0;
  private stopped = false;
  private tokens: number;
  private tokensAt: number;
  private refillTimer: (() => void) | undefined;
  private readonly reconcile: ReconcileFn;
  private readonly opts: Required<Omit<QueueOptions, 'onError' | 'onAdd'>> & Pick<QueueOptions, 'onError' | 'onAdd'>;

  constructor(reconcile: ReconcileFn, opts: QueueOptions) {
    this.reconcile = reconcile;
    this.opts = { baseBackoffMs: 250, maxBackoffMs: 5 * 60_000, qps: 50, burst: 200, ...opts };
    this.tokens = this.opts.burst;
    this.tokensAt = opts.clock.now().getTime();
  }

  /** Takes a token if one is there; otherwise arranges a pump when the next one is due. */
  private takeToken(): boolean {
    const now = this.opts.clock.now().getTime();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.tokensAt) * this.opts.qps) / 1000);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (!this.refillTimer) {
      const waitMs = Math.ceil(((1 - this.tokens) * 1000) / this.opts.qps);
      this.refillTimer = this.opts.clock.setTimer(waitMs, () => {
        this.refillTimer = undefined;
        this.pump();
      });
    }
    return false;
  }

  /** Queues a key now (de-duplicated). */
  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.pending.push(key);
    this.opts.onAdd?.(key);
    this.pump();
  }

  /** Queues a key after ms; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = this.opts.clock.now().getTime() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    existing?.cancel();
    const cancel = this.opts.clock.setTimer(ms, () => {
      this.timers.delete(key);
      this.add(key);
    });
    this.timers.set(key, { at, cancel });
  }

  /** Keys queued, running or waiting on a timer. */
  size(): { queued: number; processing: number; delayed: number } {
    return { queued: this.pending.length, processing: this.processing.size, delayed: this.timers.size };
  }

  /** Resolves when nothing runs and nothing can run until time passes (delays, backoff, rate limit). */
  idle(): Promise<void> {
    if (this.quiet()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** How long the longest reconcile in flight has been running (0 when none). */
  longestRunningMs(): number {
    const now = this.opts.clock.now().getTime();
    let longest = 0;
    for (const started of this.processing.values()) longest = Math.max(longest, now - started);
    return longest;
  }

  /**
   * Takes no more work and resolves once the reconciles in flight have finished (so a process
   * that exits after this never cuts a reconcile between its writes).
   */
  stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    this.refillTimer?.();
    this.refillTimer = undefined;
    this.pending.length = 0;
    this.queued.clear();
    this.dirty.clear();
    if (this.active === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.workers && this.pending.length > 0) {
      if (!this.takeToken()) break;
      const key = this.pending.shift() as string;
      this.queued.delete(key);
      this.processing.set(key, this.opts.clock.now().getTime());
      this.active++;
      void this.run(key);
    }
    if (this.quiet()) {
      for (const resolve of this.idleWaiters.splice(0)) resolve();
    }
  }

  private quiet(): boolean {
    return this.active === 0 && (this.pending.length === 0 || this.refillTimer !== undefined || this.stopped);
  }

  private async run(key: string): Promise<void> {
    try {
      const result = await this.reconcile(key);
      this.failures.delete(key);
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, result.requeueAfterMs);
    } catch (err) {
      const count = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, count);
      const delay = Math.min(this.opts.maxBackoffMs, this.opts.baseBackoffMs * 2 ** (count - 1));
      this.opts.onError?.(key, err, delay);
      this.addAfter(key, delay);
    } finally {
      this.processing.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
      if (this.stopped && this.active === 0) for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }
}
