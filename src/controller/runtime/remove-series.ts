// Removing the series of an object that is gone (a deleted Rollout, AnalysisRun, GitSync or
// NotificationPolicy) from a metric, whatever its other labels: prom-client's remove() wants
// every label, so the series are found through get().
import type { Counter, Gauge } from 'prom-client';

export async function removeSeries(metric: Counter | Gauge, match: Record<string, string>): Promise<void> {
  const { values } = await metric.get();
  for (const { labels } of values) {
    if (Object.entries(match).every(([k, v]) => labels[k] === v)) metric.remove(labels as Record<string, string>);
  }
}
