// Time as a port, so the controller loop can run on a fake clock in tests.
export interface Clock {
  now(): Date;
  /** Calls fn after ms (fake clocks fire when advanced); returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** The longest delay setTimeout takes (about 24.8 days); Node fires longer ones after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * setTimeout for any delay: longer than MAX_TIMER_MS waits in segments (a monthly schedule, a
 * long pause or deadline waits its real length instead of firing at once). Infinity never
 * fires; NaN or a negative delay fires as soon as possible. Unref'd: a pending timer does not
 * keep the process alive. Returns a cancel function.
 */
export function setLongTimeout(ms: number, fn: () => void): () => void {
  let handle: ReturnType<typeof setTimeout> | undefined;
  if (ms === Infinity) return () => undefined;
  const arm = (remaining: number) => {
    const segment = Math.min(remaining, MAX_TIMER_MS);
    handle = setTimeout(() => (remaining > segment ? arm(remaining - segment) : fn()), segment);
    handle.unref?.();
  };
  arm(ms > 0 ? ms : 0);
  return () => clearTimeout(handle);
}

export const systemClock: Clock = {
  now: () => new Date(),
  setTimer: setLongTimeout,
};
