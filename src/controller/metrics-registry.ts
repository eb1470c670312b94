// Every metric the controller exports, registered in one place: main.ts serves this registry,
// and the dashboard test checks that every metric deploy/grafana/sluice.json queries is here.
import { collectDefaultMetrics, Gauge, type Registry } from 'prom-client';
import { VERSION } from '../version.ts';
import type { Informer } from '../ports/kube.ts';
import { watchAnalysisMetrics } from './analysis/analysis-metrics.ts';
import { watchGitSyncMetrics } from './gitsync/gitsync-metrics.ts';
import { createNotifyMetrics, type NotifyMetrics } from './notify/notify-metrics.ts';
import { createRolloutMetrics, type RolloutMetrics } from './rollout/rollout-metrics.ts';
import { createApiRequestMetrics } from './runtime/api-metrics.ts';
import { createControllerMetrics, type ControllerMetrics } from './runtime/metrics.ts';

export interface ControllerRegistry {
  controller: ControllerMetrics;
  notify: NotifyMetrics;
  /** The kube adapter's onRequest hook. */
  apiRequest: (verb: string, code: number, seconds: number) => void;
  /** Once the caches exist: the Rollout, AnalysisRun and GitSync metrics they feed. */
  watch(caches: { rollouts: Informer; analysisRuns: Informer; gitSyncs: Informer }): RolloutMetrics;
}

export function registerControllerMetrics(registry: Registry): ControllerRegistry {
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });
  // What `kubectl sluice version --metrics-url` reads.
  new Gauge({ name: 'sluice_build_info', help: 'The running controller (always 1)', labelNames: ['version', 'node'], registers: [registry] }).set(
    { version: VERSION, node: process.version },
    1,
  );
  return {
    controller: createControllerMetrics(registry),
    notify: createNotifyMetrics(registry),
    apiRequest: createApiRequestMetrics(registry),
    watch({ rollouts, analysisRuns, gitSyncs }) {
      watchAnalysisMetrics(registry, analysisRuns);
      watchGitSyncMetrics(registry, gitSyncs);
      return createRolloutMetrics(registry, rollouts);
    },
  };
}
