// One GitSync sync, one small function per phase:
//   fetch -> parse (YAML and schemas, all that needs no cluster) -> validate (against the
//   cluster: kinds, namespaces, ownership) -> dry run -> apply -> prune
// (the status phase, one status patch and its Events, is in git-sync-reconciler.ts).
// Each phase returns what the next one needs or throws a SyncAbort carrying a SyncFailure:
// what the status says, and whether it is permanent, which src/core/gitops/failures.ts decides.
// Atomic per commit: nothing is applied before every object has passed the dry run.
//
// Every request about objects (and the read of the credentials Secret) goes through
// `ctx.kube`, a client that impersonates the GitSync's ServiceAccount. The sync as a whole
// has a deadline: each git call gets at most what is left of it, and no request starts after it.
import type { Logger } from 'pino';
import { durationToMs } from '../../api/duration.ts';
import { DEFAULT_TIMEOUT, GIT_SYNC_FIELD_MANAGER, type GitSyncSpec, type GitSyncStatus, type InventoryEntry } from '../../api/git-sync.ts';
import { readLive } from './live-objects.ts';
import {
  applyOrder,
  autoscaledRollouts,
  calculatePrune,
  isNoopApply,
  isOwnedBy,
  managedByOther,
  prepareForApply,
  stampAppliedHash,
} from '../../core/gitops/desired.ts';
import { classifyApiError, manifestFailure, syncFailure, type SyncFailure } from '../../core/gitops/failures.ts';
import {
  apiErrorField,
  isManifestPath,
  lintManifests,
  positionOf,
  problemAt,
  type Manifest,
  type ManifestObject,
  type ManifestProblem,
} from '../../core/gitops/manifests.ts';
import { describeRef, namespaceScope, placeManifests, refKey, type DesiredObject, type GitSyncPolicy, type KindInfo } from '../../core/gitops/placement.ts';
import { shortCommit } from '../../core/gitops/status.ts';
import { stableStringify } from '../../core/shared/hash.ts';
import type { Clock } from '../../ports/clock.ts';
import { GitError, type GitClient, type ReadLimits } from '../../ports/git.ts';
import { KubeError, isNotFound, type KubeClient, type KubeObject, type ResourceKind } from '../../ports/kube.ts';
import { readAuth, secretValues } from './credentials.ts';

const HPA_KIND: ResourceKind = { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler', plural: 'horizontalpodautoscalers', namespaced: true };

/** A phase's way out: the failure the status reports. */
export class SyncAbort extends Error {
  readonly failure: SyncFailure;
  constructor(failure: SyncFailure) {
    super(failure.error.message);
    this.name = 'SyncAbort';
    this.failure = failure;
  }
}

/** The deadline of one whole sync (on the injected clock). */
export class SyncDeadline {
  private readonly clock: Clock;
  private readonly endsAt: number;
  readonly totalMs: number;
  constructor(clock: Clock, totalMs: number) {
    this.clock = clock;
    this.totalMs = totalMs;
    this.endsAt = clock.now().getTime() + totalMs;
  }
  remainingMs(): number {
    return this.endsAt - this.clock.now().getTime();
  }
  /** At most `perCallMs`, and no more than what is left (at least 1 ms). */
  timeoutFor(perCallMs: number): number {
    return Math.max(1, Math.min(perCallMs, this.remainingMs()));
  }
  /** Throws a (retryable) SyncTimeout once the deadline has passed. */
  check(before: string, commit?: string, applied: InventoryEntry[] = []): void {
    if (this.remainingMs() > 0) return;
    throw new SyncAbort(
      syncFailure(
        {
          reason: 'SyncTimeout',
          message: `The sync took longer than its deadline of ${Math.round(this.totalMs / 1000)}s (stopped before ${before}); the next sync retries`,
          ...(commit ? { commit } : {}),
        },
        applied,
      ),
    );
  }
}

export interface SyncContext {
  /** `<namespace>/<name>` of the GitSync. */
  key: string;
  namespace: string;
  spec: GitSyncSpec;
  previous: GitSyncStatus | undefined;
  /** Impersonates the GitSync's ServiceAccount. */
  kube: KubeClient;
  /** Who the sync runs as, for messages: "ServiceAccount team/sluice-gitsync". */
  identity: string;
  git: GitClient;
  policy: GitSyncPolicy;
  readLimits: ReadLimits;
  deadline: SyncDeadline;
  log: Logger;
  /** Credential values met so far: masked in every message the sync reports. */
  secrets: string[];
}

/** An object ready to apply. */
export interface PreparedObject {
  d: DesiredObject;
  body: ManifestObject;
  live: KubeObject | undefined;
  /** Applying it would change nothing (isNoopApply): no dry run, no apply. */
  unchanged: boolean;
}

/** A request about objects: deadline first; no answer or a forbidden one ends the sync (as the core classifies it). */
async function kubeCall<T>(ctx: SyncContext, what: string, fn: () => Promise<T>, commit?: string, applied: InventoryEntry[] = []): Promise<T> {
  ctx.deadline.check(what, commit, applied);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KubeError && classifyApiError(err.status) === 'forbidden') throw forbidden(ctx, what, err, commit, applied);
    if (err instanceof KubeError && classifyApiError(err.status) === 'unavailable') {
      throw new SyncAbort(syncFailure({ reason: 'ApiUnavailable', message: `Cannot ${what}: ${err.message}`, ...(commit ? { commit } : {}) }, applied));
    }
    throw err;
  }
}

