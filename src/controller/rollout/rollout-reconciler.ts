// Reconciles one Rollout: observe (from informer caches) -> plan (pure) -> act -> one status write.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { Rollout, type RolloutStatus } from '../../api/rollout.ts';
import { Pod, ReplicaSet, Service } from '../../api/workload.ts';
import { podTemplateHash, stableStringify } from '../../core/shared/hash.ts';
import { FINALIZER } from '../../core/rollout/context.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';
import { plan } from '../../core/rollout/plan.ts';
import type { Action, BuildAnalysisRun, ObservedAnalysisRun, Plan } from '../../core/rollout/types.ts';
import { referencedServices } from '../../core/rollout/validate.ts';
import type { Clock } from '../../ports/clock.ts';
import { isNotFound, KubeError, kinds, type Informer, type KubeClient, type KubeObject } from '../../ports/kube.ts';

export const FIELD_MANAGER = 'sluice-controller';

export interface RolloutCaches {
  rollouts: Informer;
  replicaSets: Informer;
  pods: Informer;
  services: Informer;
  analysisRuns: Informer;
}

export interface AnalysisSupport {
  /** Observes the templates a Rollout refers to and returns a pure builder over them. */
  builderFor(rollout: Rollout): Promise<BuildAnalysisRun>;
  toObserved(run: KubeObject): ObservedAnalysisRun;
}

export interface RolloutReconcilerDeps {
  kube: KubeClient;
  caches: RolloutCaches;
  clock: Clock;
  logger: Logger;
  analysis?: AnalysisSupport;
  /** Called after each reconcile with what it did, for metrics. */
  onPlanned?: (rollout: Rollout, plan: Plan, durationMs: number) => void;
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

interface TemplateCheck {
  equivalentHash?: string;
  error?: string;
}

export class RolloutReconciler {
  private readonly deps: RolloutReconcilerDeps;
  private seq = 0;
  /** `<rollout uid>/<template hash>` -> what the API server made of that template. */
  private readonly templateChecks = new Map<string, TemplateCheck>();

