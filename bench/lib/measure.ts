// Figures from a recorded namespace (lib/recorder.ts): no I/O, no clock.
//
// Controller overhead: for each rollout, every moment at which the controller has something
// to do - the bench's template change ("spec-change"), all of the rollout's ReplicaSets (or
// Flagger's Deployments) becoming settled, i.e. every pod asked for exists and is available
// ("pods-ready"), and a timed pause running out ("pause-end", from the pause's startTime as
// written in the status plus its duration) - is paired with the controller's first write after
// it (a Rollout/Canary status or metadata write, a ReplicaSet/Deployment created or its
// replicas/labels/annotations changed, a Service selector changed, an AnalysisRun written).
// The figure is the time between the two, up to the rollout's completion.
import { PAUSE_MS, REPLICAS, rolloutOf } from './workloads.ts';
import type { Ev } from './recorder.ts';

type Obj = Record<string, any>;
export type CondKind = 'spec-change' | 'pods-ready' | 'pause-end';

export interface Sample {
  rollout: string;
  cond: CondKind;
  conditionAt: number;
  writeAt: number;
  ms: number;
}

export interface RunFigures {
  samples: Sample[];
  /** Time each rollout was seen complete. */
  completedAt: Map<string, number>;
  /** Writes seen per kind of write (e.g. "rollout status", "replicaset scale"), all rollouts. */
  writes: Record<string, number>;
}

const HASH_LABEL = 'rollouts-pod-template-hash';
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function settledWorkload(o: Obj): boolean {
  const want = o.spec?.replicas ?? 1;
  const s = o.status ?? {};
  if (o.metadata?.deleting) return true;
  if ((s.observedGeneration ?? 0) < (o.metadata?.generation ?? 0)) return false;
  return (s.replicas ?? 0) === want && (s.readyReplicas ?? 0) === want && (s.availableReplicas ?? 0) === want;
}

function ownerOf(e: Ev): string | undefined {
  if (e.kind === 'replicaset' || e.kind === 'analysisrun') return e.obj.metadata.owner ?? rolloutOf(e.name);
  return rolloutOf(e.name);
}

/** Rollout complete on a revision other than `initialHash`: Healthy, stable = current, generation observed. */
export function rolloutComplete(o: Obj, initialHash: string | undefined): boolean {
  const s = o.status ?? {};
  return (
    s.phase === 'Healthy' &&
    Boolean(s.stableRS) &&
    s.stableRS === s.currentPodHash &&
    s.currentPodHash !== initialHash &&
    String(s.observedGeneration) === String(o.metadata?.generation)
  );
}

/**
 * Overhead samples and completion times for Rollout-based controllers (Sluice, Argo Rollouts).
 * `start` is when the bench changed each rollout's template; `initialHash` its stable hash before.
 */
