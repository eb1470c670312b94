// The AnalysisRun controller: the shell over the AnalysisRun cache (shared with the Rollout
// controller, so runs are watched once); each run is reconciled on its own queue, so a
// measurement is taken exactly when it is due.
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.ts';
import { kinds, type Informer, type KubeClient } from '../../ports/kube.ts';
import type { MetricsProviderFactory } from '../../ports/metrics.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import { Controller, type ObjectKey, type ReconcileContext, type Reconciler } from '../runtime/controller.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import { StatusWriter } from '../runtime/status-writer.ts';
import { reconcileAnalysisRun } from './analysis-run-reconciler.ts';

export interface AnalysisControllerOptions {
  /** Reconciles per second (token bucket) and burst; the shell's defaults otherwise. */
  qps?: number;
  burst?: number;
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  metrics: MetricsProviderFactory;
  secrets: SecretReader;
  /** The AnalysisRun cache, shared with the Rollout controller. */
  runs: Informer;
  workers?: number;
  controllerMetrics?: ControllerMetrics;
}

export class AnalysisController extends Controller {
  constructor(opts: AnalysisControllerOptions) {
    const status = new StatusWriter(opts.kube, () => opts.clock.now());
    const reconciler: Reconciler = {
      async reconcile({ namespace, name }: ObjectKey, { log }: ReconcileContext) {
        const run = status.fresh(kinds.analysisRun, namespace, name, opts.runs.get(namespace, name));
        if (!run) return;
        const result = await reconcileAnalysisRun(run, { status, secrets: opts.secrets, metrics: opts.metrics, clock: opts.clock, logger: log });
        return result.requeueAfterMs !== undefined ? { requeueAfterMs: result.requeueAfterMs } : undefined;
      },
    };
    super({
      name: 'analysisrun',
      reconciler,
      primary: opts.runs,
      ignore: ['DELETED'],
      clock: opts.clock,
      logger: opts.logger,
      ...(opts.qps !== undefined ? { qps: opts.qps } : {}),
      ...(opts.burst !== undefined ? { burst: opts.burst } : {}),
      workers: opts.workers ?? 4,
      ...(opts.controllerMetrics ? { metrics: opts.controllerMetrics } : {}),
    });
  }
}
