// Analysis in the controller: AnalysisRuns reconciled on their own queue (a measurement is
// taken exactly when due), and the template lookup the rollout planner needs to start runs.
import type { Logger } from 'pino';
import { AnalysisTemplateSpec } from '../../api/analysis.ts';
import type { Rollout } from '../../api/rollout.ts';
import { buildAnalysisRun, type LoadedTemplate } from '../../core/analysis/build.ts';
import type { BuildAnalysisRun } from '../../core/rollout/types.ts';
import type { Clock } from '../../ports/clock.ts';
import { kinds, type Informer, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import type { MetricsProviderFactory } from '../../ports/metrics.ts';
import { reconcileAnalysisRun } from './analysis-run-reconciler.ts';
import { WorkQueue } from '../runtime/queue.ts';
import { observedRunFromObject, type AnalysisSupport } from '../rollout/rollout-reconciler.ts';

export interface AnalysisControllerOptions {
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  metrics: MetricsProviderFactory;
  /** The rollout controller's AnalysisRun cache, shared so runs are watched once. */
  runs: Informer;
  namespace?: string;
  workers?: number;
}

export class AnalysisController implements AnalysisSupport {
  readonly queue: WorkQueue;
  private readonly templates: Informer;
  private readonly clusterTemplates: Informer;
  private readonly opts: AnalysisControllerOptions;

  constructor(opts: AnalysisControllerOptions) {
    this.opts = opts;
    const scope = opts.namespace ? { namespace: opts.namespace } : {};
    this.templates = opts.kube.informer(kinds.analysisTemplate, scope);
    this.clusterTemplates = opts.kube.informer(kinds.clusterAnalysisTemplate);
    this.queue = new WorkQueue(
      async (key) => {
        const [namespace, name] = key.split('/') as [string, string];
        const run = opts.runs.get(namespace, name);
        if (!run) return {};
        const result = await reconcileAnalysisRun(run, {
          kube: opts.kube,
          metrics: opts.metrics,
          clock: opts.clock,
          logger: opts.logger.child({ namespace, analysisRun: name }),
        });
        return result.requeueAfterMs !== undefined ? { requeueAfterMs: result.requeueAfterMs } : {};
      },
      {
        workers: opts.workers ?? 4,
        clock: opts.clock,
        onError: (key, err, retryInMs) =>
          opts.logger.warn({ key, err: err instanceof Error ? err.message : String(err), retryInMs }, 'AnalysisRun reconcile failed'),
      },
    );
    opts.runs.onChange((type, run) => {
      if (type !== 'DELETED') this.queue.add(`${run.metadata?.namespace}/${run.metadata?.name}`);
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.templates.start(), this.clusterTemplates.start()]);
    for (const run of this.opts.runs.list()) this.queue.add(`${run.metadata?.namespace}/${run.metadata?.name}`);
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([this.templates.stop(), this.clusterTemplates.stop()]);
  }

  /** Templates come from the caches, so planning stays free of API calls. */
  async builderFor(rollout: Rollout): Promise<BuildAnalysisRun> {
    const namespace = rollout.metadata.namespace;
    const load = (obj: KubeObject | undefined, clusterScope: boolean, name: string): LoadedTemplate[] => {
      const spec = AnalysisTemplateSpec.safeParse((obj as { spec?: unknown } | undefined)?.spec);
      return obj && spec.success ? [{ clusterScope, name, spec: spec.data }] : [];
    };
    return (request) => {
      const templates = request.analysis.templates.flatMap((ref) =>
        ref.clusterScope
          ? load(this.clusterTemplates.get(undefined, ref.templateName), true, ref.templateName)
          : load(this.templates.get(namespace, ref.templateName), false, ref.templateName),
      );
      const built = buildAnalysisRun({
        rollout: request.rollout,
        analysis: request.analysis,
        templates,
        kind: request.kind,
        stableHash: request.stableHash,
        latestHash: request.latestHash,
        name: request.name,
        ...(request.stepIndex !== undefined ? { stepIndex: request.stepIndex } : {}),
      });
      return built.ok ? { run: built.value as unknown as Record<string, unknown> } : { error: built.error };
    };
  }

  toObserved(run: KubeObject) {
    return observedRunFromObject(run);
  }
}
