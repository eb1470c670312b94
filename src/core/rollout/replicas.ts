// Replica arithmetic: surge and unavailability budgets, the counts that carry a weight, and one
// move towards them. The algorithm is Argo Rollouts' basic canary (utils/replicaset/canary.go,
// v1.10), rewritten here so Sluice runs the same pod counts at every step as Argo's tests expect.
import type { IntOrPercent } from '../../api/meta.ts';

/** Resolves an int-or-percent against a total; percentages round up for surge, down for unavailable. */
export function resolveIntOrPercent(value: IntOrPercent | undefined, total: number, fallback: IntOrPercent, roundUp: boolean): number {
  const v = value ?? fallback;
  if (typeof v === 'number') return v;
  const percent = Number(v.slice(0, -1));
  const raw = (percent * total) / 100;
  return roundUp ? Math.ceil(raw) : Math.floor(raw);
}

export interface Budgets {
  maxSurge: number;
  maxUnavailable: number;
}

/** maxSurge / maxUnavailable for a total, as Argo Rollouts (and Deployments): both 0 would deadlock, so unavailable becomes 1. */
export function calculateBudgets(replicas: number, maxSurge: IntOrPercent | undefined, maxUnavailable: IntOrPercent | undefined): Budgets {
  const surge = resolveIntOrPercent(maxSurge, replicas, '25%', true);
  let unavailable = resolveIntOrPercent(maxUnavailable, replicas, '25%', false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { maxSurge: surge, maxUnavailable: Math.min(unavailable, replicas) };
}

/** Canary pods for a weight of a fixed total: ceil(replicas * weight / 100) (setCanaryScale weight, as Argo's trafficWeightToReplicas). */
export function canaryReplicasForWeight(replicas: number, weight: number): number {
  return Math.min(replicas, Math.ceil((replicas * weight) / 100));
}

/** The share (0-100, rounded) of ready pods the canary holds behind a Service selecting both. */
export function actualWeight(canaryReady: number, stableReady: number): number {
  const total = canaryReady + stableReady;
  return total === 0 ? 0 : Math.round((canaryReady * 100) / total);
}

export interface Targets {
  canary: number;
  stable: number;
}

const tiedAt = (weight: number, total: number): boolean => {
  const x = total * (weight / 100);
  return x - Math.trunc(x) === 0.5;
};
const distance = (weight: number, canary: number, total: number): number => Math.abs((canary * 100) / total - weight);

/**
 * The canary and stable counts whose canary share is closest to `weight`. The total is `replicas`,
 * or `replicas + 1` when a surge is allowed and that gets closer (one stable and one canary pod
 * for 50% of 1 replica). A weight strictly between 0 and 100 never rounds the canary to 0 pods
 * when two pods are possible, nor takes every pod of `replicas` from stable. On equal distances
 * the earlier candidate wins: ceil over floor, `replicas` over `replicas + 1`.
 */
export function approximateWeight(replicas: number, weight: number, maxSurge: number): Targets {
  if (replicas === 0) return { canary: 0, stable: 0 };
  const ceil = Math.ceil((replicas * weight) / 100);
  const floor = Math.floor((replicas * weight) / 100);
  const zeroAllowed = weight === 100 || weight === 0 || (replicas === 1 && maxSurge === 0);
  const options: Array<{ canary: number; total: number }> = [];
  if (ceil < replicas || zeroAllowed) options.push({ canary: ceil, total: replicas });
  if (!tiedAt(weight, replicas) && (floor !== 0 || zeroAllowed)) options.push({ canary: floor, total: replicas });
  if (maxSurge > 0) {
    // As Argo: the ceiling is that of `replicas`, tried against one more pod in total.
    options.push({ canary: ceil, total: replicas + 1 });
    if (!tiedAt(weight, replicas + 1) && (floor !== 0 || zeroAllowed)) options.push({ canary: floor, total: replicas + 1 });
  }
  // Two deliberate differences from Argo Rollouts: (1) below 100% the stable revision keeps a pod
  // (Argo runs the only pod of `replicas: 1, maxSurge: 0` as canary from 50%: all traffic on the
  // new version while the step says 50); (2) where Argo finds no candidate (e.g. 75% of 2 pods
  // without surge, a tie next to `replicas`) it falls back to 0 canary pods; Sluice takes the floor.
  const keepStable = weight < 100 ? options.filter((o) => o.total - o.canary >= 1) : options;
  const candidates = keepStable.length > 0 ? keepStable : weight < 100 ? [{ canary: Math.min(floor, replicas - 1), total: replicas }] : options;
  let best = candidates[0]!;
  for (const o of candidates.slice(1)) if (distance(weight, o.canary, o.total) < distance(weight, best.canary, best.total)) best = o;
  return { canary: best.canary, stable: best.total - best.canary };
}

export interface RsCounts {
  /** spec.replicas */
  spec: number;
  available: number;
}

/** Pods of a ReplicaSet that count as available when planning a scale-down (Argo's GetReplicasForScaleDown). */
function countedForScaleDown(rs: RsCounts | undefined, ignoreAvailability: boolean): number {
  if (!rs) return 0;
  // Pods above spec are going away anyway: never count them as available.
  if (rs.spec < rs.available) return rs.spec;
  return ignoreAvailability ? rs.spec : rs.available;
}

/**
 * After one ReplicaSet (`drain`) was scaled down, brings the other (`keep`) back within the surge
 * limit, giving it back pods where that would take availability below the minimum; whatever is
 * still over the limit comes off `drain`.
 */
function withinLimits(
  drain: RsCounts | undefined,
  keep: RsCounts | undefined,
  drainCount: number,
  keepCount: number,
  maxTotal: number,
  minAvailable: number,
): [number, number] {
  let over = Math.max(0, keepCount + drainCount - maxTotal);
  let available = drain ? Math.min(drain.available, drainCount) : 0;
  if (keep) {
    keepCount -= over;
    available += Math.min(keep.available, keepCount);
    const lost = Math.max(0, keep.available - keepCount);
    keepCount += Math.min(lost, Math.max(0, minAvailable - available));
    over = Math.max(0, keepCount + drainCount - maxTotal);
    drainCount -= over;
  }
  return [drainCount, keepCount];
}

export interface CanaryMoveInput {
  replicas: number;
  budgets: Budgets;
  /** The counts the step asks for (approximateWeight, or an explicit canary scale). */
  desired: Targets;
  /** The canary ReplicaSet, when it exists. */
  canary: RsCounts | undefined;
  /** The stable ReplicaSet, when it exists and is not the canary. */
  stable: RsCounts | undefined;
  /** spec.replicas of every other ReplicaSet of the Rollout. */
  othersSpec: number;
}

/**
 * One move from the current counts towards `desired`, within the budgets (Argo's
 * CalculateReplicaCountsForBasicCanary): scale-ups never take total pods above replicas + maxSurge
 * and go to stable first; scale-downs wait until other ReplicaSets are gone and never take
 * available pods below replicas - maxUnavailable. While the canary grows, stable pods that are
 * not available may go freely; while it shrinks (a lower weight, an abort), canary pods may.
 * Returns the spec counts to set now.
 */
export function calculateCanaryMove(input: CanaryMoveInput): Targets {
  const { replicas, budgets, canary, stable, othersSpec } = input;
  let { canary: wantCanary, stable: wantStable } = input.desired;
  if (!stable) {
    wantCanary = replicas;
    wantStable = 0;
  }
  let nextCanary = canary?.spec ?? 0;
  let nextStable = stable?.spec ?? 0;
  const maxTotal = replicas + budgets.maxSurge;
  let room = maxTotal - (othersSpec + (canary?.spec ?? 0) + (stable?.spec ?? 0));
  if (stable && stable.spec < wantStable && room > 0) {
    nextStable = Math.min(wantStable, stable.spec + room);
    room -= nextStable - stable.spec;
  }
  if (canary && canary.spec < wantCanary && room > 0) nextCanary = Math.min(wantCanary, canary.spec + room);
  if (othersSpec > 0) return { canary: nextCanary, stable: nextStable };

  const minAvailable = replicas - budgets.maxUnavailable;
  const increasing = !canary || wantCanary >= canary.spec;
  const counted = countedForScaleDown(canary, !increasing) + countedForScaleDown(stable, increasing);
  if (counted <= minAvailable) return { canary: nextCanary, stable: nextStable };
  const spare = counted - minAvailable;
  if (!increasing) {
    if (canary && canary.spec > wantCanary) nextCanary = Math.max(wantCanary, canary.spec - spare);
    [nextCanary, nextStable] = withinLimits(canary, stable, nextCanary, nextStable, maxTotal, minAvailable);
  } else if (stable) {
    if (stable.spec > wantStable) nextStable = Math.max(wantStable, stable.spec - spare);
    [nextStable, nextCanary] = withinLimits(stable, canary, nextStable, nextCanary, maxTotal, minAvailable);
  }
  return { canary: nextCanary, stable: nextStable };
}
