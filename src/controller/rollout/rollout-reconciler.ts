// Reconciles one Rollout: observe (from informer caches) -> plan (pure) -> act -> one status write.
import type { Logger } from 'pino';
import { AnalysisTemplateSpec, type AnalysisRunStatus } from '../../api/analysis.ts';
import { MANAGED_BY_ROLLOUT_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { Rollout, type RolloutStatus } from '../../api/rollout.ts';
import { Pod, ReplicaSet, Service } from '../../api/workload.ts';
import type { LoadedTemplate } from '../../core/analysis/build.ts';
import { CONFLICT_REQUEUE_MS, EVICTION_REFUSED_REQUEUE_MS, INVALID_SPEC_REQUEUE_MS } from '../../core/shared/requeue.ts';
import { FINALIZER } from '../../core/rollout/context.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';
import { plan } from '../../core/rollout/plan.ts';
import { rolloutEventAnnotations } from '../../core/notify/annotations.ts';
import type { Action, Observed, ObservedAnalysisRun, Plan } from '../../core/rollout/types.ts';
import { onlyCountsChanged } from '../../core/rollout/status-batch.ts';
import { referencedServices } from '../../core/rollout/validate.ts';
import type { Clock } from '../../ports/clock.ts';
import { isNotFound, KubeError, kinds, type Informer, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import type { ObjectKey, ReconcileContext, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { OwnerIndex } from '../runtime/owner-index.ts';
import { ParseCache } from '../runtime/parse-cache.ts';
import type { StatusWriter } from '../runtime/status-writer.ts';
import { RefusedReplicaSet, TemplateChecks } from './template-check.ts';

export const FIELD_MANAGER = 'sluice-controller';

/**
 * A status change of counts alone (pods becoming ready one by one) while a step waits for them,
 * within this long of the last status write, waits for the next write: fewer writes in a burst,
 * counts at most this stale.
 */
const COUNTS_BATCH_MS = 1000;

export interface RolloutCaches {
  rollouts: Informer;
  replicaSets: Informer;
  pods: Informer;
  services: Informer;
  analysisRuns: Informer;
  analysisTemplates: Informer;
  clusterAnalysisTemplates: Informer;
  /** Deployments, for Rollouts with spec.workloadRef. */
  deployments?: Informer;
  indexes: {
    replicaSetsByRollout: OwnerIndex;
    podsByReplicaSet: OwnerIndex;
    analysisRunsByRollout: OwnerIndex;
    /** Services by the `<namespace>/<rollout>` of their MANAGED_BY_ROLLOUT_ANNOTATION. */
    servicesByRollout: OwnerIndex;
  };
}

/** One reconcile's decision with its input: (observed, now) replays to the same plan. */
export interface Planned {
  rollout: Rollout;
  observed: Observed;
  now: Date;
  plan: Plan;
  durationMs: number;
}

export interface RolloutReconcilerDeps {
  kube: KubeClient;
  caches: RolloutCaches;
  clock: Clock;
  status: StatusWriter;
  events: EventRecorder;
  /** Called after each reconcile with what it saw and decided, for metrics (and to capture plans). */
  onPlanned?: (planned: Planned) => void;
}

const ownedBy = (obj: KubeObject, uid: string | undefined) => !!uid && (obj.metadata?.ownerReferences ?? []).some((r) => r.uid === uid && r.controller);

export function observedRunFromObject(obj: KubeObject): ObservedAnalysisRun {
  const o = obj as {
    metadata?: { name?: string; labels?: Record<string, string> };
    spec?: { terminate?: boolean };
    status?: { phase?: string; message?: string };
  };
  return {
    name: o.metadata?.name ?? '',
    labels: o.metadata?.labels ?? {},
    phase: o.status?.phase ?? 'Pending',
    ...(o.status?.message ? { message: o.status.message } : {}),
    terminated: o.spec?.terminate === true,
  };
}

export class RolloutReconciler implements Reconciler {
  private readonly deps: RolloutReconcilerDeps;
  private readonly templates: TemplateChecks;
  /** When each Rollout's status was last written (ms), for folding count-only changes into the next write. */
  private readonly lastStatusWrite = new Map<string, number>();
  private readonly parsed = {
    rollout: new ParseCache(Rollout, (raw) => ({ apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', ...raw })),
    replicaSet: new ParseCache(ReplicaSet),
    pod: new ParseCache(Pod),
    service: new ParseCache(Service),
  };

  constructor(deps: RolloutReconcilerDeps) {
    this.deps = deps;
    this.templates = new TemplateChecks(deps.kube, () => deps.clock.now().getTime());
  }

  async reconcile({ namespace, name }: ObjectKey, { log }: ReconcileContext): Promise<{ requeueAfterMs?: number }> {
    const raw = this.deps.status.fresh(kinds.rollout, namespace, name, this.deps.caches.rollouts.get(namespace, name));
    if (!raw) {
      this.lastStatusWrite.delete(`${namespace}/${name}`);
      return {};
    }
    const started = performance.now();
    const parsed = this.parsed.rollout.safeParse(raw);
    if (!parsed.success) {
      const message = `Invalid spec: ${formatIssues(parsed.error.issues)}`;
      log.warn({ message }, 'Rollout does not parse');
      const written = await this.deps.status.write(kinds.rollout, raw, {
        ...(raw as { status?: RolloutStatus }).status,
        phase: 'Degraded',
        message,
        observedGeneration: raw.metadata?.generation,
      });
      return { requeueAfterMs: written === 'conflict' ? CONFLICT_REQUEUE_MS : INVALID_SPEC_REQUEUE_MS };
    }
    const { rollout, workload } = this.resolveWorkload(parsed.data);
    const uid = rollout.metadata.uid;
    const { caches } = this.deps;
    // Only this Rollout's objects, through the owner indexes: never a scan of the namespace.
    const replicaSets = uid ? caches.indexes.replicaSetsByRollout.get(uid).filter((rs) => ownedBy(rs, uid)) : [];
    const pods = replicaSets.flatMap((rs) => (rs.metadata?.uid ? caches.indexes.podsByReplicaSet.get(rs.metadata.uid) : []));
    const services: Record<string, Service | undefined> = {};
    for (const svc of referencedServices(rollout)) {
      const obj = caches.services.get(namespace, svc);
      services[svc] = obj ? this.parsed.service.parse(obj) : undefined;
    }
    // and the Services it pinned earlier but no longer names: the plan takes their pin off
    for (const obj of caches.indexes.servicesByRollout.get(`${namespace}/${name}`)) {
      const svc = obj.metadata?.name;
      if (svc && !(svc in services)) services[svc] = this.parsed.service.parse(obj);
    }
    const runs = uid ? caches.indexes.analysisRunsByRollout.get(uid) : [];
    // A Rollout being deleted needs no template check: its namespace may be terminating, where the
    // API server refuses even a dry-run create, and the finalizer must still come off.
    const template = rollout.metadata.deletionTimestamp ? {} : await this.templates.check(rollout, replicaSets);
    const observed: Observed = {
      rollout,
      ...(workload ? { workload } : {}),
      ...(template.equivalentHash ? { equivalentHash: template.equivalentHash } : {}),
      ...(template.error ? { templateError: template.error } : {}),
      replicaSets: replicaSets.map((rs) => this.parsed.replicaSet.parse(rs)),
      pods: pods.map((p) => this.parsed.pod.parse(p)),
      services,
      analysisRuns: runs.map(observedRunFromObject),
      analysisTemplates: this.templatesOf(rollout),
    };
    const now = this.deps.clock.now();
    // At trace level the whole input: `node scripts/replay-plan.ts` replays such a line.
    log.trace({ observed, now: now.toISOString() }, 'Observed');
    const result = plan(observed, now);
    log.debug(
      { actions: result.actions.filter((a) => a.type !== 'event').map((a) => a.type), phase: result.status.phase, step: result.status.currentStepIndex },
      'Planned',
    );
    const finalizer = result.actions.find((a) => a.type === 'setFinalizer');
    if (finalizer && !rollout.metadata.deletionTimestamp) {
      // Writing the Rollout itself changes its resourceVersion: stop here; its watch event brings us back.
      await this.act(rollout, finalizer, log);
      return {};
    }
    // Events before the status write that commits their transition, each named after that
    // transition: if the write is refused (stale cache) or the process dies before it, the next
    // reconcile plans the same transition, its Event already exists, and none is lost or doubled.
    // The Events (in their order) and the other actions (in theirs) go out side by side: a
    // reconcile waits for the longer of the two chains, not for their sum.
    let retryLater = false;
    const inOrder = async (actions: Action[]) => {
      for (const action of actions) if ((await this.act(rollout, action, log, result.status)) === 'retry-later') retryLater = true;
    };
    const outcomes = await Promise.allSettled([
      inOrder(result.actions.filter((a) => a.type === 'event')),
      inOrder(result.actions.filter((a) => a.type !== 'event')),
    ]);
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      if (failed.reason instanceof RefusedReplicaSet) return { requeueAfterMs: 0 };
      throw failed.reason;
    }
    if (!rollout.metadata.deletionTimestamp) {
      const key = `${namespace}/${name}`;
      const nowMs = now.getTime();
      const sinceWrite = nowMs - (this.lastStatusWrite.get(key) ?? -Infinity);
      const previous = (raw as { status?: RolloutStatus }).status;
      const noEvent = !result.actions.some((a) => a.type === 'event');
      const moving = result.status.phase === 'Progressing';
      if (moving && noEvent && sinceWrite < COUNTS_BATCH_MS && onlyCountsChanged(previous, result.status)) {
        // Pods becoming ready one after another while a step waits for them: the counts ride on
        // the next write, at the latest when the window ends (a reconcile then). No transition
        // waits (those change more than counts), and a resting Rollout (Healthy, Paused,
        // Degraded) has its counts written at once.
        const planned = this.done({ rollout, observed, now, plan: result }, started);
        return { requeueAfterMs: Math.min(planned.requeueAfterMs ?? Infinity, COUNTS_BATCH_MS - sinceWrite) };
      }
      const written = await this.deps.status.write(kinds.rollout, raw, result.status);
      if (written === 'conflict') return { requeueAfterMs: CONFLICT_REQUEUE_MS };
      if (written === 'written') {
        this.lastStatusWrite.set(key, nowMs);
        log.info(
          {
            phase: result.status.phase,
            step: result.status.currentStepIndex,
            desiredWeight: result.status.desiredWeight,
            actualWeight: result.status.actualWeight,
            message: result.status.message,
          },
          'Status updated',
        );
      }
    }
    const done = this.done({ rollout, observed, now, plan: result }, started);
    if (!retryLater) return done;
    return { requeueAfterMs: Math.min(done.requeueAfterMs ?? EVICTION_REFUSED_REQUEUE_MS, EVICTION_REFUSED_REQUEUE_MS) };
  }

  /**
   * spec.workloadRef: the Rollout as if it carried the Deployment's pod template (and selector when
   * it has none). A Rollout that also has a template of its own is left as it is: validation says
   * the template must be empty.
   */
  private resolveWorkload(rollout: Rollout): { rollout: Rollout; workload?: Observed['workload'] } {
    const ref = rollout.spec.workloadRef;
    if (!ref || (rollout.spec.template && Object.keys(rollout.spec.template).length > 0)) return { rollout };
    if (ref.apiVersion !== 'apps/v1' || ref.kind !== 'Deployment') return { rollout };
    const deployment = this.deps.caches.deployments?.get(rollout.metadata.namespace, ref.name) as
      | { metadata?: { generation?: number }; spec?: { replicas?: number; selector?: Rollout['spec']['selector']; template?: Record<string, unknown> } }
      | undefined;
    if (!deployment?.spec?.template) {
      return { rollout, workload: { error: `spec.workloadRef: Deployment "${ref.name}" not found in namespace ${rollout.metadata.namespace ?? ''}` } };
    }
    const resolved = structuredClone(rollout);
    resolved.spec.template = structuredClone(deployment.spec.template) as Rollout['spec']['template'];
    resolved.spec.selector ??= deployment.spec.selector;
    return {
      rollout: resolved,
      workload: { name: ref.name, replicas: deployment.spec.replicas ?? 1, generation: deployment.metadata?.generation ?? 0 },
    };
  }

  /** Carries out one action; 'retry-later' when it was refused for now (an eviction a PodDisruptionBudget holds back). */
  private async act(rollout: Rollout, action: Action, log: Logger, status?: RolloutStatus): Promise<void | 'retry-later'> {
    const { kube } = this.deps;
    const ns = rollout.metadata.namespace;
    switch (action.type) {
      case 'createReplicaSet':
        try {
          await kube.create(kinds.replicaSet, action.replicaSet as KubeObject, { fieldManager: FIELD_MANAGER });
          log.info({ replicaSet: action.replicaSet.metadata.name, replicas: action.replicaSet.spec.replicas }, 'Created ReplicaSet');
        } catch (err) {
          const refused = this.templates.refusedAtCreate(rollout, err);
          if (refused) {
            log.warn({ replicaSet: action.replicaSet.metadata.name, error: refused.message }, 'ReplicaSet refused');
            throw refused;
          }
          if (!(err instanceof KubeError && err.status === 409)) throw err;
        }
        return;
      case 'scaleReplicaSet': {
        const body: Record<string, unknown> = { spec: { replicas: action.replicas } };
        if (action.annotations) body.metadata = { annotations: action.annotations };
        await kube.patch(kinds.replicaSet, ns, action.name, body, { type: 'merge', fieldManager: FIELD_MANAGER });
        log.info({ replicaSet: action.name, replicas: action.replicas }, 'Scaled ReplicaSet');
        return;
      }
      case 'deleteReplicaSet':
        await ignoreNotFound(kube.delete(kinds.replicaSet, ns, action.name, { propagationPolicy: 'Background' }));
        log.info({ replicaSet: action.name }, 'Deleted old ReplicaSet');
        return;
      case 'setServiceSelector': {
        const live = this.deps.caches.services.get(ns, action.service) as { spec?: { selector?: Record<string, string> } } | undefined;
        if (action.hash === null || !live) {
          // (a null hash also takes the mark off: the Service is no longer this Rollout's to pin)
          const metadata = action.hash === null ? { annotations: { [MANAGED_BY_ROLLOUT_ANNOTATION]: null } } : {};
          await ignoreNotFound(
            kube.patch(
              kinds.service,
              ns,
              action.service,
              { metadata, spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: action.hash } } },
              { type: 'merge', fieldManager: FIELD_MANAGER },
            ),
          );
        } else {
          // A Service's selector is atomic under server-side apply. Applying the whole selector
          // (the live one with our hash) lets a Git sync that applies the same value co-own it,
          // instead of the two taking the field from each other at every sync.
          const selector = { ...live.spec?.selector, [POD_TEMPLATE_HASH_LABEL]: action.hash };
          const metadata = { name: action.service, namespace: ns, annotations: { [MANAGED_BY_ROLLOUT_ANNOTATION]: rollout.metadata.name as string } };
          const body = { apiVersion: 'v1', kind: 'Service', metadata, spec: { selector } };
          await ignoreNotFound(kube.patch(kinds.service, ns, action.service, body, { type: 'apply', fieldManager: FIELD_MANAGER, force: true }));
        }
        log.info({ service: action.service, hash: action.hash }, 'Set Service selector');
        return;
      }
      case 'patchReplicaSetMetadata':
        await ignoreNotFound(
          kube.patch(
            kinds.replicaSet,
            ns,
            action.name,
            { metadata: { annotations: action.annotations }, spec: { template: { metadata: action.template } } },
            { type: 'merge', fieldManager: FIELD_MANAGER },
          ),
        );
        log.info({ replicaSet: action.name }, 'Updated ephemeral pod metadata of ReplicaSet');
        return;
      case 'patchPodMetadata':
        await ignoreNotFound(kube.patch(kinds.pod, ns, action.name, { metadata: action.patch }, { type: 'merge', fieldManager: FIELD_MANAGER }));
        return;
      case 'scaleDeployment':
        await ignoreNotFound(
          kube.patch(kinds.deployment, ns, action.name, { spec: { replicas: action.replicas } }, { type: 'merge', fieldManager: FIELD_MANAGER }),
        );
        log.info({ deployment: action.name, replicas: action.replicas }, 'Scaled referenced Deployment');
        return;
      case 'evictPod':
        try {
          await kube.evict(ns ?? '', action.name);
          log.info({ pod: action.name }, 'Evicted pod for restart');
        } catch (err) {
          if (isNotFound(err)) return;
          if (!(err instanceof KubeError && err.status === 429)) throw err;
          // A PodDisruptionBudget allows no disruption now: the restart waits, and asks again.
          log.warn({ pod: action.name, message: err.message }, 'Eviction refused for restart; trying again later');
          return 'retry-later';
        }
        return;
      case 'createAnalysisRun':
        try {
          await kube.create(kinds.analysisRun, action.run as KubeObject, { fieldManager: FIELD_MANAGER });
        } catch (err) {
          if (!(err instanceof KubeError && err.status === 409)) throw err;
        }
        return;
      case 'terminateAnalysisRun':
        await ignoreNotFound(kube.patch(kinds.analysisRun, ns, action.name, { spec: { terminate: true } }, { type: 'merge', fieldManager: FIELD_MANAGER }));
        return;
      case 'setFinalizer': {
        const current = (rollout.metadata as { finalizers?: string[] }).finalizers ?? [];
        const next = action.present ? [...new Set([...current, FINALIZER])] : current.filter((f) => f !== FINALIZER);
        await ignoreNotFound(
          kube.patch(
            kinds.rollout,
            ns,
            rollout.metadata.name as string,
            { metadata: { finalizers: next, resourceVersion: rollout.metadata.resourceVersion } },
            { type: 'merge' },
          ),
        );
        return;
      }
      case 'event':
        await this.recordEvent(rollout, action, log, status ?? {});
        return;
    }
  }

  /** One Event per transition: the Rollout, its spec generation, the revision and attempt, and what happened. */
  private async recordEvent(rollout: Rollout, action: Extract<Action, { type: 'event' }>, log: Logger, status: RolloutStatus): Promise<void> {
    const involved = { ...rollout, kind: 'Rollout' } as KubeObject;
    // The transition's facts ride on the Event, for its notification (src/core/notify/annotations.ts).
    const run = status.analysis ? this.deps.caches.analysisRuns.get(rollout.metadata.namespace, status.analysis.name) : undefined;
    const annotations = rolloutEventAnnotations({
      rollout,
      status,
      reason: action.reason,
      analysisRun: (run as { status?: AnalysisRunStatus } | undefined)?.status,
    });
    const event = { type: action.eventType, reason: action.reason, message: action.message, annotations };
    await this.deps.events.record(involved, event, [rollout.metadata.generation, status.currentPodHash, status.retries ?? 0], log);
  }

  /** The analysis templates the Rollout names, as read from the caches (missing ones are left out). */
  private templatesOf(rollout: Rollout): LoadedTemplate[] {
    const { canary, blueGreen } = rollout.spec.strategy;
    const analyses = [
      ...(canary?.steps ?? []).flatMap((s) => (s.analysis ? [s.analysis] : [])),
      ...(canary?.analysis ? [canary.analysis] : []),
      ...(blueGreen?.prePromotionAnalysis ? [blueGreen.prePromotionAnalysis] : []),
      ...(blueGreen?.postPromotionAnalysis ? [blueGreen.postPromotionAnalysis] : []),
    ];
    const out = new Map<string, LoadedTemplate>();
    for (const ref of analyses.flatMap((a) => a.templates)) {
      const clusterScope = ref.clusterScope === true;
      const key = `${clusterScope}/${ref.templateName}`;
      if (out.has(key)) continue;
      const obj = clusterScope
        ? this.deps.caches.clusterAnalysisTemplates.get(undefined, ref.templateName)
        : this.deps.caches.analysisTemplates.get(rollout.metadata.namespace, ref.templateName);
      const spec = AnalysisTemplateSpec.safeParse((obj as { spec?: unknown } | undefined)?.spec);
      if (obj && spec.success) out.set(key, { clusterScope, name: ref.templateName, spec: spec.data });
    }
    return [...out.values()];
  }

  private done(planned: Omit<Planned, 'durationMs'>, started: number): { requeueAfterMs?: number } {
    this.deps.onPlanned?.({ ...planned, durationMs: performance.now() - started });
    const { requeueAfterMs } = planned.plan;
    return requeueAfterMs !== undefined ? { requeueAfterMs } : {};
  }
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
