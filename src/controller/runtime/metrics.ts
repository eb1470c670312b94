// Metrics of the controller shell, named as client-go / controller-runtime name theirs (so
// dashboards and alerts people already have read them the same way), with the sluice_ prefix.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { WorkQueue } from './queue.ts';

export type ReconcileOutcome = 'success' | 'requeue' | 'terminal' | 'error';

export interface ControllerMetrics {
  reconciled(controller: string, outcome: ReconcileOutcome, seconds: number): void;
  added(controller: string): void;
  retried(controller: string): void;
  /** Reports the queue's depth and longest-running reconcile at each scrape. */
  watchQueue(controller: string, queue: WorkQueue): void;
}

export const noControllerMetrics: ControllerMetrics = {
  reconciled: () => {},
  added: () => {},
  retried: () => {},
  watchQueue: () => {},
};

export function createControllerMetrics(registry: Registry): ControllerMetrics {
  const queues = new Map<string, WorkQueue>();
  const reconciles = new Counter({
    name: 'sluice_controller_reconcile_total',
    help: 'Reconciles by controller and outcome (success, requeue, terminal, error)',
    labelNames: ['controller', 'result'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'sluice_controller_reconcile_errors_total',
    help: 'Reconciles that failed and are retried with backoff',
    labelNames: ['controller'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sluice_controller_reconcile_time_seconds',
    help: 'Time to observe, decide and act for one key',
    labelNames: ['controller'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const adds = new Counter({ name: 'sluice_workqueue_adds_total', help: 'Keys queued', labelNames: ['name'], registers: [registry] });
  const retries = new Counter({
    name: 'sluice_workqueue_retries_total',
    help: 'Keys queued again after a failure',
    labelNames: ['name'],
    registers: [registry],
  });
  new Gauge({
    name: 'sluice_workqueue_depth',
    help: 'Keys waiting to be reconciled',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      for (const [name, queue] of queues) this.set({ name }, queue.size().queued);
    },
  });
  new Gauge({
    name: 'sluice_workqueue_longest_running_processor_seconds',
    help: 'How long the longest reconcile in flight has been running',
    labelNames: ['name'],
    registers: [registry],
    collect() {
      for (const [name, queue] of queues) this.set({ name }, queue.longestRunningMs() / 1000);
    },
  });
  return {
    reconciled(controller, outcome, seconds) {
      reconciles.inc({ controller, result: outcome });
      if (outcome === 'error') errors.inc({ controller });
      duration.observe({ controller }, seconds);
    },
    added: (controller) => adds.inc({ name: controller }),
    retried: (controller) => retries.inc({ name: controller }),
    watchQueue: (controller, queue) => void queues.set(controller, queue),
  };
}