function forbidden(ctx: SyncContext, what: string, err: KubeError, commit: string | undefined, applied: InventoryEntry[] = []): SyncAbort {
  return new SyncAbort(
    syncFailure(
      {
        reason: 'Forbidden',
        message:
          `The sync runs as ${ctx.identity}, which may not ${what}: ${err.message} (grant it with a Role and ` + `RoleBinding, or set spec.serviceAccountName)`,
        ...(commit ? { commit } : {}),
      },
      applied,
    ),
  );
}

const gitTimeout = (spec: GitSyncSpec) => durationToMs(spec.timeout ?? DEFAULT_TIMEOUT);

function gitAbort(err: unknown, commit: string | undefined, fallbackReason: string): SyncAbort {
  if (err instanceof SyncAbort) return err;
  const at = commit ? { commit } : {};
  if (err instanceof GitError) return new SyncAbort(syncFailure({ reason: err.reason, message: err.message, ...(err.path ? { file: err.path } : {}), ...at }));
  return new SyncAbort(syncFailure({ reason: fallbackReason, message: (err as Error).message, ...at }));
}

function abortOn(problems: ReadonlyArray<ManifestProblem>, commit: string): void {
  const failure = manifestFailure(problems, commit);
  if (failure) throw new SyncAbort(failure);
}

/** 1. Fetch: the credentials (as the ServiceAccount), then the ref, resolved to a commit. */
export async function fetchPhase(ctx: SyncContext): Promise<string> {
  const result = await kubeCall(ctx, `get the Secret ${ctx.spec.secretRef?.name ?? ''} (spec.secretRef)`, () => readAuth(ctx.kube, ctx.namespace, ctx.spec));
  if ('failure' in result) throw new SyncAbort(result.failure);
  ctx.secrets.push(...secretValues(result.auth));
  ctx.deadline.check('fetching');
  try {
    const fetched = await ctx.git.fetch({
      key: ctx.key,
      url: ctx.spec.url,
      ref: ctx.spec.ref ?? {},
      auth: result.auth,
      timeoutMs: ctx.deadline.timeoutFor(gitTimeout(ctx.spec)),
      maxBytes: ctx.readLimits.maxRepositoryBytes,
    });
    return fetched.commit;
  } catch (err) {
    throw gitAbort(err, undefined, 'FetchFailed');
  }
}