export function analyseRollouts(events: Ev[], start: Map<string, number>, initialHash: Map<string, string>): RunFigures {
  const prev = new Map<string, Obj>(); // kind/name -> last object
  const rsOf = new Map<string, Map<string, Obj>>(); // rollout -> rs name -> rs
  const settled = new Map<string, boolean>();
  const pending = new Map<string, Array<{ cond: CondKind; at: number }>>();
  const pausesSeen = new Set<string>();
  const completedAt = new Map<string, number>();
  const samples: Sample[] = [];
  const writes: Record<string, number> = {};
  const active = (r: string, t: number) => start.has(r) && t >= start.get(r)! && !completedAt.has(r);
  const addCond = (r: string, cond: CondKind, at: number) => {
    const list = pending.get(r) ?? [];
    list.push({ cond, at });
    pending.set(r, list);
  };
  const wrote = (r: string, what: string, t: number) => {
    writes[what] = (writes[what] ?? 0) + 1;
    const list = pending.get(r) ?? [];
    const left: typeof list = [];
    for (const c of list) {
      if (c.at < t) samples.push({ rollout: r, cond: c.cond, conditionAt: c.at, writeAt: t, ms: t - c.at });
      else left.push(c);
    }
    pending.set(r, left);
  };

  for (const e of events) {
    const r = ownerOf(e);
    if (!r) continue;
    const key = `${e.kind}/${e.name}`;
    const before = prev.get(key);
    if (e.type === 'DELETED') prev.delete(key);
    else prev.set(key, e.obj);
    const on = active(r, e.t);

    if (e.kind === 'rollout') {
      if (before && e.type === 'MODIFIED') {
        if (e.obj.metadata.generation !== before.metadata.generation) {
          if (on) addCond(r, 'spec-change', e.t);
        } else if (on) {
          wrote(r, sameJson(e.obj.status, before.status) ? 'rollout metadata' : 'rollout status', e.t);
        }
      }
      if (on) {
        for (const p of e.obj.status?.pauseConditions ?? []) {
          const k = `${r}/${e.obj.status?.currentStepIndex}/${p.startTime}`;
          if (p.reason === 'CanaryPauseStep' && p.startTime && !pausesSeen.has(k)) {
            pausesSeen.add(k);
            addCond(r, 'pause-end', Date.parse(p.startTime) + PAUSE_MS);
          }
        }
        if (rolloutComplete(e.obj, initialHash.get(r))) completedAt.set(r, e.t);
      }
      continue;
    }
    if (e.kind === 'replicaset') {
      const set = rsOf.get(r) ?? new Map<string, Obj>();
      rsOf.set(r, set);
      if (e.type === 'DELETED') set.delete(e.name);
      else set.set(e.name, e.obj);
      if (on) {
        if (e.type === 'ADDED' || e.type === 'DELETED') wrote(r, `replicaset ${e.type === 'ADDED' ? 'create' : 'delete'}`, e.t);
        else if (before && e.obj.spec.replicas !== before.spec.replicas) wrote(r, 'replicaset scale', e.t);
        else if (before && (!sameJson(e.obj.metadata.annotations, before.metadata.annotations) || !sameJson(e.obj.metadata.labels, before.metadata.labels)))
          wrote(r, 'replicaset metadata', e.t);
      }
      const now = [...set.values()].every(settledWorkload);
      if (on && now && !settled.get(r)) addCond(r, 'pods-ready', e.t);
      settled.set(r, now);
      continue;
    }
    if (e.kind === 'service') {
      if (on && before && e.type === 'MODIFIED' && !sameJson(e.obj.spec.selector, before.spec.selector)) wrote(r, 'service selector', e.t);
      continue;
    }
    if (e.kind === 'analysisrun' && on) wrote(r, e.type === 'ADDED' ? 'analysisrun create' : 'analysisrun status', e.t);
  }
  return { samples, completedAt, writes };
}

