// Why a GitSync sync failed, pure: the error a status carries, and whether retrying can help.
//
// A permanent failure (Stalled=True) cannot be fixed by trying again until something a
// person controls changes: the commit (bad YAML, a schema error, an object the API server
// refuses), the Secret, the spec, or the ServiceAccount's rights. It is retried at the
// GitSync's normal interval or schedule (a fix commit is found then, or at once through a
// webhook or "sync now"), not every minute. A retryable failure (the repository or the API
// server unreachable, a timeout, an apply cut off half-way) is retried after
// RETRY_AFTER_FAILURE_MS. The reconciler only reports; this file decides.
import type { GitSyncStatus, InventoryEntry, SyncError } from '../../api/git-sync.ts';
import { shortCommit } from './status.ts';
import type { ManifestProblem } from './manifests.ts';

/** Reasons a retry cannot fix (see the file comment). Every other reason is retryable. */
const PERMANENT = new Set([
  // the spec and its references
  'InvalidSpec',
  'SecretNotFound',
  'InvalidSecret',
  'Forbidden', // the ServiceAccount the sync runs as may not do something it must
  // the commit
  'InvalidYAML',
  'InvalidManifest',
  'UnknownKind',
  'NamespaceNotAllowed',
  'ClusterScopedNotAllowed',
  'DuplicateObject',
  'ManagedByOtherGitSync',
  'DryRunFailed',
  'NoManifests',
  // the repository (git)
  'AuthenticationFailed',
  'HostKeyVerificationFailed',
  'RepositoryNotFound',
  'RefNotFound',
  'InvalidPath',
  'FileTooLarge',
  'TooManyFiles',
  'RepositoryTooLarge',
  'NotUtf8',
  'InvalidRequest',
]);

export const isPermanentReason = (reason: string): boolean => PERMANENT.has(reason);

/** A failed sync: what the status says, whether it is permanent, and what was applied before it. */
export interface SyncFailure {
  error: SyncError;
  permanent: boolean;
  /** Objects applied before the failure (kept in the inventory so a later prune finds them). */
  applied: InventoryEntry[];
}

export function syncFailure(error: SyncError, applied: InventoryEntry[] = []): SyncFailure {
  return { error, permanent: isPermanentReason(error.reason), applied };
}

/** The failure for a commit with invalid manifests: the first problem (and how many more), nothing applied. */
export function manifestFailure(problems: ReadonlyArray<ManifestProblem>, commit: string): SyncFailure | undefined {
  const [first] = problems;
  if (!first) return undefined;
  const others = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  return syncFailure({
    reason: first.reason,
    message: `Nothing applied from commit ${shortCommit(commit)}: ${first.message}${others}`,
    ...(first.file !== undefined ? { file: first.file } : {}),
    ...(first.document !== undefined ? { document: first.document } : {}),
    ...(first.line !== undefined ? { line: first.line } : {}),
    ...(first.column !== undefined ? { column: first.column } : {}),
    commit,
  });
}

/** How an API server's answer to a request of the sync is read (status 0 = no answer). */
export type ApiRefusal = 'unavailable' | 'forbidden' | 'refused';

export function classifyApiError(status: number): ApiRefusal {
  if (status === 0 || status === 429 || status >= 500) return 'unavailable';
  if (status === 401 || status === 403) return 'forbidden';
  return 'refused';
}

/** Whether the last attempt failed in a way a retry may fix (the fast retry applies). */
export function lastFailureRetryable(status: GitSyncStatus | undefined): boolean {
  if (!status?.lastError) return false;
  const stalled = status.conditions?.find((c) => c.type === 'Stalled');
  return stalled ? stalled.status !== 'True' : !isPermanentReason(status.lastError.reason);
}
