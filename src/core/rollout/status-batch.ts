// Which status changes may wait a moment. As pods become ready one after another, each reconcile
// would write the status again for a count that moved (and the message and condition texts that
// quote it). Such a change may wait for the next write, within a short window; every other change
// (phase, step, pause, hashes, a condition's status or reason) is written at once. Pure.
import type { RolloutStatus } from '../../api/rollout.ts';
import { stableStringify } from '../shared/hash.ts';

/** Fields that follow pod counts. */
const COUNTS = ['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'actualWeight', 'message'] as const;

function withoutCounts(status: RolloutStatus | undefined): string {
  const rest: Record<string, unknown> = { ...status };
  for (const k of COUNTS) delete rest[k];
  rest.conditions = (status?.conditions ?? []).map(({ message: _m, lastUpdateTime: _u, ...c }) => c);
  return stableStringify(rest);
}

/** Whether `next` differs from `before` only in counts and the texts that quote them. */
export function onlyCountsChanged(before: RolloutStatus | undefined, next: RolloutStatus): boolean {
  return withoutCounts(before) === withoutCounts(next);
}
