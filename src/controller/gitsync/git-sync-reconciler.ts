// The GitSync reconcile: check the spec -> decide (pure, src/core/gitops/schedule.ts) -> sync
// (the phases in sync-phases.ts: fetch, parse, validate, dry run, apply, prune) -> status:
// one status patch and its Events. Atomic per commit: if any manifest fails validation or the
// dry run, nothing from the commit is applied and the status names the file, line and column.
// The sync runs as the GitSync's ServiceAccount (impersonation), never as the controller.
//
// Wiring (main.ts): an informer on GitSyncs feeds keys to the work queue; the queue calls
// reconcileGitSyncByKey (or reconcileGitSync with the cached object) and requeues after
// the returned delay. The webhook receiver (src/adapters/http/webhook-server.ts) and `kubectl sluice sync` set the
// sync-requested annotation (requestSync) so a push is a level-based trigger too.
import type { Logger } from 'pino';
import {
  DEFAULT_GITSYNC_SERVICE_ACCOUNT,
  GitSync,
  SYNC_REQUESTED_ANNOTATION,
  type GitSyncSpec,
  type GitSyncStatus,
  type SyncError,
} from '../../api/git-sync.ts';
import { normaliseInventory } from '../../core/gitops/desired.ts';
import { syncFailure, type SyncFailure } from '../../core/gitops/failures.ts';
import { namespaceScope, type GitSyncPolicy } from '../../core/gitops/placement.ts';
import { calculateNextDue, decideSync, firstAllowedTime, scheduleProblems, type SyncTrigger } from '../../core/gitops/schedule.ts';
import { calculateBlockedStatus, calculateFailedStatus, calculateSyncedStatus, calculateWaitingStatus } from '../../core/gitops/status.ts';
import { maskValues } from '../../core/shared/mask.ts';
import { CONFLICT_REQUEUE_MS, FAR_OFF_REQUEUE_MS, INVALID_SPEC_REQUEUE_MS, UNKNOWN_TIME_REQUEUE_MS } from '../../core/shared/requeue.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';
import type { Clock } from '../../ports/clock.ts';
import { DEFAULT_READ_LIMITS, type GitClient, type ReadLimits } from '../../ports/git.ts';
import { KubeError, kinds, serviceAccountUser, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import { EventRecorder, type EventSource, type EventSpec } from '../runtime/events.ts';
import { StatusWriter } from '../runtime/status-writer.ts';
import { applyPhase, dryRunPhase, fetchPhase, parsePhase, prunePhase, SyncAbort, SyncDeadline, validatePhase, type SyncContext } from './sync-phases.ts';

export interface GitSyncDeps {
  /** The controller's own client: GitSyncs, their status and Events. Objects are touched only through its impersonate(). */
  kube: KubeClient;
  git: GitClient;
  clock: Clock;
  logger: Logger;
  /** What GitSyncs may do on this controller (default: own namespace only, no cluster-scoped objects, no file:// URLs). */
  policy?: GitSyncPolicy;
  readLimits?: ReadLimits;
  /** Deadline of one whole sync (default SYNC_DEADLINE_MS). */
  syncDeadlineMs?: number;
  /** Recorded as the Event's reporting instance (e.g. the pod name). */
  instance?: string;
  /** The one status writer and Event recorder (made over `kube` when not given). */
  status?: StatusWriter;
  events?: EventRecorder;
}

export const GIT_SYNC_EVENT_SOURCE: Omit<EventSource, 'instance'> = { component: 'sluice-gitsync', reportingComponent: 'sluice.dev/gitsync' };

/** What the status phase writes with: the shared writer and recorder, and the logger of this reconcile. */
interface Writes {
  status: StatusWriter;
  events: EventRecorder;
  log: Logger;
}

function writesFor(deps: GitSyncDeps, log: Logger): Writes {
  const now = () => deps.clock.now();
  return {
    status: deps.status ?? new StatusWriter(deps.kube, now),
    events: deps.events ?? new EventRecorder(deps.kube, now, { ...GIT_SYNC_EVENT_SOURCE, instance: deps.instance ?? 'sluice' }),
    log,
  };
}

export interface GitSyncResult {
  requeueAfterMs?: number;
}

/** Deadline of one whole sync: fetch, read, every request of the dry run, apply and prune. */
export const SYNC_DEADLINE_MS = 5 * 60_000;
const bounded = (ms: number) => Math.min(FAR_OFF_REQUEUE_MS, ms);

/** Reads the GitSync and reconciles it; a deleted GitSync drops its Git cache. */
export async function reconcileGitSyncByKey(namespace: string, name: string, deps: GitSyncDeps): Promise<GitSyncResult> {
  const obj = await deps.kube.get(kinds.gitSync, namespace, name);
  if (!obj) {
    await deps.git.forget(`${namespace}/${name}`);
    return {};
  }
  return reconcileGitSync(obj, deps);
}

export async function reconcileGitSync(obj: KubeObject, deps: GitSyncDeps): Promise<GitSyncResult> {
  const namespace = obj.metadata?.namespace ?? '';
  // The caller's logger already names the GitSync and the reconcile (namespace, name, reconcileID).
  const log = deps.logger;
  const w = writesFor(deps, log);
  const now = deps.clock.now();
  const previous = (obj as { status?: GitSyncStatus }).status;
  const generation = obj.metadata?.generation;
  const policy = deps.policy ?? {};

  // List items of some API servers and caches carry no apiVersion/kind: the informer's kind is known.
  const parsed = GitSync.safeParse({ ...obj, apiVersion: obj.apiVersion ?? kinds.gitSync.apiVersion, kind: obj.kind ?? kinds.gitSync.kind });
  const specProblems = parsed.success ? validateSpec(parsed.data.spec, namespace, policy) : [formatIssues(parsed.error.issues)];
  if (!parsed.success || specProblems.length > 0) {
    const message = `Invalid GitSync spec: ${specProblems.join('; ')}`;
    const error: SyncError = { reason: 'InvalidSpec', message };
    const status = calculateFailedStatus(previous, {
      error,
      stalled: true,
      now,
      generation,
      inventory: undefined,
      nextSyncAt: undefined,
      handledRequest: undefined,
      hasWindows: false,
      attempted: false,
    });
    log.warn({ problems: specProblems }, 'Invalid GitSync spec');
    if (previous?.lastError?.message !== message) await event(w, obj, { type: 'Warning', reason: 'InvalidSpec', message }, [generation]);
    const written = await w.status.write(kinds.gitSync, obj, status);
    return { requeueAfterMs: written === 'conflict' ? CONFLICT_REQUEUE_MS : INVALID_SPEC_REQUEUE_MS };
  }
  const gitSync = parsed.data;
  const spec = gitSync.spec;
  const hasWindows = (spec.syncWindows ?? []).length > 0;
  const syncRequest = obj.metadata?.annotations?.[SYNC_REQUESTED_ANNOTATION];
  const decision = decideSync({ spec, status: previous, generation, syncRequest, now });

  switch (decision.action) {
    case 'suspended': {
      log.debug('GitSync suspended');
      const written = await w.status.write(kinds.gitSync, obj, calculateWaitingStatus(previous, undefined, hasWindows, now));
      return written === 'conflict' ? { requeueAfterMs: CONFLICT_REQUEUE_MS } : {};
    }
    case 'wait': {
      const written = await w.status.write(kinds.gitSync, obj, calculateWaitingStatus(previous, decision.nextSyncAt, hasWindows, now));
      return { requeueAfterMs: written === 'conflict' ? CONFLICT_REQUEUE_MS : bounded(Math.max(0, decision.dueAt.getTime() - now.getTime())) };
    }
    case 'blocked': {
      const reason = decision.unresolved ? 'SyncWindowUnresolved' : 'SyncWindow';
      const status = calculateBlockedStatus(previous, decision.message, decision.allowedAt, now, reason);
      const wasDenied = previous?.conditions?.some((c) => c.type === 'SyncAllowed' && c.status === 'False');
      log.info({ trigger: decision.trigger, allowedAt: decision.allowedAt?.toISOString(), unresolved: decision.unresolved }, 'Sync denied by a sync window');
      // Once per stretch of denial: the Event is named after when the window started to deny.
      const deniedSince = status.conditions?.find((c) => c.type === 'SyncAllowed')?.lastTransitionTime;
      const type = decision.unresolved ? 'Warning' : 'Normal';
      if (!wasDenied) await event(w, obj, { type, reason: 'SyncWindowDenied', message: decision.message }, [deniedSince]);
      const written = await w.status.write(kinds.gitSync, obj, status);
      if (written === 'conflict') return { requeueAfterMs: CONFLICT_REQUEUE_MS };
      return { requeueAfterMs: decision.allowedAt ? bounded(Math.max(1000, decision.allowedAt.getTime() - now.getTime())) : UNKNOWN_TIME_REQUEUE_MS };
    }
    case 'sync':
      return sync(obj, gitSync, decision.trigger, syncRequest, deps, w);
  }
}

/** Who a GitSync's sync runs as: its spec.serviceAccountName, else the controller's default. */
export function syncServiceAccount(spec: Pick<GitSyncSpec, 'serviceAccountName'>, policy: GitSyncPolicy): string {
  return spec.serviceAccountName ?? policy.defaultServiceAccount ?? DEFAULT_GITSYNC_SERVICE_ACCOUNT;
}

async function sync(
  obj: KubeObject,
  gitSync: GitSync,
  trigger: SyncTrigger,
  syncRequest: string | undefined,
  deps: GitSyncDeps,
  w: Writes,
): Promise<GitSyncResult> {
  const log = w.log;
  const namespace = obj.metadata?.namespace ?? '';
  const spec = gitSync.spec;
  const policy = deps.policy ?? {};
  const serviceAccount = syncServiceAccount(spec, policy);
  const started = deps.clock.now();
  const impersonating = deps.kube.impersonate?.(serviceAccountUser(namespace, serviceAccount));
  const ctx: SyncContext = {
    key: `${namespace}/${obj.metadata?.name ?? ''}`,
    namespace,
    spec,
    previous: gitSync.status,
    kube: impersonating ?? deps.kube,
    identity: `ServiceAccount ${namespace}/${serviceAccount}`,
    git: deps.git,
    policy,
    readLimits: deps.readLimits ?? DEFAULT_READ_LIMITS,
    deadline: new SyncDeadline(deps.clock, deps.syncDeadlineMs ?? SYNC_DEADLINE_MS),
    log,
    secrets: [],
  };
  log.info({ trigger, url: spec.url, serviceAccount }, 'Syncing');
  let commit: string | undefined;
  try {
    // Never with the controller's own rights: a client that cannot impersonate cannot sync.
    if (!impersonating)
      throw new SyncAbort(syncFailure({ reason: 'Forbidden', message: 'This controller cannot impersonate ServiceAccounts; nothing is synced' }));
    commit = await fetchPhase(ctx);
    const manifests = await parsePhase(ctx, commit);
    const prepared = await validatePhase(ctx, manifests, commit);
    await dryRunPhase(ctx, prepared, commit);
    const { applied, changed } = await applyPhase(ctx, prepared, commit);
    const desired = prepared.map((p) => p.d.ref);
    const pruned = await prunePhase(ctx, desired);
    return await statusPhase.synced(obj, gitSync, deps, w, {
      commit,
      desired,
      applied: applied.length,
      changed,
      pruned,
      syncRequest,
      ms: deps.clock.now().getTime() - started.getTime(),
    });
  } catch (err) {
    const failure =
      err instanceof SyncAbort
        ? err.failure
        : syncFailure({ reason: err instanceof KubeError ? 'ApiUnavailable' : 'SyncFailed', message: (err as Error).message, ...(commit ? { commit } : {}) });
    return statusPhase.failed(obj, gitSync, deps, w, failure, ctx.secrets, syncRequest);
  }
}

/** 7. Status: one status patch computed whole, the Event worth recording, and when to come back. */
const statusPhase = {
  async synced(
    obj: KubeObject,
    gitSync: GitSync,
    deps: GitSyncDeps,
    w: Writes,
    o: {
      commit: string;
      desired: GitSyncStatus['inventory'] & object;
      applied: number;
      changed: number;
      pruned: { pruned: number; kept: NonNullable<GitSyncStatus['inventory']>; problems: string[] };
      syncRequest: string | undefined;
      ms: number;
    },
  ): Promise<GitSyncResult> {
    const { spec, status: previous } = gitSync;
    const now = deps.clock.now();
    const nextSyncAt = firstAllowedTime(spec.syncWindows, calculateNextDue(spec, now, false), spec.timeZone);
    const status = calculateSyncedStatus(previous, {
      commit: o.commit,
      now,
      generation: obj.metadata?.generation,
      inventory: normaliseInventory([...o.desired, ...o.pruned.kept]),
      applied: o.applied,
      changed: o.changed,
      pruned: o.pruned.pruned,
      pruneProblems: o.pruned.problems,
      nextSyncAt,
      handledRequest: o.syncRequest,
      hasWindows: (spec.syncWindows ?? []).length > 0,
    });
    w.log.info({ commit: o.commit, applied: o.applied, changed: o.changed, pruned: o.pruned.pruned, ms: o.ms }, 'Synced');
    const newCommit = o.commit !== previous?.lastSyncedCommit;
    if (newCommit || o.changed > 0 || o.pruned.pruned > 0 || previous?.lastError || o.pruned.problems.length) {
      const message = status.conditions?.find((c) => c.type === 'Ready')?.message ?? 'Synced';
      await event(w, obj, { type: o.pruned.problems.length ? 'Warning' : 'Normal', reason: 'Synced', message }, [o.commit, previous?.lastAttemptTime]);
    }
    const written = await w.status.write(kinds.gitSync, obj, status);
    return { requeueAfterMs: written === 'conflict' ? CONFLICT_REQUEUE_MS : requeueFor(nextSyncAt, now) };
  },

  async failed(
    obj: KubeObject,
    gitSync: GitSync,
    deps: GitSyncDeps,
    w: Writes,
    failure: SyncFailure,
    secrets: string[],
    syncRequest: string | undefined,
  ): Promise<GitSyncResult> {
    const { spec, status: previous } = gitSync;
    const error: SyncError = { ...failure.error, message: maskValues(failure.error.message, secrets) };
    const now = deps.clock.now();
    // A permanent failure waits for the normal interval or schedule; a retryable one is retried soon.
    const nextSyncAt = firstAllowedTime(spec.syncWindows, calculateNextDue(spec, now, !failure.permanent), spec.timeZone);
    const inventory = failure.applied.length ? normaliseInventory([...(previous?.inventory ?? []), ...failure.applied]) : undefined;
    const status = calculateFailedStatus(previous, {
      error,
      stalled: failure.permanent,
      now,
      generation: obj.metadata?.generation,
      inventory,
      nextSyncAt,
      handledRequest: syncRequest,
      hasWindows: (spec.syncWindows ?? []).length > 0,
      attempted: true,
    });
    w.log.warn(
      {
        reason: error.reason,
        permanent: failure.permanent,
        commit: error.commit,
        file: error.file,
        line: error.line,
        column: error.column,
        err: error.message,
      },
      'Sync failed',
    );
    // Once per distinct error, not at every retry.
    if (previous?.lastError?.message !== error.message || !previous?.lastError) {
      await event(w, obj, { type: 'Warning', reason: error.reason, message: error.message }, [error.commit, previous?.lastAttemptTime]);
    }
    const written = await w.status.write(kinds.gitSync, obj, status);
    return { requeueAfterMs: written === 'conflict' ? CONFLICT_REQUEUE_MS : requeueFor(nextSyncAt, now) };
  },
};

function requeueFor(next: Date | undefined, now: Date): number {
  return next ? bounded(Math.max(1000, next.getTime() - now.getTime())) : UNKNOWN_TIME_REQUEUE_MS;
}

// ---------------------------------------------------------------------------------------
// Spec checks the CRD schema cannot make

function validateSpec(spec: GitSyncSpec, namespace: string, policy: GitSyncPolicy): string[] {
  const problems = scheduleProblems(spec);
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*@/i.test(spec.url) && !/^ssh:\/\/[^:@/]+@/i.test(spec.url)) {
    problems.push('spec.url holds credentials; remove them and put them in the Secret named by spec.secretRef');
  }
  if (spec.url.startsWith('file://') && !policy.allowFileUrls) problems.push('spec.url: file:// URLs are disabled on this controller');
  (spec.paths ?? []).forEach((p, i) => {
    if (p.startsWith('/') || p.split('/').includes('..')) problems.push(`spec.paths[${i}]: "${p}" must be relative to the repository root, without ".."`);
  });
  const scope = namespaceScope(namespace, spec, policy);
  if ('reason' in scope) problems.push(scope.message);
  return problems;
}

// ---------------------------------------------------------------------------------------
// Events

/** Records an Event about the GitSync once per `transition` (before the status write that commits it). */
async function event(w: Writes, obj: KubeObject, spec: EventSpec, transition: readonly unknown[]): Promise<void> {
  const involved = { ...obj, apiVersion: obj.apiVersion ?? kinds.gitSync.apiVersion, kind: obj.kind ?? kinds.gitSync.kind };
  await w.events.record(involved, spec, [spec.reason, ...transition], w.log);
}

/** Asks for an immediate sync (what `kubectl sluice sync` and the webhook receiver do). */
export async function requestSync(kube: KubeClient, namespace: string, name: string, now: Date): Promise<void> {
  await kube.patch(kinds.gitSync, namespace, name, { metadata: { annotations: { [SYNC_REQUESTED_ANNOTATION]: now.toISOString() } } }, { type: 'merge' });
}
