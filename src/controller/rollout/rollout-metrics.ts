// Rollout metrics, fed by the reconciler's onPlanned hook (what the reconcile decided, not a
// second reading of the cluster), named by Prometheus conventions. A deleted Rollout's series
// are removed (the Rollout cache's DELETED event).
import { Gauge, type Registry } from 'prom-client';
import type { Informer } from '../../ports/kube.ts';
import { getCondition } from '../../core/shared/conditions.ts';
import { removeSeries } from '../runtime/remove-series.ts';
import type { Planned } from './rollout-reconciler.ts';

const PHASES = ['Healthy', 'Progressing', 'Paused', 'Degraded'] as const;

export interface RolloutMetrics {
  observe(planned: Planned): void;
  forget(namespace: string, rollout: string): void;
}

export function createRolloutMetrics(registry: Registry, rollouts?: Informer): RolloutMetrics {
  const labelNames = ['namespace', 'rollout'] as const;
  const gauge = (name: string, help: string, extra: string[] = []) => new Gauge({ name, help, labelNames: [...labelNames, ...extra], registers: [registry] });
  const phase = gauge('sluice_rollout_phase', '1 for the phase a Rollout is in (Healthy, Progressing, Paused, Degraded), 0 for the others', ['phase']);
  const weight = gauge('sluice_rollout_weight', 'Canary weight in percent: kind="desired" (what the step asks for) and kind="actual" (share of ready pods)', [
    'kind',
  ]);
  const step = gauge('sluice_rollout_step', 'Index of the current canary step (0-based; the step count when all are done)');
  const steps = gauge('sluice_rollout_steps', 'Number of canary steps');
  const replicas = gauge('sluice_rollout_replicas', 'Replicas by kind: desired, current, updated, ready, available', ['kind']);
  const aborted = gauge('sluice_rollout_aborted', '1 while the Rollout is aborted (traffic back on the stable revision)');
  const deadline = gauge('sluice_rollout_progress_deadline_exceeded', '1 while the current revision has exceeded its progress deadline');
  const paused = gauge('sluice_rollout_pause_started_timestamp_seconds', 'When the current pause began (Unix seconds), by pause reason', ['reason']);
  const info = gauge('sluice_rollout_info', 'Always 1: the revision being rolled out, its pod-template hash, the stable hash and the Git commit', [
    'revision',
    'pod_template_hash',
    'stable_pod_template_hash',
    'git_revision',
    'strategy',
  ]);
  const all = [phase, weight, step, steps, replicas, aborted, deadline, paused, info];
  const lastPauses = new Map<string, Array<Record<string, string>>>();
  const lastInfo = new Map<string, Array<Record<string, string>>>();
  const metrics: RolloutMetrics = {
    observe({ rollout, plan }) {
      const labels = { namespace: rollout.metadata.namespace ?? '', rollout: rollout.metadata.name ?? '' };
      const s = plan.status;
      for (const p of PHASES) phase.set({ ...labels, phase: p }, s.phase === p ? 1 : 0);
      weight.set({ ...labels, kind: 'desired' }, s.desiredWeight ?? 0);
      weight.set({ ...labels, kind: 'actual' }, s.actualWeight ?? 0);
      step.set(labels, s.currentStepIndex ?? 0);
      steps.set(labels, rollout.spec.strategy.canary?.steps?.length ?? 0);
      replicas.set({ ...labels, kind: 'desired' }, rollout.spec.replicas ?? 1);
      replicas.set({ ...labels, kind: 'current' }, s.replicas ?? 0);
      replicas.set({ ...labels, kind: 'updated' }, s.updatedReplicas ?? 0);
      replicas.set({ ...labels, kind: 'ready' }, s.readyReplicas ?? 0);
      replicas.set({ ...labels, kind: 'available' }, s.availableReplicas ?? 0);
      aborted.set(labels, s.abort === true ? 1 : 0);
      deadline.set(labels, getCondition(s.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded' ? 1 : 0);
      // One series per current pause reason and one info series: the previous ones go.
      const key = `${labels.namespace}/${labels.rollout}`;
      const pauses = (s.pauseConditions ?? []).map((p) => ({ ...labels, reason: p.reason }));
      replace(paused, lastPauses, key, pauses);
      (s.pauseConditions ?? []).forEach((p, i) => paused.set(pauses[i]!, Date.parse(p.startTime) / 1000));
      const revision = {
        ...labels,
        revision: String(s.currentRevision ?? ''),
        pod_template_hash: s.currentPodHash ?? '',
        stable_pod_template_hash: s.stableRS ?? '',
        git_revision: s.gitRevision ?? '',
        strategy: rollout.spec.strategy.blueGreen ? 'blueGreen' : 'canary',
      };
      replace(info, lastInfo, key, [revision]);
      info.set(revision, 1);
    },
    forget(namespace, name) {
      lastPauses.delete(`${namespace}/${name}`);
      lastInfo.delete(`${namespace}/${name}`);
      for (const m of all) void removeSeries(m, { namespace, rollout: name });
    },
  };
  rollouts?.onChange((type, obj) => {
    if (type === 'DELETED') metrics.forget(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
  });
  return metrics;
}

/** Removes the series last set for `key` that are not in `next`, and remembers `next`. */
function replace(metric: Gauge, last: Map<string, Array<Record<string, string>>>, key: string, next: Array<Record<string, string>>): void {
  const keep = new Set(next.map((l) => JSON.stringify(l)));
  for (const old of last.get(key) ?? []) if (!keep.has(JSON.stringify(old))) metric.remove(old);
  last.set(key, next);
}