/** 2. Parse: read the manifests at the commit; YAML and schemas, every problem at its line and column. */
export async function parsePhase(ctx: SyncContext, commit: string): Promise<Manifest[]> {
  ctx.deadline.check('reading the manifests', commit);
  let files;
  try {
    files = await ctx.git.readFiles({
      key: ctx.key,
      commit,
      paths: ctx.spec.paths ?? [],
      include: isManifestPath,
      limits: ctx.readLimits,
      timeoutMs: ctx.deadline.timeoutFor(gitTimeout(ctx.spec)),
    });
  } catch (err) {
    throw gitAbort(err, commit, 'ReadFailed');
  }
  const { manifests, problems } = lintManifests(files);
  abortOn(problems, commit);
  if (manifests.length === 0) {
    const where = (ctx.spec.paths ?? ['/']).join(', ');
    throw new SyncAbort(
      syncFailure({
        reason: 'NoManifests',
        message: `No manifests (*.yaml, *.yml, *.json) under ${where} at commit ${shortCommit(commit)}; nothing applied, nothing pruned`,
        commit,
      }),
    );
  }
  return manifests;
}

/** 3. Validate against the cluster: kinds served, namespaces allowed, no object twice or owned by another GitSync; then the bodies to apply. */
export async function validatePhase(ctx: SyncContext, manifests: Manifest[], commit: string): Promise<PreparedObject[]> {
  const scope = namespaceScope(ctx.namespace, ctx.spec, ctx.policy);
  if ('reason' in scope) throw new SyncAbort(syncFailure({ ...scope, commit }));
  const resolved = new Map<string, KindInfo | undefined>();
  for (const m of manifests) {
    const k = `${m.object.apiVersion} ${m.object.kind}`;
    if (!resolved.has(k)) resolved.set(k, await kubeCall(ctx, `discover ${k}`, () => ctx.kube.resolveKind(m.object.apiVersion, m.object.kind), commit));
  }
  const placed = placeManifests(manifests, (apiVersion, kind) => resolved.get(`${apiVersion} ${kind}`), scope);
  abortOn(placed.problems, commit);
  const live = await readLive(ctx, placed.objects, (what, fn) => kubeCall(ctx, what, fn, commit));
  const ownership: ManifestProblem[] = [];
  for (const d of placed.objects) {
    const current = live.get(refKey(d.ref));
    const other = managedByOther(current, ctx.key);
    if (other) {
      ownership.push(
        problemAt(
          'ManagedByOtherGitSync',
          positionOf(d, ['metadata', 'name']),
          undefined,
          `${describeRef(d.ref)} is managed by GitSync ${other}; an object can be managed by one GitSync only`,
        ),
      );
    }
  }
  abortOn(ownership, commit);
  const autoscaled = await findAutoscaled(ctx, placed.objects, commit);
  return applyOrder(placed.objects).map((d) => {
    const current = live.get(refKey(d.ref));
    const body = stampAppliedHash(prepareForApply(d, { commit, gitSync: ctx.key, autoscaled, live: current }));
    return { d, live: current, body, unchanged: isNoopApply(body, current) };
  });
}

async function findAutoscaled(ctx: SyncContext, objects: DesiredObject[], commit: string): Promise<Set<string>> {
  const rolloutNamespaces = [...new Set(objects.filter((d) => d.ref.kind === 'Rollout').map((d) => d.ref.namespace ?? ''))];
  const hpas: unknown[] = objects.filter((d) => d.ref.kind === 'HorizontalPodAutoscaler').map((d) => d.object);
  if (rolloutNamespaces.length === 0) return new Set();
  const hpaKind = await kubeCall(ctx, 'discover HorizontalPodAutoscalers', () => ctx.kube.resolveKind(HPA_KIND.apiVersion, HPA_KIND.kind), commit);
  if (hpaKind)
    for (const ns of rolloutNamespaces) hpas.push(...(await kubeCall(ctx, `list HorizontalPodAutoscalers in ${ns}`, () => ctx.kube.list(hpaKind, ns), commit)));
  return autoscaledRollouts(hpas);
}

const applyOptions = { type: 'apply', fieldManager: GIT_SYNC_FIELD_MANAGER, force: true } as const;

