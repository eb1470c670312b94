// A client-side rate limit as client-go's (a token bucket of qps and burst): requests wait for a
// token in the order they asked. Time comes through the Clock port, so tests run it on a fake.
import { systemClock, type Clock } from '../../ports/clock.ts';

export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private at: number;
  private readonly waiting: Array<() => void> = [];
  private cancelRefill: (() => void) | undefined;

  /** qps 0 = no limit. */
  constructor(qps: number, burst: number, clock: Clock = systemClock) {
    this.qps = qps;
    this.burst = Math.max(1, burst);
    this.clock = clock;
    this.tokens = this.burst;
    this.at = clock.now().getTime();
  }

  /** Resolves when the caller may send its request. */
  take(): Promise<void> {
    if (this.qps <= 0) return Promise.resolve();
    this.fill();
    if (this.tokens >= 1 && this.waiting.length === 0) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Requests waiting for a token. */
  get queued(): number {
    return this.waiting.length;
  }

  private fill(): void {
    const now = this.clock.now().getTime();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.qps) / 1000);
    this.at = now;
  }

  private schedule(): void {
    if (this.cancelRefill) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.qps));
    this.cancelRefill = this.clock.setTimer(waitMs, () => {
      this.cancelRefill = undefined;
      this.fill();
      while (this.tokens >= 1 && this.waiting.length > 0) {
        this.tokens -= 1;
        this.waiting.shift()?.();
      }
      if (this.waiting.length > 0) this.schedule();
    });
  }
}
