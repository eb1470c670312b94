// Time as a port, so the controller loop can run on a fake clock in tests.
export interface Clock {
  now(): Date;
  /** Calls fn after ms (fake clocks fire when advanced); returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref?.();
    return () => clearTimeout(handle);
  },
};
