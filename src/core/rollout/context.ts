// The working state of one plan: observed facts indexed once, plus the actions, events and
// wake-up times the strategy decides. Built and consumed inside plan(); never escapes it.
import { MANAGED_BY_ROLLOUT_ANNOTATION, POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';
import { REVISION_ANNOTATION, type PauseCondition, type PauseReason, type Rollout, type RolloutStatus } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workload.ts';
import { podTemplateHash } from '../shared/hash.ts';
import type { Action, Observed } from './types.ts';

export { REVISION_ANNOTATION };
export const FINALIZER = 'sluice.dev/service-selectors';

export interface Context {
  observed: Observed;
  rollout: Rollout;
  now: Date;
  nowIso: string;
  replicas: number;
  newHash: string;
  rsByHash: Map<string, ReplicaSet>;
  newRS: ReplicaSet | undefined;
  /** Status carried over and updated as the plan goes. */
  status: RolloutStatus;
  previous: RolloutStatus;
  actions: Action[];
  wakeAt: number[];
  /** What the strategy is doing or waiting for, for status.message. */
  progress?: string;
  deadlineExceeded?: boolean;
  /** Set when a canary step completed in this plan (the next one is planned right after). */
  stepAdvanced?: boolean;
}

export function hashOf(rs: ReplicaSet): string | undefined {
  return rs.metadata.labels?.[POD_TEMPLATE_HASH_LABEL];
}

export function specReplicas(rs: ReplicaSet | undefined): number {
  return rs?.spec.replicas ?? 0;
}

export function availableReplicas(rs: ReplicaSet | undefined): number {
  if (!rs) return 0;
  // Counts are only trusted once the ReplicaSet controller has seen the current spec.
  const observedGeneration = rs.status?.observedGeneration ?? 0;
  const generation = rs.metadata.generation ?? 0;
  const available = rs.status?.availableReplicas ?? 0;
  return observedGeneration >= generation ? available : Math.min(available, rs.spec.replicas ?? 0);
}

/** Ready pods, trusted like available ones (so the two counts move together in status). */
export function readyReplicas(rs: ReplicaSet | undefined): number {
  if (!rs) return 0;
  const ready = rs.status?.readyReplicas ?? 0;
  return (rs.status?.observedGeneration ?? 0) >= (rs.metadata.generation ?? 0) ? ready : Math.min(ready, rs.spec.replicas ?? 0);
}

export function revisionOf(rs: ReplicaSet): number {
  return Number(rs.metadata.annotations?.[REVISION_ANNOTATION] ?? 0) || 0;
}

export function newContext(observed: Observed, now: Date): Context {
  const rollout = observed.rollout;
  const rsByHash = new Map<string, ReplicaSet>();
  for (const rs of observed.replicaSets) {
    const hash = hashOf(rs);
    if (hash && !rs.metadata.deletionTimestamp) rsByHash.set(hash, rs);
  }
  const newHash = observed.equivalentHash ?? podTemplateHash(rollout.spec.template);
  const previous = rollout.status ?? {};
  return {
    observed,
    rollout,
    now,
    nowIso: now.toISOString(),
    replicas: rollout.spec.replicas ?? 1,
    newHash,
    rsByHash,
    newRS: rsByHash.get(newHash),
    status: structuredClone(previous),
    previous,
    actions: [],
    wakeAt: [],
  };
}

export function event(ctx: Context, reason: string, message: string, eventType: 'Normal' | 'Warning' = 'Normal'): void {
  ctx.actions.push({ type: 'event', eventType, reason, message });
}

export function wakeAt(ctx: Context, time: number): void {
  if (Number.isFinite(time)) ctx.wakeAt.push(time);
}

/** The last decision about a ReplicaSet's size in a plan wins. */
export function scale(ctx: Context, rs: ReplicaSet | undefined, replicas: number): void {
  if (!rs) return;
  const name = rs.metadata.name as string;
  ctx.actions = ctx.actions.filter((a) => !(a.type === 'scaleReplicaSet' && a.name === name && !a.annotations));
  if (specReplicas(rs) === replicas) return;
  ctx.actions.push({ type: 'scaleReplicaSet', name, replicas });
}

/** The last decision about a Service's selector in a plan wins. */
export function setSelector(ctx: Context, service: string | undefined, hash: string): void {
  if (!service) return;
  ctx.actions = ctx.actions.filter((a) => !(a.type === 'setServiceSelector' && a.service === service));
  const svc = ctx.observed.services[service];
  if (!svc) return;
  // pinned already, and marked as this Rollout's (a pin from before the mark existed is marked now)
  const marked = svc.metadata?.annotations?.[MANAGED_BY_ROLLOUT_ANNOTATION] === ctx.rollout.metadata.name;
  if (svc.spec?.selector?.[POD_TEMPLATE_HASH_LABEL] === hash && marked) return;
  ctx.actions.push({ type: 'setServiceSelector', service, hash });
}

export function hasPause(status: RolloutStatus, reason: PauseReason): boolean {
  return (status.pauseConditions ?? []).some((p) => p.reason === reason);
}

export function addPause(ctx: Context, reason: PauseReason): PauseCondition {
  const existing = (ctx.status.pauseConditions ?? []).find((p) => p.reason === reason);
  if (existing) return existing;
  const condition = { reason, startTime: ctx.nowIso };
  ctx.status.pauseConditions = [...(ctx.status.pauseConditions ?? []), condition];
  return condition;
}

export function removePause(ctx: Context, reason: PauseReason): void {
  const left = (ctx.status.pauseConditions ?? []).filter((p) => p.reason !== reason);
  ctx.status.pauseConditions = left.length ? left : undefined;
}

/** Paused by a person: spec.paused (declared, e.g. in Git) or the plugin's UserPause. */
export function isUserPaused(ctx: Context): boolean {
  return ctx.rollout.spec.paused === true || hasPause(ctx.status, 'UserPause');
}