/** 4. Dry run of every object: the API server's own validation, admission included; a refusal points at the field it names. */
export async function dryRunPhase(ctx: SyncContext, prepared: PreparedObject[], commit: string): Promise<void> {
  const problems: ManifestProblem[] = [];
  for (const { d, body, unchanged } of prepared) {
    if (unchanged) continue;
    const what = `apply ${describeRef(d.ref)}`;
    try {
      await kubeCall(ctx, what, () => ctx.kube.patch(d.resource as ResourceKind, d.ref.namespace, d.ref.name, body, { ...applyOptions, dryRun: true }), commit);
    } catch (err) {
      if (!(err instanceof KubeError)) throw err;
      problems.push(
        problemAt('DryRunFailed', positionOf(d, apiErrorField(err.message) ?? []), undefined, `the API server rejects ${describeRef(d.ref)}: ${err.message}`),
      );
    }
  }
  abortOn(problems, commit);
}

/** 5. Apply every object (server-side apply, field manager sluice-gitsync, force). */
export async function applyPhase(ctx: SyncContext, prepared: PreparedObject[], commit: string): Promise<{ applied: InventoryEntry[]; changed: number }> {
  const applied: InventoryEntry[] = [];
  let changed = 0;
  for (const { d, body, live, unchanged } of prepared) {
    if (unchanged) {
      applied.push(d.ref);
      continue;
    }
    try {
      const result = await kubeCall(
        ctx,
        `apply ${describeRef(d.ref)}`,
        () => ctx.kube.patch(d.resource as ResourceKind, d.ref.namespace, d.ref.name, body, applyOptions),
        commit,
        applied,
      );
      applied.push(d.ref);
      if (contentChanged(live, result)) changed++;
    } catch (err) {
      if (err instanceof SyncAbort && err.failure.error.reason !== 'ApiUnavailable') throw err;
      throw new SyncAbort(
        syncFailure(
          {
            reason: 'ApplyFailed',
            message:
              `Applying ${describeRef(d.ref)} (${d.source.file}) failed after ${applied.length} of ` +
              `${prepared.length} objects: ${(err as Error).message}; the next sync retries`,
            file: d.source.file,
            document: d.source.document,
            line: d.source.line,
            column: d.source.column,
            commit,
          },
          applied,
        ),
      );
    }
  }
  return { applied, changed };
}

/** 6. Prune what left Git: inventory entries not in this commit that still carry this GitSync's stamp. */
export async function prunePhase(ctx: SyncContext, desired: InventoryEntry[]): Promise<{ pruned: number; kept: InventoryEntry[]; problems: string[] }> {
  const kept: InventoryEntry[] = [];
  const problems: string[] = [];
  let pruned = 0;
  if (!ctx.spec.prune) return { pruned, kept, problems };
  for (const ref of calculatePrune(ctx.previous?.inventory ?? [], desired)) {
    const outcome = ctx.deadline.remainingMs() > 0 ? await pruneOne(ctx, ref) : "not tried: the sync's deadline passed";
    if (outcome === 'deleted') pruned++;
    else if (outcome !== 'gone') {
      kept.push(ref);
      problems.push(`${describeRef(ref)}: ${outcome}`);
    }
  }
  return { pruned, kept, problems };
}

async function pruneOne(ctx: SyncContext, ref: InventoryEntry): Promise<'deleted' | 'gone' | string> {
  try {
    const resource = await ctx.kube.resolveKind(ref.apiVersion, ref.kind);
    if (!resource) {
      ctx.log.info({ object: describeRef(ref) }, 'Dropping inventory entry of a kind the cluster no longer serves');
      return 'gone';
    }
    const live = await ctx.kube.get(resource, ref.namespace, ref.name);
    if (!live) return 'gone';
    if (!isOwnedBy(live, ctx.key)) {
      ctx.log.info({ object: describeRef(ref) }, 'Not pruning an object that no longer carries this GitSync stamp');
      return 'gone';
    }
    await ctx.kube.delete(resource, ref.namespace, ref.name, { propagationPolicy: 'Background' });
    ctx.log.info({ object: describeRef(ref) }, 'Pruned');
    return 'deleted';
  } catch (err) {
    if (isNotFound(err)) return 'gone';
    if (err instanceof KubeError && classifyApiError(err.status) === 'forbidden') return `${ctx.identity} may not delete it (${err.message})`;
    return (err as Error).message;
  }
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
