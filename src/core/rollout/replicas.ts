// Replica arithmetic: surge and unavailability budgets, and the counts that carry a weight.
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

/** maxSurge / maxUnavailable for a total; as in Deployments, both 0 would deadlock, so unavailable becomes 1. */
export function calculateBudgets(replicas: number, maxSurge: IntOrPercent | undefined, maxUnavailable: IntOrPercent | undefined): Budgets {
  const surge = resolveIntOrPercent(maxSurge, replicas, '25%', true);
  let unavailable = resolveIntOrPercent(maxUnavailable, replicas, '25%', false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return { maxSurge: surge, maxUnavailable: Math.min(unavailable, replicas) };
}

/** Canary pods for a weight: ceil(replicas * weight / 100), so any non-zero weight gets a pod. */
export function canaryReplicasForWeight(replicas: number, weight: number): number {
  return Math.min(replicas, Math.ceil((replicas * weight) / 100));
}

/** The share (0-100, rounded) of ready pods the canary holds behind a Service selecting both. */
export function actualWeight(canaryReady: number, stableReady: number): number {
  const total = canaryReady + stableReady;
  return total === 0 ? 0 : Math.round((canaryReady * 100) / total);
}

export interface RsCounts {
  /** spec.replicas */
  spec: number;
  available: number;
}

export interface Targets {
  canary: number;
  stable: number;
}

/**
 * One move from the current counts towards the targets, within the budgets:
 * scale-ups never take total pods above replicas + maxSurge; scale-downs never take
 * available pods below replicas - maxUnavailable. Other (old) ReplicaSets' pods count
 * against both budgets. Returns the spec counts to set now.
 */
export function calculateCanaryMove(replicas: number, budgets: Budgets, canary: RsCounts, stable: RsCounts, others: RsCounts, targets: Targets): Targets {
  const maxTotal = replicas + budgets.maxSurge;
  const minAvailable = Math.max(0, replicas - budgets.maxUnavailable);
  let nextCanary = canary.spec;
  let nextStable = stable.spec;
  // Scale up first, within the surge budget.
  let room = maxTotal - (canary.spec + stable.spec + others.spec);
  if (targets.canary > nextCanary) {
    const up = Math.max(0, Math.min(targets.canary - nextCanary, room));
    nextCanary += up;
    room -= up;
  }
  if (targets.stable > nextStable) {
    nextStable += Math.max(0, Math.min(targets.stable - nextStable, room));
  }
  // Then scale down, keeping enough available pods. Pods of a ReplicaSet scaled down are
  // assumed to go from its unavailable ones first, as the ReplicaSet controller does.
  let spareAvailable = canary.available + stable.available + others.available - minAvailable;
  if (targets.stable < nextStable) {
    const unavailableHere = Math.max(0, stable.spec - stable.available);
    const free = Math.min(nextStable - targets.stable, unavailableHere);
    const down = free + Math.max(0, Math.min(nextStable - targets.stable - free, spareAvailable));
    nextStable -= down;
    spareAvailable -= Math.max(0, down - free);
  }
  if (targets.canary < nextCanary) {
    const unavailableHere = Math.max(0, canary.spec - canary.available);
    const free = Math.min(nextCanary - targets.canary, unavailableHere);
    nextCanary -= free + Math.max(0, Math.min(nextCanary - targets.canary - free, spareAvailable));
  }
  return { canary: nextCanary, stable: nextStable };
}
