// A client-side rate limit as client-go's (a token bucket of qps and burst): requests wait for a
// token in the order they asked, in two lanes. Requests that move a rollout (scales, creates,
// status writes) are in the first lane; Events in the later one, served only when the first lane
// is empty. When a thousand templates change at once, the scale of a ReplicaSet (or an abort's
// return to stable) does not queue behind a thousand Event creates. The later lane cannot starve
// for good: a reconcile waits for its Events before its status write, and workers are bounded,
// so the first lane empties. Time comes through the Clock port, so tests run it on a fake.
import { systemClock, type Clock } from '../../ports/clock.ts';

type Lane = 'first' | 'later';

const EVENTS = /^\/apis?\/(?:v1|events\.k8s\.io\/v1)\/(?:namespaces\/[^/]+\/)?events(?:[/?]|$)/;

/** The lane of a request path: Events (core or events.k8s.io) go in the later one. */
export const laneOf = (path: string): Lane => (EVENTS.test(path) ? 'later' : 'first');

export class TokenBucket {
  private readonly qps: number;
  private readonly burst: number;
  private readonly clock: Clock;
  private tokens: number;
  private at: number;
  private readonly waiting: Array<() => void> = [];
  private readonly waitingLater: Array<() => void> = [];
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
  take(lane: Lane = 'first'): Promise<void> {
    if (this.qps <= 0) return Promise.resolve();
    this.fill();
    if (this.tokens >= 1 && this.queued === 0) {
      this.tokens -= 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      (lane === 'first' ? this.waiting : this.waitingLater).push(resolve);
      this.schedule();
    });
  }

  /** Requests waiting for a token. */
  get queued(): number {
    return this.waiting.length + this.waitingLater.length;
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
      while (this.tokens >= 1 && this.queued > 0) {
        this.tokens -= 1;
        (this.waiting.shift() ?? this.waitingLater.shift())?.();
      }
      if (this.queued > 0) this.schedule();
    });
  }
}