/** The same for Flagger: Canary status writes, Deployment and Service changes it makes. */
export function analyseFlagger(events: Ev[], start: Map<string, number>): RunFigures {
  const prev = new Map<string, Obj>();
  const depOf = new Map<string, Map<string, Obj>>();
  const settled = new Map<string, boolean>();
  const pending = new Map<string, Array<{ cond: CondKind; at: number }>>();
  const completedAt = new Map<string, number>();
  const samples: Sample[] = [];
  const writes: Record<string, number> = {};
  const active = (r: string, t: number) => start.has(r) && t >= start.get(r)! && !completedAt.has(r);
  const wrote = (r: string, what: string, t: number) => {
    writes[what] = (writes[what] ?? 0) + 1;
    const left = [];
    for (const c of pending.get(r) ?? []) {
      if (c.at < t) samples.push({ rollout: r, cond: c.cond, conditionAt: c.at, writeAt: t, ms: t - c.at });
      else left.push(c);
    }
    pending.set(r, left);
  };
  const addCond = (r: string, cond: CondKind, at: number) => pending.set(r, [...(pending.get(r) ?? []), { cond, at }]);
  for (const e of events) {
    const r = rolloutOf(e.name);
    if (!r) continue;
    const key = `${e.kind}/${e.name}`;
    const before = prev.get(key);
    if (e.type === 'DELETED') prev.delete(key);
    else prev.set(key, e.obj);
    const on = active(r, e.t);
    if (e.kind === 'canary') {
      if (on && before && e.type === 'MODIFIED' && e.obj.metadata.generation === before.metadata.generation) {
        wrote(r, sameJson(e.obj.status, before.status) ? 'canary metadata' : 'canary status', e.t);
        if (e.obj.status?.phase === 'Succeeded') completedAt.set(r, e.t);
      }
      continue;
    }
    if (e.kind === 'deployment') {
      const set = depOf.get(r) ?? new Map<string, Obj>();
      depOf.set(r, set);
      if (e.type === 'DELETED') set.delete(e.name);
      else set.set(e.name, e.obj);
      if (on) {
        if (e.type !== 'MODIFIED') wrote(r, `deployment ${e.type === 'ADDED' ? 'create' : 'delete'}`, e.t);
        else if (before && e.name === r && e.obj.spec.image !== before.spec.image)
          addCond(r, 'spec-change', e.t); // the bench's change
        else if (before && e.obj.metadata.generation !== before.metadata.generation)
          wrote(r, e.obj.spec.replicas !== before.spec.replicas ? 'deployment scale' : 'deployment spec', e.t);
        else if (before && (!sameJson(e.obj.metadata.annotations, before.metadata.annotations) || !sameJson(e.obj.metadata.labels, before.metadata.labels)))
          wrote(r, 'deployment metadata', e.t);
      }
      const now = [...set.values()].every(settledWorkload);
      if (on && now && !settled.get(r)) addCond(r, 'pods-ready', e.t);
      settled.set(r, now);
      continue;
    }
    if (e.kind === 'service' && on) {
      if (e.type === 'ADDED') wrote(r, 'service create', e.t);
      else if (before && !sameJson(e.obj.spec.selector, before.spec.selector)) wrote(r, 'service selector', e.t);
    }
  }
  return { samples, completedAt, writes };
}

/**
 * Time to safety per rollout: from the first AnalysisRun status showing a Failed measurement to
 * the first moment the stable ReplicaSet (`initialHash`) has all its pods available and every
 * other ReplicaSet of the rollout is at 0 with no pods.
 */
export function timeToSafety(events: Ev[], initialHash: Map<string, string>): Map<string, { failedAt: number; safeAt?: number }> {
  const rsOf = new Map<string, Map<string, Obj>>();
  const out = new Map<string, { failedAt: number; safeAt?: number }>();
  const safe = (r: string) => {
    const set = rsOf.get(r);
    if (!set) return false;
    let stableOk = false;
    for (const rs of set.values()) {
      const hash = rs.metadata.labels?.[HASH_LABEL];
      const s = rs.status ?? {};
      if (hash === initialHash.get(r)) stableOk = rs.spec.replicas === REPLICAS && s.readyReplicas === REPLICAS && s.availableReplicas === REPLICAS;
      else if (rs.spec.replicas !== 0 || (s.replicas ?? 0) !== 0) return false;
    }
    return stableOk;
  };
  for (const e of events) {
    const r = ownerOf(e);
    if (!r) continue;
    if (e.kind === 'analysisrun' && !out.has(r)) {
      const failed = (e.obj.status?.metricResults ?? []).some((m: Obj) => (m.measurements ?? []).some((x: Obj) => x.phase === 'Failed'));
      if (failed) out.set(r, { failedAt: e.t });
    }
    if (e.kind === 'replicaset') {
      const set = rsOf.get(r) ?? new Map<string, Obj>();
      rsOf.set(r, set);
      if (e.type === 'DELETED') set.delete(e.name);
      else set.set(e.name, e.obj);
    }
    const o = out.get(r);
    if (o && o.safeAt === undefined && safe(r)) o.safeAt = e.t;
  }
  return out;
}

/** Nearest-rank percentile. */
export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
