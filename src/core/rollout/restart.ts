// spec.restartAt: pods created before it are evicted (so PodDisruptionBudgets hold), a batch at a time, once
// everything is available; their ReplicaSets replace them. Pure.
import type { Pod } from '../../api/workload.ts';
import { availableReplicas, event, specReplicas, wakeAt, type Context } from './context.ts';

/** Recreates pods older than spec.restartAt, a few at a time, once everything is available. */
export function planRestart(ctx: Context): void {
  const restartAt = ctx.rollout.spec.restartAt;
  if (!restartAt || ctx.status.restartedAt === restartAt) return;
  const at = Date.parse(restartAt);
  if (!Number.isFinite(at)) return;
  if (at > ctx.now.getTime()) return wakeAt(ctx, at);
  const live = [...ctx.rsByHash.values()].filter((rs) => specReplicas(rs) > 0);
  const old = ctx.observed.pods.filter((p) => !p.metadata.deletionTimestamp && Date.parse(p.metadata.creationTimestamp ?? '') < at);
  if (old.length === 0) {
    ctx.status.restartedAt = restartAt;
    event(ctx, 'RolloutRestarted', `All pods created before ${restartAt} were recreated`);
    return;
  }
  // One batch at a time: wait until the previous batch is replaced and ready. Pods, not
  // ReplicaSet status, are counted: the status can still show a pod just deleted as available.
  const readyPods = ctx.observed.pods.filter((p) => !p.metadata.deletionTimestamp && isPodReady(p)).length;
  const wanted = live.reduce((n, rs) => n + specReplicas(rs), 0);
  if (readyPods < wanted || live.some((rs) => availableReplicas(rs) < specReplicas(rs))) return;
  const batch = Math.max(1, Math.floor(ctx.replicas * 0.25));
  for (const pod of old.slice(0, batch)) ctx.actions.push({ type: 'evictPod', name: pod.metadata.name as string });
}

export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
