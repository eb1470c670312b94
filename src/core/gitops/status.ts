// GitSync status, computed whole and pure: conditions with Kubernetes semantics, the
// merge patch that turns the old status into the new one, and the Events worth recording.
import type { GitSyncStatus, InventoryEntry, SyncError } from '../../api/git-sync.ts';
import { setCondition, removeCondition } from '../shared/conditions.ts';
import { stableStringify } from '../shared/hash.ts';

export const CONDITION_READY = 'Ready';
export const CONDITION_STALLED = 'Stalled';
export const CONDITION_SYNC_ALLOWED = 'SyncAllowed';

export const shortCommit = (commit: string | undefined) => (commit ? commit.slice(0, 12) : 'unknown');

export interface SyncedOutcome {
  commit: string;
  now: Date;
  generation: number | undefined;
  inventory: InventoryEntry[];
  applied: number;
  changed: number;
  pruned: number;
  /** Inventory entries that could not be pruned (kept for the next sync), as messages. */
  pruneProblems: string[];
  nextSyncAt: Date | undefined;
  handledRequest: string | undefined;
  hasWindows: boolean;
}

export function calculateSyncedStatus(previous: GitSyncStatus | undefined, o: SyncedOutcome): GitSyncStatus {
  const now = o.now.toISOString();
  const prunedText = o.pruned ? `, pruned ${o.pruned}` : '';
  const problemText = o.pruneProblems.length ? `; could not prune: ${o.pruneProblems.join('; ')}` : '';
  const message =
    `Applied ${o.applied} object${o.applied === 1 ? '' : 's'} from commit ${shortCommit(o.commit)} ` + `(${o.changed} changed${prunedText})${problemText}`;
  let conditions = previous?.conditions ?? [];
  conditions = setCondition(conditions, { type: CONDITION_READY, status: 'True', reason: 'Synced', message }, o.now);
  conditions = setCondition(conditions, { type: CONDITION_STALLED, status: 'False', reason: 'Synced', message: 'Synced' }, o.now);
  conditions = syncAllowedCondition(conditions, o.hasWindows, undefined, o.now);
  const status: GitSyncStatus = {
    ...withoutUndefined({
      observedGeneration: o.generation,
      lastSyncedCommit: o.commit,
      lastSyncTime: now,
      lastAttemptedCommit: o.commit,
      lastAttemptTime: now,
      inventory: o.inventory,
      nextSyncAt: o.nextSyncAt?.toISOString(),
      lastHandledSyncRequest: o.handledRequest ?? previous?.lastHandledSyncRequest,
    }),
    conditions,
  };
  return status;
}

export interface FailedOutcome {
  error: SyncError;
  /** A retry will not help until Git, the Secret or the spec changes. */
  stalled: boolean;
  now: Date;
  generation: number | undefined;
  /** The inventory to keep (the previous one, plus anything applied before the failure). */
  inventory: InventoryEntry[] | undefined;
  nextSyncAt: Date | undefined;
  handledRequest: string | undefined;
  hasWindows: boolean;
  /** Whether a sync was attempted (false for an invalid spec: no attempt time is recorded). */
  attempted: boolean;
}

export function calculateFailedStatus(previous: GitSyncStatus | undefined, o: FailedOutcome): GitSyncStatus {
  let conditions = previous?.conditions ?? [];
  conditions = setCondition(conditions, { type: CONDITION_READY, status: 'False', reason: o.error.reason, message: o.error.message }, o.now);
  conditions = setCondition(
    conditions,
    o.stalled
      ? {
          type: CONDITION_STALLED,
          status: 'True',
          reason: o.error.reason,
          message: 'Retrying will not help until the repository, the Secret or the GitSync changes',
        }
      : { type: CONDITION_STALLED, status: 'False', reason: o.error.reason, message: 'Retrying' },
    o.now,
  );
  conditions = syncAllowedCondition(conditions, o.hasWindows, undefined, o.now);
  return {
    ...withoutUndefined({
      observedGeneration: o.generation,
      lastSyncedCommit: previous?.lastSyncedCommit,
      lastSyncTime: previous?.lastSyncTime,
      lastAttemptedCommit: o.attempted ? (o.error.commit ?? previous?.lastAttemptedCommit) : previous?.lastAttemptedCommit,
      lastAttemptTime: o.attempted ? o.now.toISOString() : previous?.lastAttemptTime,
      lastError: o.error,
      inventory: o.inventory ?? previous?.inventory,
      nextSyncAt: o.nextSyncAt?.toISOString(),
      lastHandledSyncRequest: o.handledRequest ?? previous?.lastHandledSyncRequest,
    }),
    conditions,
  };
}

/** The status while a sync window denies a due sync: nothing else changes. */
export function calculateBlockedStatus(
  previous: GitSyncStatus | undefined,
  message: string,
  allowedAt: Date | undefined,
  now: Date,
  reason = 'SyncWindow',
): GitSyncStatus {
  const conditions = syncAllowedCondition(previous?.conditions ?? [], true, message, now, reason);
  return { ...withoutUndefined({ ...previous, nextSyncAt: allowedAt?.toISOString() }), conditions };
}

/** The status while waiting for the next due time: only nextSyncAt (and the window condition) may change. */
export function calculateWaitingStatus(previous: GitSyncStatus | undefined, nextSyncAt: Date | undefined, hasWindows: boolean, now: Date): GitSyncStatus {
  const conditions = syncAllowedCondition(previous?.conditions ?? [], hasWindows, undefined, now);
  return { ...withoutUndefined({ ...previous, nextSyncAt: nextSyncAt?.toISOString() }), conditions };
}

function syncAllowedCondition(
  conditions: NonNullable<GitSyncStatus['conditions']>,
  hasWindows: boolean,
  deniedMessage: string | undefined,
  now: Date,
  reason = 'SyncWindow',
) {
  if (!hasWindows) return removeCondition(conditions, CONDITION_SYNC_ALLOWED);
  if (deniedMessage) return setCondition(conditions, { type: CONDITION_SYNC_ALLOWED, status: 'False', reason, message: deniedMessage }, now);
  return setCondition(conditions, { type: CONDITION_SYNC_ALLOWED, status: 'True', reason: 'SyncWindow', message: 'Sync windows allow syncing' }, now);
}

function withoutUndefined<T extends Record<string, unknown>>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/** The JSON merge patch from `previous` to `next` at the top level (null deletes), or undefined when equal. */
export function statusMergePatch(previous: GitSyncStatus | undefined, next: GitSyncStatus): Record<string, unknown> | undefined {
  const before = (previous ?? {}) as Record<string, unknown>;
  const after = next as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (after[key] === undefined) {
      if (before[key] !== undefined) patch[key] = null;
    } else if (stableStringify(after[key]) !== stableStringify(before[key])) {
      patch[key] = after[key];
    }
  }
  return Object.keys(patch).length ? patch : undefined;
}