  constructor(deps: RolloutReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile(key: string): Promise<{ requeueAfterMs?: number }> {
    const [namespace, name] = key.split('/') as [string, string];
    const log = this.deps.logger.child({ namespace, name, reconcileID: ++this.seq });
    const raw = this.deps.caches.rollouts.get(namespace, name);
    if (!raw) return {};
    const started = performance.now();
    const parsed = Rollout.safeParse({ apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', ...raw });
    if (!parsed.success) {
      const message = `Invalid spec: ${formatIssues(parsed.error.issues)}`;
      log.warn({ message }, 'Rollout does not parse');
      const written = await this.writeStatus(raw, {
        ...(raw as { status?: RolloutStatus }).status,
        phase: 'Degraded',
        message,
        observedGeneration: raw.metadata?.generation,
      });
      return { requeueAfterMs: written ? 5 * 60_000 : 0 };
    }
    const rollout = parsed.data;
    const uid = rollout.metadata.uid;
    const { caches } = this.deps;
    const replicaSets = caches.replicaSets.list(namespace).filter((rs) => ownedBy(rs, uid));
    const rsNames = new Set(replicaSets.map((rs) => rs.metadata?.name));
    const pods = caches.pods.list(namespace).filter((p) => (p.metadata?.ownerReferences ?? []).some((r) => r.kind === 'ReplicaSet' && rsNames.has(r.name)));
    const services: Record<string, Service | undefined> = {};
    for (const svc of referencedServices(rollout)) {
      const obj = caches.services.get(namespace, svc);
      services[svc] = obj ? Service.parse(obj) : undefined;
    }
    const runs = caches.analysisRuns.list(namespace).filter((r) => ownedBy(r, uid));
    const template = await this.checkTemplate(rollout, replicaSets);
    const observed = {
      rollout,
      ...(template.equivalentHash ? { equivalentHash: template.equivalentHash } : {}),
      ...(template.error ? { templateError: template.error } : {}),
      replicaSets: replicaSets.map((rs) => ReplicaSet.parse(rs)),
      pods: pods.map((p) => Pod.parse(p)),
      services,
      analysisRuns: runs.map((r) => (this.deps.analysis ? this.deps.analysis.toObserved(r) : observedRunFromObject(r))),
      ...(this.deps.analysis ? { buildAnalysisRun: await this.deps.analysis.builderFor(rollout) } : {}),
    };
    const now = this.deps.clock.now();
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
    for (const action of result.actions) await this.act(rollout, action, log, result.status);
    const statusChanged = stableStringify(result.status) !== stableStringify(rollout.status ?? {});
    if (statusChanged && !rollout.metadata.deletionTimestamp) {
      if (!(await this.writeStatus(raw, result.status))) return { requeueAfterMs: 0 };
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
    this.deps.onPlanned?.(rollout, result, performance.now() - started);
    return result.requeueAfterMs !== undefined ? { requeueAfterMs: result.requeueAfterMs } : {};
  }

  /**
   * A template no ReplicaSet has yet is shown to the API server first (a dry-run create, once
   * per template, remembered):
   * - if it refuses the template, that is the Rollout's problem to report (InvalidSpec), not a
   *   reconcile error to retry forever;
   * - ReplicaSet templates hold the API server's defaults (imagePullPolicy, dnsPolicy, ports'
   *   protocol, …) and the Rollout's template does not, so a template copied back from a
   *   ReplicaSet (undo) hashes differently from the one it came from: a ReplicaSet holding
   *   exactly the defaulted template is the one to reuse.
   */
  private async checkTemplate(rollout: Rollout, replicaSets: KubeObject[]): Promise<TemplateCheck> {
    const hash = podTemplateHash(rollout.spec.template);
    const hashOf = (rs: KubeObject) => rs.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
    if (replicaSets.some((rs) => hashOf(rs) === hash)) return {};
    const key = `${rollout.metadata.uid}/${hash}`;
    const known = this.templateChecks.get(key);
    if (known) return known;
    const withoutHash = (template: unknown) => {
      const t = structuredClone(template) as { metadata?: { labels?: Record<string, string>; creationTimestamp?: unknown } };
      delete t.metadata?.labels?.[POD_TEMPLATE_HASH_LABEL];
      if (t.metadata) delete t.metadata.creationTimestamp;
      return stableStringify(t);
    };
    const probe = {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { generateName: `${rollout.metadata.name}-`, namespace: rollout.metadata.namespace },
      spec: { replicas: 0, selector: rollout.spec.selector, template: structuredClone(rollout.spec.template) },
    } as KubeObject;
    let result: TemplateCheck;
    try {
      const defaulted = await this.deps.kube.create(kinds.replicaSet, probe, { dryRun: true });
      const wanted = withoutHash((defaulted as { spec?: { template?: unknown } }).spec?.template);
      const match = replicaSets.find((rs) => withoutHash((rs as { spec?: { template?: unknown } }).spec?.template) === wanted);
      const equivalentHash = match ? hashOf(match) : undefined;
      result = equivalentHash ? { equivalentHash } : {};
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 422)) throw err;
      result = { error: `the API server rejects spec.template: ${err.message.replace(/^[A-Z]+ \S+: 422 /, '')}` };
    }
    if (this.templateChecks.size > 10_000) this.templateChecks.clear();
    this.templateChecks.set(key, result);
    return result;
  }

  /**
   * Replaces status whole, guarded by resourceVersion so a concurrent plugin action is never lost.
   * Returns false when someone else wrote first (the caller looks again on fresh state).
   */
  private async writeStatus(raw: KubeObject, status: RolloutStatus): Promise<boolean> {
    const ops = [
      { op: 'test', path: '/metadata/resourceVersion', value: raw.metadata?.resourceVersion },
      { op: 'add', path: '/status', value: status },
    ];
    try {
      await this.deps.kube.patch(kinds.rollout, raw.metadata?.namespace, raw.metadata?.name as string, ops, { type: 'json', subresource: 'status' });
      return true;
    } catch (err) {
      // A failed test op is a 422 from the API server: someone else wrote first.
      if (err instanceof KubeError && (err.status === 422 || err.status === 409)) return false;
      throw err;
    }
  }

  private async act(rollout: Rollout, action: Action, log: Logger, status?: RolloutStatus): Promise<void> {
    const { kube } = this.deps;
    const ns = rollout.metadata.namespace;
    switch (action.type) {
      case 'createReplicaSet':
        try {
          await kube.create(kinds.replicaSet, action.replicaSet as KubeObject, { fieldManager: FIELD_MANAGER });
          log.info({ replicaSet: action.replicaSet.metadata.name, replicas: action.replicaSet.spec.replicas }, 'Created ReplicaSet');
        } catch (err) {
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
          await ignoreNotFound(
            kube.patch(
              kinds.service,
              ns,
              action.service,
              { spec: { selector: { [POD_TEMPLATE_HASH_LABEL]: action.hash } } },
              { type: 'merge', fieldManager: FIELD_MANAGER },
            ),
          );
        } else {
          // A Service's selector is atomic under server-side apply. Applying the whole selector
          // (the live one with our hash) lets a Git sync that applies the same value co-own it,
          // instead of the two taking the field from each other at every sync.
          const selector = { ...live.spec?.selector, [POD_TEMPLATE_HASH_LABEL]: action.hash };
          const body = { apiVersion: 'v1', kind: 'Service', metadata: { name: action.service, namespace: ns }, spec: { selector } };
          await ignoreNotFound(kube.patch(kinds.service, ns, action.service, body, { type: 'apply', fieldManager: FIELD_MANAGER, force: true }));
        }
        log.info({ service: action.service, hash: action.hash }, 'Set Service selector');
        return;
      }
      case 'deletePod':
        await ignoreNotFound(kube.delete(kinds.pod, ns, action.name));
        log.info({ pod: action.name }, 'Deleted pod for restart');
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

  private async recordEvent(rollout: Rollout, action: Extract<Action, { type: 'event' }>, log: Logger, status: RolloutStatus): Promise<void> {
    const now = this.deps.clock.now().toISOString();
    // One name per transition: the Rollout, its spec generation, the revision and attempt, and what happened.
    const transition = [rollout.metadata.uid, rollout.metadata.generation, status.currentPodHash, status.retries ?? 0, action.reason, action.message].join('|');
    const name = `${(rollout.metadata.name as string).slice(0, 200)}.${createHash('sha256').update(transition).digest('hex').slice(0, 16)}`;
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { namespace: rollout.metadata.namespace, name },
      involvedObject: {
        apiVersion: rollout.apiVersion,
        kind: 'Rollout',
        name: rollout.metadata.name,
        namespace: rollout.metadata.namespace,
        uid: rollout.metadata.uid,
      },
      reason: action.reason,
      message: action.message,
      type: action.eventType,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: 'sluice-controller' },
      reportingComponent: 'sluice.dev/controller',
      reportingInstance: process.env.HOSTNAME ?? 'local',
    };
    try {
      await this.deps.kube.create(kinds.event, event as KubeObject);
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return; // recorded by an earlier attempt at this transition
      // Not allowed to record Events at all: say so and go on. Anything else: fail this reconcile
      // before its status write, so the transition (and its Event) is tried again, not lost.
      if (!(err instanceof KubeError && err.status === 403)) throw err;
      log.warn({ err: (err as Error).message, reason: action.reason }, 'Could not record Event');
      return;
    }
    log.info({ reason: action.reason, type: action.eventType }, action.message);
  }
}

async function ignoreNotFound(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
}
