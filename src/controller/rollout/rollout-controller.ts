// The Rollout controller: the shell (src/controller/runtime/controller.ts) with the caches a
// Rollout reconcile observes, and which changes concern which Rollout: a Rollout itself, what it
// owns (ReplicaSets, their pods, AnalysisRuns), and the Services it names.
import type { Logger } from 'pino';
import { MANAGED_BY_ROLLOUT_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import type { Clock } from '../../ports/clock.ts';
import { kinds, type Informer, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import { Controller, controllerOwner, keyOf } from '../runtime/controller.ts';
import { EventRecorder, type EventSource } from '../runtime/events.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import { controllerOwnerUid, OwnerIndex } from '../runtime/owner-index.ts';
import { StatusWriter } from '../runtime/status-writer.ts';
import { RolloutReconciler, type Planned, type RolloutCaches } from './rollout-reconciler.ts';

export interface RolloutControllerOptions {
  /** Reconciles per second (token bucket) and burst; the shell's defaults otherwise. */
  qps?: number;
  burst?: number;
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  namespace?: string;
  workers?: number;
  /** A shared AnalysisRun cache (the AnalysisRun controller watches the same objects). */
  analysisRuns?: Informer;
  metrics?: ControllerMetrics;
  /** Who records Events (default: this process as sluice-controller). */
  eventSource?: EventSource;
  onPlanned?: (planned: Planned) => void;
}

export const ROLLOUT_EVENT_SOURCE: EventSource = {
  component: 'sluice-controller',
  reportingComponent: 'sluice.dev/controller',
  instance: process.env.HOSTNAME ?? 'local',
};

export class RolloutController extends Controller {
  readonly caches: RolloutCaches;

  constructor(opts: RolloutControllerOptions) {
    const { kube, namespace } = opts;
    const scope = namespace ? { namespace } : {};
    const replicaSets = kube.informer(kinds.replicaSet, { ...scope, labelSelector: POD_TEMPLATE_HASH_LABEL });
    const pods = kube.informer(kinds.pod, { ...scope, labelSelector: POD_TEMPLATE_HASH_LABEL, trim: trimPod });
    const analysisRuns = opts.analysisRuns ?? kube.informer(kinds.analysisRun, scope);
    const services = kube.informer(kinds.service, scope);
    const caches: RolloutCaches = {
      rollouts: kube.informer(kinds.rollout, scope),
      replicaSets,
      pods,
      services,
      analysisRuns,
      indexes: {
        replicaSetsByRollout: new OwnerIndex(replicaSets, (rs) => controllerOwnerUid(rs, 'Rollout')),
        podsByReplicaSet: new OwnerIndex(pods, (pod) => controllerOwnerUid(pod, 'ReplicaSet')),
        analysisRunsByRollout: new OwnerIndex(analysisRuns, (run) => controllerOwnerUid(run, 'Rollout')),
        servicesByRollout: new OwnerIndex(services, servicePinnedBy),
      },
      analysisTemplates: kube.informer(kinds.analysisTemplate, scope),
      clusterAnalysisTemplates: kube.informer(kinds.clusterAnalysisTemplate),
      deployments: kube.informer(kinds.deployment, scope),
    };
    const now = () => opts.clock.now();
    const reconciler = new RolloutReconciler({
      kube,
      caches,
      clock: opts.clock,
      status: new StatusWriter(kube, now),
      events: new EventRecorder(kube, now, opts.eventSource ?? ROLLOUT_EVENT_SOURCE),
      ...(opts.onPlanned ? { onPlanned: opts.onPlanned } : {}),
    });
    const ownerKey = (obj: KubeObject, owner: string | undefined) => (owner ? [`${obj.metadata?.namespace}/${owner}`] : []);
    super({
      name: 'rollout',
      reconciler,
      primary: caches.rollouts,
      watches: [
        { informer: caches.replicaSets, keysFor: (rs) => ownerKey(rs, controllerOwner(rs, 'Rollout')) },
        {
          informer: caches.pods,
          keysFor: (pod) => {
            const rsName = controllerOwner(pod, 'ReplicaSet');
            const rs = rsName ? caches.replicaSets.get(pod.metadata?.namespace, rsName) : undefined;
            return ownerKey(pod, rs ? controllerOwner(rs, 'Rollout') : undefined);
          },
        },
        { informer: caches.analysisRuns, keysFor: (run) => ownerKey(run, controllerOwner(run, 'Rollout')) },
        {
          // spec.workloadRef: a change of the Deployment is a change of the Rollout's template.
          informer: caches.deployments!,
          keysFor: (dep) =>
            caches.rollouts
              .list(dep.metadata?.namespace)
              .filter((r) => (r as { spec?: { workloadRef?: { name?: string } } }).spec?.workloadRef?.name === dep.metadata?.name)
              .map(keyOf),
        },
        {
          informer: caches.services,
          keysFor: (svc) =>
            caches.rollouts
              .list(svc.metadata?.namespace)
              .filter((r) => namesService(r, svc.metadata?.name))
              .map(keyOf),
        },
      ],
      caches: [caches.analysisTemplates, caches.clusterAnalysisTemplates],
      clock: opts.clock,
      logger: opts.logger,
      ...(opts.qps !== undefined ? { qps: opts.qps } : {}),
      ...(opts.burst !== undefined ? { burst: opts.burst } : {}),
      workers: opts.workers ?? 4,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
    this.caches = caches;
  }
}

/** A Rollout reconcile reads of a pod only its metadata, its node and its readiness. */
/** The `<namespace>/<rollout>` whose pin a Service carries (MANAGED_BY_ROLLOUT_ANNOTATION). */
function servicePinnedBy(svc: KubeObject): string[] {
  const by = svc.metadata?.annotations?.[MANAGED_BY_ROLLOUT_ANNOTATION];
  return by ? [`${svc.metadata?.namespace ?? ''}/${by}`] : [];
}

function trimPod(pod: KubeObject): void {
  const p = pod as KubeObject & { spec?: { nodeName?: string }; status?: { phase?: string; conditions?: unknown } };
  p.spec = p.spec?.nodeName ? { nodeName: p.spec.nodeName } : {};
  p.status = { ...(p.status?.phase ? { phase: p.status.phase } : {}), ...(p.status?.conditions ? { conditions: p.status.conditions } : {}) };
}

function namesService(rollout: KubeObject, service: string | undefined): boolean {
  const strategy = (rollout as { spec?: { strategy?: Record<string, Record<string, unknown> | undefined> } }).spec?.strategy ?? {};
  const names = [strategy.canary?.stableService, strategy.canary?.canaryService, strategy.blueGreen?.activeService, strategy.blueGreen?.previewService];
  return !!service && names.includes(service);
}
