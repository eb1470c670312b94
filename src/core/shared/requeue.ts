// Requeue delays, one constant per meaning, for every controller.

/** A spec the controller cannot act on: its next change triggers a reconcile anyway; this is the safety net. */
export const INVALID_SPEC_REQUEUE_MS = 5 * 60_000;

/** A status write the API server rejects as invalid: retried slowly, never at the queue's full rate. */
export const STATUS_REJECTED_REQUEUE_MS = 5 * 60_000;

/** An eviction a PodDisruptionBudget refused (429): asked again after this, as Argo Rollouts does. */
export const EVICTION_REFUSED_REQUEUE_MS = 30_000;

/** Someone else wrote first (a person's action, another reconcile): look again on fresh state now. */
export const CONFLICT_REQUEUE_MS = 0;

/** A time that could not be worked out (sync windows that never allow): look again in an hour. */
export const UNKNOWN_TIME_REQUEUE_MS = 3_600_000;

/**
 * A time far off (a window that next opens in years: Feb 29 on a Monday is 2044): look again
 * daily rather than hold a timer for weeks; looking costs nothing.
 */
export const FAR_OFF_REQUEUE_MS = 24 * 3_600_000;

/** The longest requeue: what one timer can wait (2^31-1 ms, about 24.8 days). Looking again earlier is harmless. */
export const MAX_REQUEUE_MS = 2 ** 31 - 1;

/**
 * A computed delay made safe for a timer: clamped to [0, MAX_REQUEUE_MS]; Infinity is "no
 * requeue"; NaN (a timestamp that did not parse) looks again after INVALID_SPEC_REQUEUE_MS,
 * neither at once (a hot loop) nor never (stuck).
 */
export function boundedRequeue(ms: number | undefined): number | undefined {
  if (ms === undefined || ms === Infinity) return undefined;
  if (Number.isNaN(ms)) return INVALID_SPEC_REQUEUE_MS;
  return Math.min(MAX_REQUEUE_MS, Math.max(0, ms));
}
