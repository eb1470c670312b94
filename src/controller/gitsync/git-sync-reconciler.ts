// The GitSync reconcile: decide (pure, src/core/gitops/schedule.ts) -> fetch -> read ->
// validate ALL (schema, policy, then a server-side dry-run apply of each object) -> apply
// ALL (server-side apply, field manager sluice-gitsync) -> prune -> one status patch and
// Events. Atomic per commit: if any manifest fails validation or dry-run, nothing from the
// commit is applied and the status names the file, the document and the reason.
//
// Wiring (main.ts): an informer on GitSyncs feeds keys to the work queue; the queue calls
// reconcileGitSyncByKey (or reconcileGitSync with the cached object) and requeues after
// the returned delay. The webhook receiver (src/adapters/http/webhook-server.ts) and `kubectl sluice sync` set the
// sync-requested annotation (requestSync) so a push is a level-based trigger too.
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { durationToMs } from '../../api/duration.ts';
import { stableStringify } from '../../core/shared/hash.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';
import {
  DEFAULT_TIMEOUT,
  GIT_SYNC_FIELD_MANAGER,
  GitSync,
  SYNC_REQUESTED_ANNOTATION,
  type GitSyncSpec,
  type GitSyncStatus,
  type InventoryEntry,
  type SyncError,
} from '../../api/git-sync.ts';
import {
  applyOrder,
  autoscaledRollouts,
  calculatePrune,
  describeRef,
  isManifestPath,
  isOwnedBy,
  managedByOther,
  namespaceScope,
  normaliseInventory,
  parseManifests,
  placeManifests,
  prepareForApply,
  refKey,
  validateManifest,
  type DesiredObject,
  type GitSyncPolicy,
  type KindInfo,
  type ManifestProblem,
} from '../../core/gitops/manifests.ts';
import {
  calculateBlockedStatus,
  calculateFailedStatus,
  calculateSyncedStatus,
  calculateWaitingStatus,
  shortCommit,
  statusMergePatch,
} from '../../core/gitops/status.ts';
import { calculateNextDue, decideSync, firstAllowedTime, scheduleProblems, type SyncTrigger } from '../../core/gitops/schedule.ts';
import type { Clock } from '../../ports/clock.ts';
import { DEFAULT_READ_LIMITS, GitError, isPermanentGitError, type GitAuth, type GitClient, type ReadLimits } from '../../ports/git.ts';
import { KubeError, isNotFound, kinds, type KubeClient, type KubeObject, type ResourceKind } from '../../ports/kube.ts';

export interface GitSyncDeps {
  kube: KubeClient;
  git: GitClient;
  clock: Clock;
  logger: Logger;
  /** What GitSyncs may do on this controller (default: own namespace only, no cluster-scoped objects, no file:// URLs). */
  policy?: GitSyncPolicy;
  readLimits?: ReadLimits;
  /** Recorded as the Event's reporting instance (e.g. the pod name). */
  instance?: string;
}

export interface GitSyncResult {
  requeueAfterMs?: number;
}

/** Requeue for a GitSync whose spec is invalid (a spec change triggers a reconcile anyway). */
export const INVALID_SPEC_REQUEUE_MS = 10 * 60_000;
const HPA_KIND: ResourceKind = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true };

/** A sync failure with a reason for the status; `stalled` when retrying cannot help. */
class SyncFailure extends Error {
  readonly error: SyncError;
  readonly stalled: boolean;
  readonly applied: InventoryEntry[];
  constructor(error: SyncError, stalled: boolean, applied: InventoryEntry[] = []) {
    super(error.message);
    this.error = error;
    this.stalled = stalled;
    this.applied = applied;
  }
}

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
    await writeStatus(deps, obj, previous, status, log);
    if (previous?.lastError?.message !== message) await recordEvent(deps, obj, 'Warning', 'InvalidSpec', message, log);
    return { requeueAfterMs: INVALID_SPEC_REQUEUE_MS };
  }
  const gitSync = parsed.data;
  const spec = gitSync.spec;
  const hasWindows = (spec.syncWindows ?? []).length > 0;
  const syncRequest = obj.metadata?.annotations?.[SYNC_REQUESTED_ANNOTATION];
  const decision = decideSync({ spec, status: previous, generation, syncRequest, now });

  switch (decision.action) {
    case 'suspended': {
      log.debug('GitSync suspended');
      const status = calculateWaitingStatus(previous, undefined, hasWindows, now);
      await writeStatus(deps, obj, previous, status, log);
      return {};
    }
    case 'wait': {
      await writeStatus(deps, obj, previous, calculateWaitingStatus(previous, decision.nextSyncAt, hasWindows, now), log);
      return { requeueAfterMs: Math.max(0, decision.dueAt.getTime() - now.getTime()) };
    }
    case 'blocked': {
      const status = calculateBlockedStatus(previous, decision.message, decision.allowedAt, now);
      const wasAllowed = !previous?.conditions?.some((c) => c.type === 'SyncAllowed' && c.status === 'False');
      log.info({ trigger: decision.trigger, allowedAt: decision.allowedAt?.toISOString() }, 'Sync denied by a sync window');
      await writeStatus(deps, obj, previous, status, log);
      if (wasAllowed) await recordEvent(deps, obj, 'Normal', 'SyncWindowDenied', decision.message, log);
      return { requeueAfterMs: decision.allowedAt ? Math.max(1000, decision.allowedAt.getTime() - now.getTime()) : 3_600_000 };
    }
    case 'sync':
      return sync(obj, gitSync, decision.trigger, syncRequest, deps, log);
  }
}

