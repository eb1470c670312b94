// Requeue delays, one constant per meaning, for every controller.

/** A spec the controller cannot act on: its next change triggers a reconcile anyway; this is the safety net. */
export const INVALID_SPEC_REQUEUE_MS = 5 * 60_000;

/** A status write the API server rejects as invalid: retried slowly, never at the queue's full rate. */
export const STATUS_REJECTED_REQUEUE_MS = 5 * 60_000;

/** Someone else wrote first (a person's action, another reconcile): look again on fresh state now. */
export const CONFLICT_REQUEUE_MS = 0;
