// Wires informers to the work queue for Rollouts: every change to a Rollout or to something
// it owns or names becomes its key; the queue de-duplicates and the reconciler does the rest.
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.ts';
import { kinds, type Informer, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { WorkQueue } from '../runtime/queue.ts';
import { RolloutReconciler, type AnalysisSupport, type RolloutCaches } from './rollout-reconciler.ts';
import type { Plan } from '../../core/rollout/types.ts';
import type { Rollout } from '../../api/rollout.ts';

export interface RolloutControllerOptions {
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  namespace?: string;
  workers?: number;
  analysis?: AnalysisSupport;
  /** A shared AnalysisRun cache (the analysis controller watches the same objects). */
  analysisRuns?: Informer;
  onPlanned?: (rollout: Rollout, plan: Plan, durationMs: number) => void;
  onError?: (key: string, err: unknown) => void;
}

const keyOf = (obj: KubeObject) => `${obj.metadata?.namespace}/${obj.metadata?.name}`;
const controllerOwner = (obj: KubeObject, kind: string) => (obj.metadata?.ownerReferences ?? []).find((r) => r.controller && r.kind === kind)?.name;

export class RolloutController {
  readonly caches: RolloutCaches;
  readonly queue: WorkQueue;

  constructor(opts: RolloutControllerOptions) {
    const { kube, namespace } = opts;
    const scope = namespace ? { namespace } : {};
    this.caches = {
      rollouts: kube.informer(kinds.rollout, scope),
      replicaSets: kube.informer(kinds.replicaSet, { ...scope, labelSelector: POD_TEMPLATE_HASH_LABEL }),
      pods: kube.informer(kinds.pod, { ...scope, labelSelector: POD_TEMPLATE_HASH_LABEL }),
      services: kube.informer(kinds.service, scope),
      analysisRuns: opts.analysisRuns ?? kube.informer(kinds.analysisRun, scope),
    };
    const reconciler = new RolloutReconciler({
      kube,
      caches: this.caches,
      clock: opts.clock,
      logger: opts.logger,
      ...(opts.analysis ? { analysis: opts.analysis } : {}),
      ...(opts.onPlanned ? { onPlanned: opts.onPlanned } : {}),
    });
    this.queue = new WorkQueue((key) => reconciler.reconcile(key), {
      workers: opts.workers ?? 4,
      clock: opts.clock,
      onError: (key, err, retryInMs) => {
        opts.logger.warn({ key, err: err instanceof Error ? err.message : String(err), retryInMs }, 'Reconcile failed');
        opts.onError?.(key, err);
      },
    });
    this.wire();
  }

  private wire(): void {
    const { caches, queue } = this;
    caches.rollouts.onChange((_type, obj) => queue.add(keyOf(obj)));
    caches.replicaSets.onChange((_type, rs) => {
      const owner = controllerOwner(rs, 'Rollout');
      if (owner) queue.add(`${rs.metadata?.namespace}/${owner}`);
    });
    caches.pods.onChange((_type, pod) => {
      const rsName = controllerOwner(pod, 'ReplicaSet');
      const rs = rsName ? caches.replicaSets.get(pod.metadata?.namespace, rsName) : undefined;
      const owner = rs ? controllerOwner(rs, 'Rollout') : undefined;
      if (owner) queue.add(`${pod.metadata?.namespace}/${owner}`);
    });
    caches.analysisRuns.onChange((_type, run) => {
      const owner = controllerOwner(run, 'Rollout');
      if (owner) queue.add(`${run.metadata?.namespace}/${owner}`);
    });
    caches.services.onChange((_type, svc) => {
      for (const r of caches.rollouts.list(svc.metadata?.namespace)) if (namesService(r, svc.metadata?.name)) queue.add(keyOf(r));
    });
  }

  async start(): Promise<void> {
    const all: Informer[] = Object.values(this.caches);
    await Promise.all(all.map((i) => i.start()));
    for (const r of this.caches.rollouts.list()) this.queue.add(keyOf(r));
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all(Object.values(this.caches).map((i: Informer) => i.stop()));
  }
}

function namesService(rollout: KubeObject, service: string | undefined): boolean {
  const strategy = (rollout as { spec?: { strategy?: Record<string, Record<string, unknown> | undefined> } }).spec?.strategy ?? {};
  const names = [strategy.canary?.stableService, strategy.canary?.canaryService, strategy.blueGreen?.activeService, strategy.blueGreen?.previewService];
  return !!service && names.includes(service);
}