async function sync(
  obj: KubeObject,
  gitSync: GitSync,
  trigger: SyncTrigger,
  syncRequest: string | undefined,
  deps: GitSyncDeps,
  log: Logger,
): Promise<GitSyncResult> {
  const { kube, git, clock } = deps;
  const namespace = obj.metadata?.namespace ?? '';
  const key = `${namespace}/${obj.metadata?.name ?? ''}`;
  const spec = gitSync.spec;
  const previous = gitSync.status;
  const generation = obj.metadata?.generation;
  const hasWindows = (spec.syncWindows ?? []).length > 0;
  const timeoutMs = durationToMs(spec.timeout ?? DEFAULT_TIMEOUT);
  const started = clock.now();
  let commit: string | undefined;
  let secrets: string[] = [];
  log.info({ trigger, url: spec.url }, 'Syncing');
  try {
    const auth = await readAuth(kube, namespace, spec);
    secrets = secretValues(auth);
    let fetched;
    try {
      fetched = await git.fetch({ key, url: spec.url, ref: spec.ref ?? {}, auth, timeoutMs });
    } catch (err) {
      throw gitFailure(err, undefined, 'FetchFailed');
    }
    commit = fetched.commit;
    let files;
    try {
      files = await git.readFiles({ key, commit, paths: spec.paths ?? [], include: isManifestPath, limits: deps.readLimits ?? DEFAULT_READ_LIMITS, timeoutMs });
    } catch (err) {
      throw gitFailure(err, commit, 'ReadFailed');
    }

    // 1. Parse and validate every manifest (schema).
    const { manifests, problems } = parseManifests(files);
    problems.push(...manifests.flatMap(validateManifest));
    failOn(problems, commit);
    if (manifests.length === 0) {
      throw new SyncFailure(
        {
          reason: 'NoManifests',
          message: `No manifests (*.yaml, *.yml, *.json) under ${(spec.paths ?? ['/']).join(', ')} at commit ${shortCommit(commit)}; nothing applied, nothing pruned`,
          commit,
        },
        true,
      );
    }

    // 2. Resolve kinds, place namespaces, check the policy.
    const scope = namespaceScope(namespace, spec, deps.policy ?? {});
    if ('reason' in scope) throw new SyncFailure({ ...scope, commit }, true);
    const resolved = new Map<string, KindInfo | undefined>();
    for (const m of manifests) {
      const k = `${m.object.apiVersion} ${m.object.kind}`;
      if (!resolved.has(k)) resolved.set(k, await kube.resolveKind(m.object.apiVersion, m.object.kind));
    }
    const placed = placeManifests(manifests, (apiVersion, kind) => resolved.get(`${apiVersion} ${kind}`), scope);
    failOn(placed.problems, commit);

    // 3. Live state: who manages each object, which Rollouts are autoscaled.
    const live = new Map<string, KubeObject | undefined>();
    const ownership: ManifestProblem[] = [];
    for (const d of placed.objects) {
      const current = await kube.get(d.resource as ResourceKind, d.ref.namespace, d.ref.name);
      live.set(refKey(d.ref), current);
      const other = managedByOther(current, key);
      if (other) {
        ownership.push({
          reason: 'ManagedByOtherGitSync',
          message: `${where(d)}: ${describeRef(d.ref)} is managed by GitSync ${other}; an object can be managed by one GitSync only`,
          ...d.source,
        });
      }
    }
    failOn(ownership, commit);
    const autoscaled = await findAutoscaled(kube, placed.objects);
    const prepared = applyOrder(placed.objects).map((d) => ({
      d,
      body: prepareForApply(d, { commit: commit as string, gitSync: key, autoscaled, live: live.get(refKey(d.ref)) }),
    }));

    // 4. Server-side dry run of every object: the API server's own validation, admission included.
    const dryRunProblems: ManifestProblem[] = [];
    for (const { d, body } of prepared) {
      try {
        await kube.patch(d.resource as ResourceKind, d.ref.namespace, d.ref.name, body, {
          type: 'apply',
          fieldManager: GIT_SYNC_FIELD_MANAGER,
          force: true,
          dryRun: true,
        });
      } catch (err) {
        if (!(err instanceof KubeError) || err.status === 0 || err.status >= 500)
          throw new SyncFailure({ reason: 'ApiUnavailable', message: `Dry run of ${describeRef(d.ref)} failed: ${(err as Error).message}`, commit }, false);
        dryRunProblems.push({ reason: 'DryRunFailed', message: `${where(d)}: the API server rejects ${describeRef(d.ref)}: ${err.message}`, ...d.source });
      }
    }
    failOn(dryRunProblems, commit);

    // 5. Apply everything.
    const applied: InventoryEntry[] = [];
    let changed = 0;
    for (const { d, body } of prepared) {
      try {
        const result = await kube.patch(d.resource as ResourceKind, d.ref.namespace, d.ref.name, body, {
          type: 'apply',
          fieldManager: GIT_SYNC_FIELD_MANAGER,
          force: true,
        });
        applied.push(d.ref);
        if (contentChanged(live.get(refKey(d.ref)), result)) changed++;
      } catch (err) {
        throw new SyncFailure(
          {
            reason: 'ApplyFailed',
            message: `Applying ${describeRef(d.ref)} (${d.source.file}) failed after ${applied.length} of ${prepared.length} objects: ${(err as Error).message}; the next sync retries`,
            file: d.source.file,
            document: d.source.document,
            line: d.source.line,
            commit,
          },
          false,
          applied,
        );
      }
    }

    // 6. Prune what left Git (only objects that still carry this GitSync's stamp).
    const desiredRefs = placed.objects.map((d) => d.ref);
    const kept: InventoryEntry[] = [];
    const pruneProblems: string[] = [];
    let pruned = 0;
    if (spec.prune) {
      for (const ref of calculatePrune(previous?.inventory ?? [], desiredRefs)) {
        const outcome = await pruneOne(kube, ref, key, log);
        if (outcome === 'deleted') pruned++;
        else if (outcome !== 'gone') {
          kept.push(ref);
          pruneProblems.push(`${describeRef(ref)}: ${outcome}`);
        }
      }
    }

    const now = clock.now();
    const nextSyncAt = firstAllowedTime(spec.syncWindows, calculateNextDue(spec, now, false), spec.timeZone);
    const status = calculateSyncedStatus(previous, {
      commit,
      now,
      generation,
      inventory: normaliseInventory([...desiredRefs, ...kept]),
      applied: applied.length,
      changed,
      pruned,
      pruneProblems,
      nextSyncAt,
      handledRequest: syncRequest,
      hasWindows,
    });
    log.info({ commit, applied: applied.length, changed, pruned, ms: now.getTime() - started.getTime() }, 'Synced');
    await writeStatus(deps, obj, previous, status, log);
    const newCommit = commit !== previous?.lastSyncedCommit;
    if (newCommit || changed > 0 || pruned > 0 || previous?.lastError || pruneProblems.length) {
      const message = status.conditions?.find((c) => c.type === 'Ready')?.message ?? 'Synced';
      await recordEvent(deps, obj, pruneProblems.length ? 'Warning' : 'Normal', 'Synced', message, log);
    }
    return { requeueAfterMs: requeueFor(nextSyncAt, now) };
  } catch (err) {
    const failure =
      err instanceof SyncFailure
        ? err
        : new SyncFailure(
            { reason: err instanceof KubeError ? 'ApiUnavailable' : 'SyncFailed', message: (err as Error).message, ...(commit ? { commit } : {}) },
            false,
          );
    const error: SyncError = { ...failure.error, message: redactAll(failure.error.message, secrets) };
    const now = clock.now();
    const nextSyncAt = firstAllowedTime(spec.syncWindows, calculateNextDue(spec, now, true), spec.timeZone);
    const inventory = failure.applied.length ? normaliseInventory([...(previous?.inventory ?? []), ...failure.applied]) : undefined;
    const status = calculateFailedStatus(previous, {
      error,
      stalled: failure.stalled,
      now,
      generation,
      inventory,
      nextSyncAt,
      handledRequest: syncRequest,
      hasWindows,
      attempted: true,
    });
    log.warn({ reason: error.reason, commit, file: error.file, document: error.document, err: error.message }, 'Sync failed');
    await writeStatus(deps, obj, previous, status, log);
    if (previous?.lastError?.message !== error.message || !previous?.lastError) await recordEvent(deps, obj, 'Warning', error.reason, error.message, log);
    return { requeueAfterMs: requeueFor(nextSyncAt, now) };
  }
}

