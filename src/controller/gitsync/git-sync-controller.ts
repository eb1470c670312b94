// The GitSync controller: the shell over the GitSync cache. The push-webhook receiver (an inbound
// adapter, wired in main.ts) only marks a GitSync as "sync requested" (requestSync), so whichever
// replica receives a push, the reconcile here does the work.
import type { Logger } from 'pino';
import type { GitSyncPolicy } from '../../core/gitops/manifests.ts';
import type { Clock } from '../../ports/clock.ts';
import type { GitClient } from '../../ports/git.ts';
import { kinds, type Informer, type KubeClient } from '../../ports/kube.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import { Controller, type ObjectKey, type ReconcileContext, type Reconciler } from '../runtime/controller.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import { reconcileGitSync } from './git-sync-reconciler.ts';

export interface GitSyncControllerOptions {
  /** Reconciles per second (token bucket) and burst; the shell's defaults otherwise. */
  qps?: number;
  burst?: number;
  kube: KubeClient;
  git: GitClient;
  clock: Clock;
  logger: Logger;
  policy: GitSyncPolicy;
  secrets: SecretReader;
  namespace?: string;
  workers?: number;
  metrics?: ControllerMetrics;
}

export class GitSyncController extends Controller {
  readonly gitSyncs: Informer;

  constructor(opts: GitSyncControllerOptions) {
    const gitSyncs = opts.kube.informer(kinds.gitSync, opts.namespace ? { namespace: opts.namespace } : {});
    const reconciler: Reconciler = {
      async reconcile({ namespace, name }: ObjectKey, { log }: ReconcileContext) {
        const obj = gitSyncs.get(namespace, name);
        if (!obj) {
          await opts.git.forget(`${namespace}/${name}`);
          return;
        }
        const deps = {
          kube: opts.kube,
          git: opts.git,
          secrets: opts.secrets,
          clock: opts.clock,
          logger: log,
          policy: opts.policy,
          instance: process.env.HOSTNAME ?? 'local',
        };
        return reconcileGitSync(obj, deps);
      },
    };
    super({
      name: 'gitsync',
      reconciler,
      primary: gitSyncs,
      clock: opts.clock,
      logger: opts.logger,
      ...(opts.qps !== undefined ? { qps: opts.qps } : {}),
      ...(opts.burst !== undefined ? { burst: opts.burst } : {}),
      workers: opts.workers ?? 2,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
    this.gitSyncs = gitSyncs;
  }
}