function requeueFor(next: Date | undefined, now: Date): number {
  return next ? Math.max(1000, next.getTime() - now.getTime()) : 3_600_000;
}

function where(d: DesiredObject): string {
  return `${d.source.file}: document ${d.source.document} (line ${d.source.line})`;
}

/** Throws the first problem (with a count of the others) as a stalled failure. */
function failOn(problems: ManifestProblem[], commit: string): void {
  const [first] = problems;
  if (!first) return;
  const others = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
  throw new SyncFailure(
    {
      reason: first.reason,
      message: `Nothing applied from commit ${shortCommit(commit)}: ${first.message}${others}`,
      ...(first.file !== undefined ? { file: first.file } : {}),
      ...(first.document !== undefined ? { document: first.document } : {}),
      ...(first.line !== undefined ? { line: first.line } : {}),
      commit,
    },
    true,
  );
}

function gitFailure(err: unknown, commit: string | undefined, fallbackReason: string): SyncFailure {
  if (err instanceof GitError) {
    return new SyncFailure(
      { reason: err.reason, message: err.message, ...(err.path ? { file: err.path } : {}), ...(commit ? { commit } : {}) },
      isPermanentGitError(err),
    );
  }
  return new SyncFailure({ reason: fallbackReason, message: (err as Error).message, ...(commit ? { commit } : {}) }, false);
}

async function pruneOne(kube: KubeClient, ref: InventoryEntry, gitSyncKey: string, log: Logger): Promise<'deleted' | 'gone' | string> {
  const resource = await kube.resolveKind(ref.apiVersion, ref.kind);
  if (!resource) {
    log.info({ object: describeRef(ref) }, 'Dropping inventory entry of a kind the cluster no longer serves');
    return 'gone';
  }
  const live = await kube.get(resource, ref.namespace, ref.name);
  if (!live) return 'gone';
  if (!isOwnedBy(live, gitSyncKey)) {
    log.info({ object: describeRef(ref) }, 'Not pruning an object that no longer carries this GitSync stamp');
    return 'gone';
  }
  try {
    await kube.delete(resource, ref.namespace, ref.name, { propagationPolicy: 'Background' });
    log.info({ object: describeRef(ref) }, 'Pruned');
    return 'deleted';
  } catch (err) {
    if (isNotFound(err)) return 'gone';
    return (err as Error).message;
  }
}

async function findAutoscaled(kube: KubeClient, objects: DesiredObject[]): Promise<Set<string>> {
  const rolloutNamespaces = [...new Set(objects.filter((d) => d.ref.kind === 'Rollout').map((d) => d.ref.namespace ?? ''))];
  const hpas: unknown[] = objects.filter((d) => d.ref.kind === 'HorizontalPodAutoscaler').map((d) => d.object);
  if (rolloutNamespaces.length === 0) return new Set();
  const hpaKind = (await kube.resolveKind(HPA_KIND.apiVersion, HPA_KIND.kind)) ?? undefined;
  if (hpaKind) for (const ns of rolloutNamespaces) hpas.push(...(await kube.list(hpaKind, ns)));
  return autoscaledRollouts(hpas);
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
// Credentials

const SecretData = z.looseObject({
  data: z.record(z.string(), z.string()).optional(),
  stringData: z.record(z.string(), z.string()).optional(),
});

/** Reads credentials from the Secret named by spec.secretRef (keys as Flux: username, password, bearerToken, identity, known_hosts). */
export async function readAuth(kube: KubeClient, namespace: string, spec: Pick<GitSyncSpec, 'secretRef'>): Promise<GitAuth> {
  if (!spec.secretRef) return { kind: 'none' };
  const name = spec.secretRef.name;
  const secret = await kube.get(kinds.secret, namespace, name);
  if (!secret) throw new SyncFailure({ reason: 'SecretNotFound', message: `Secret ${namespace}/${name} (spec.secretRef) not found` }, true);
  const parsed = SecretData.safeParse(secret);
  if (!parsed.success) throw new SyncFailure({ reason: 'InvalidSecret', message: `Secret ${namespace}/${name} is not a valid Secret` }, true);
  const values: Record<string, string> = { ...(parsed.data.stringData ?? {}) };
  for (const [k, v] of Object.entries(parsed.data.data ?? {})) values[k] = Buffer.from(v, 'base64').toString('utf8');
  if (values.identity) return { kind: 'ssh', privateKey: values.identity, knownHosts: values.known_hosts ?? '' };
  if (values.bearerToken) return { kind: 'bearer', token: values.bearerToken.trim() };
  if (values.password) return { kind: 'basic', username: values.username || 'git', password: values.password };
  throw new SyncFailure(
    {
      reason: 'InvalidSecret',
      message: `Secret ${namespace}/${name} has none of the keys password (with username), bearerToken, or identity (with known_hosts)`,
    },
    true,
  );
}

function secretValues(auth: GitAuth): string[] {
  switch (auth.kind) {
    case 'basic':
      return [auth.password];
    case 'bearer':
      return [auth.token];
    case 'ssh':
      return [auth.privateKey, ...auth.privateKey.split('\n').filter((l) => l.length >= 16)];
    default:
      return [];
  }
}

function redactAll(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('***');
  return out;
}

// ---------------------------------------------------------------------------------------
// Writes: one status patch, Events

async function writeStatus(deps: GitSyncDeps, obj: KubeObject, previous: GitSyncStatus | undefined, next: GitSyncStatus, log: Logger): Promise<void> {
  const patch = statusMergePatch(previous, next);
  if (!patch) return;
  try {
    await deps.kube.patch(kinds.gitSync, obj.metadata?.namespace, obj.metadata?.name ?? '', { status: patch }, { type: 'merge', subresource: 'status' });
  } catch (err) {
    if (isNotFound(err)) {
      log.info('GitSync deleted during the sync; status not written');
      return;
    }
    throw err;
  }
}

/** Records a v1 Event about the GitSync; a failure to record is logged, never fatal. */
export async function recordEvent(
  deps: Pick<GitSyncDeps, 'kube' | 'clock' | 'instance'>,
  obj: KubeObject,
  type: 'Normal' | 'Warning',
  reason: string,
  message: string,
  log?: Logger,
): Promise<void> {
  const now = deps.clock.now().toISOString();
  const namespace = obj.metadata?.namespace ?? 'default';
  const name = obj.metadata?.name ?? '';
  const event: KubeObject = {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: `${name}.${Date.parse(now).toString(16)}${randomUUID().slice(0, 6)}`, namespace },
    involvedObject: {
      apiVersion: obj.apiVersion ?? kinds.gitSync.apiVersion,
      kind: 'GitSync',
      name,
      namespace,
      uid: obj.metadata?.uid,
      resourceVersion: obj.metadata?.resourceVersion,
    },
    reason,
    message: message.length > 1000 ? `${message.slice(0, 999)}…` : message,
    type,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
    source: { component: 'sluice-gitsync' },
    reportingComponent: 'sluice.dev/gitsync',
    reportingInstance: deps.instance ?? 'sluice',
  };
  try {
    await deps.kube.create(kinds.event, event);
  } catch (err) {
    log?.warn({ err: (err as Error).message, reason }, 'Cannot record Event');
  }
}

/** Asks for an immediate sync (what `kubectl sluice sync` and the webhook receiver do). */
export async function requestSync(kube: KubeClient, namespace: string, name: string, now: Date): Promise<void> {
  await kube.patch(kinds.gitSync, namespace, name, { metadata: { annotations: { [SYNC_REQUESTED_ANNOTATION]: now.toISOString() } } }, { type: 'merge' });
}

/**
 * Whether an apply changed what the object says. Field-ownership bookkeeping (managedFields,
 * hence resourceVersion) can change without that, e.g. when Git comes to co-own a Service
 * selector the rollout controller has just set; that is not a change worth reporting.
 */
function contentChanged(before: KubeObject | undefined, after: KubeObject): boolean {
  if (!before) return true;
  const content = (o: KubeObject) => {
    const { metadata, status: _status, ...rest } = o as KubeObject & { status?: unknown };
    return stableStringify({ ...rest, labels: metadata?.labels, annotations: metadata?.annotations });
  };
  return content(before) !== content(after);
}
