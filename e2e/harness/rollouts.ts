// Helpers for Rollout scenarios: manifests built as objects (applied as YAML), one-call snapshots of a Rollout with its ReplicaSets,
// Services and Events, and the user actions written exactly as the README's field
// contract says (`kubectl patch --subresource=status --type=merge`, or a spec write).
//
//   const s = scenarioNamespace(env, 'canary');       // per test: own namespace
//   await s.apply(canaryRollout({ steps: [{ setWeight: 50 }, { pause: {} }] }));
//   await s.waitFor('paused at step 2', (v) => assert.equal(v.rollout.status.phase, 'Paused'));
//   await s.promote();
import assert from 'node:assert/strict';
import { dump } from 'js-yaml';
import type { AttachedEnv } from './attach.ts';
import type { Kubectl } from './kubectl.ts';
import { waitFor } from './wait.ts';

export const HASH_LABEL = 'rollouts-pod-template-hash';
export const NEVER_READY_NODE_SELECTOR = { 'sluice.dev/e2e-no-such-node': 'true' };

type Obj = Record<string, any>;

export interface RolloutOptions {
  name?: string;
  replicas?: number;
  image?: string;
  /** Extra fields of the pod spec (e.g. a nodeSelector no Node matches: pods stay Pending). */
  podSpec?: Obj;
  /** Extra fields of the Rollout spec (progressDeadlineSeconds, restartAt, …). */
  spec?: Obj;
}

export interface CanaryOptions extends RolloutOptions {
  steps?: Obj[];
  /** Extra fields of spec.strategy.canary. */
  canary?: Obj;
}

export interface BlueGreenOptions extends RolloutOptions {
  /** Extra fields of spec.strategy.blueGreen. */
  blueGreen?: Obj;
}

/** The pod template every scenario uses; only the image (and extra pod spec) vary. */
export function podTemplate(name: string, image: string, podSpec: Obj = {}): Obj {
  return {
    metadata: { labels: { app: name } },
    spec: { containers: [{ name: 'app', image, ports: [{ containerPort: 8080 }] }], ...podSpec },
  };
}

export function service(name: string, app: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name },
    spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] },
  };
}

function rollout(o: RolloutOptions, strategy: Obj): Obj {
  const name = o.name ?? 'demo';
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name },
    spec: {
      replicas: o.replicas ?? 4,
      selector: { matchLabels: { app: name } },
      template: podTemplate(name, o.image ?? 'example/app:v1', o.podSpec),
      ...o.spec,
      strategy,
    },
  };
}

/** A canary Rollout named `demo` (by default) with `<name>-stable` and `<name>-canary` Services. */
export function canaryRollout(o: CanaryOptions = {}): Obj {
  const name = o.name ?? 'demo';
  return rollout(o, {
    canary: {
      stableService: `${name}-stable`,
      canaryService: `${name}-canary`,
      maxSurge: 1,
      maxUnavailable: 0,
      steps: o.steps ?? [],
      ...o.canary,
    },
  });
}

export function canaryServices(name = 'demo'): Obj[] {
  return [service(name, name), service(`${name}-stable`, name), service(`${name}-canary`, name)];
}

/** A blue-green Rollout with `<name>-active` and `<name>-preview` Services. */
export function blueGreenRollout(o: BlueGreenOptions = {}): Obj {
  const name = o.name ?? 'demo';
  return rollout(o, {
    blueGreen: { activeService: `${name}-active`, previewService: `${name}-preview`, ...o.blueGreen },
  });
}

export function blueGreenServices(name = 'demo'): Obj[] {
  return [service(`${name}-active`, name), service(`${name}-preview`, name)];
}

/** Objects as a multi-document YAML stream, as a person would write it. */
export function manifest(...objs: Array<Obj | Obj[]>): string {
  return objs
    .flat()
    .map((o) => dump(o, { lineWidth: 200 }))
    .join('---\n');
}

export interface RsView {
  name: string;
  hash: string;
  image: string;
  revision: number;
  /** spec.replicas */
  spec: number;
  /** status.replicas */
  current: number;
  ready: number;
  available: number;
  template: Obj;
  resourceVersion: string;
}

export interface EventView {
  reason: string;
  message: string;
  type: string;
  resourceVersion: number;
}

export interface View {
  rollout: Obj & { status: Obj; spec: Obj; metadata: Obj };
  /** The Rollout's ReplicaSets (controlled by it), oldest revision first. */
  replicaSets: RsView[];
  /** By hash. */
  rs: Record<string, RsView>;
  /** Service name -> the pod-template hash its selector pins ('' when none). */
  selectors: Record<string, string>;
  pods: Obj[];
}

/** The Services each strategy's helpers create and the controller pins. */
export const PINNED_SERVICES = { canary: ['demo-stable', 'demo-canary'], blueGreen: ['demo-active', 'demo-preview'] } as const;

/**
 * Healthy on `hash`: status for the current generation, every pod of that revision available,
 * no other revision running, and the strategy's Services pinned to it.
 */
export function assertHealthyOn(v: View, hash: string | undefined, replicas: number, strategy: keyof typeof PINNED_SERVICES = 'canary'): void {
  const s = v.rollout.status;
  assert.ok(hash, 'no current hash yet');
  assert.equal(s.phase, 'Healthy');
  assert.equal(s.observedGeneration, v.rollout.metadata.generation, 'status is for the current generation');
  assert.equal(s.stableRS, hash);
  assert.equal(s.currentPodHash, hash);
  assert.equal(v.rs[hash]?.spec, replicas);
  assert.equal(v.rs[hash]?.available, replicas);
  for (const other of v.replicaSets.filter((r) => r.hash !== hash)) {
    assert.equal(other.spec, 0, `${other.name} scaled to 0`);
    assert.equal(other.current, 0, `${other.name} has no pods`);
  }
  for (const svc of PINNED_SERVICES[strategy]) assert.equal(v.selectors[svc], hash, `${svc} selects ${hash}`);
}

/** Snapshot of one Rollout: the object, its ReplicaSets, Services and pods, in one kubectl call. */
export async function view(k: Kubectl, ns: string, name: string): Promise<View> {
  const list = await k.json<{ items: Obj[] }>(['get', 'rollouts.sluice.dev,replicasets,services,pods', '-n', ns]);
  const ro = list.items.find((o) => o.kind === 'Rollout' && o.metadata.name === name);
  if (!ro) throw new Error(`rollout ${ns}/${name} not found`);
  ro.status ??= {};
  const uid = ro.metadata.uid;
  const replicaSets: RsView[] = list.items
    .filter((o) => o.kind === 'ReplicaSet' && (o.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === uid && r.controller))
    .map((o) => ({
      name: o.metadata.name,
      hash: o.metadata.labels?.[HASH_LABEL] ?? '',
      image: o.spec.template?.spec?.containers?.[0]?.image ?? '',
      revision: Number(o.metadata.annotations?.['sluice.dev/revision'] ?? 0),
      spec: o.spec.replicas ?? 0,
      current: o.status?.replicas ?? 0,
      ready: o.status?.readyReplicas ?? 0,
      available: o.status?.availableReplicas ?? 0,
      template: o.spec.template,
      resourceVersion: o.metadata.resourceVersion,
    }))
    .sort((a, b) => a.revision - b.revision);
  const selectors: Record<string, string> = {};
  for (const s of list.items.filter((o) => o.kind === 'Service')) selectors[s.metadata.name] = s.spec.selector?.[HASH_LABEL] ?? '';
  const rsNames = new Set(replicaSets.map((r) => r.name));
  const pods = list.items.filter((o) => o.kind === 'Pod' && (o.metadata.ownerReferences ?? []).some((r: Obj) => rsNames.has(r.name)));
  return { rollout: ro as View['rollout'], replicaSets, rs: Object.fromEntries(replicaSets.map((r) => [r.hash, r])), selectors, pods };
}

/** Events about one Rollout, in the order they were written. */
export async function rolloutEvents(k: Kubectl, ns: string, name: string): Promise<EventView[]> {
  const list = await k.json<{ items: Obj[] }>(['get', 'events', '-n', ns, '--field-selector', `involvedObject.kind=Rollout,involvedObject.name=${name}`]);
  return list.items
    .map((e) => ({ reason: e.reason, message: e.message, type: e.type, resourceVersion: Number(e.metadata.resourceVersion) }))
    .sort((a, b) => a.resourceVersion - b.resourceVersion);
}

/** A pod is Ready as Kubernetes means it (phase Running and condition Ready True, not terminating). */
export function podReady(p: Obj): boolean {
  return (
    !p.metadata.deletionTimestamp && p.status?.phase === 'Running' && (p.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True')
  );
}

/** A compact one-line summary of a view, for assertion messages. */
export function summary(v: View): string {
  const s = v.rollout.status;
  const sets = v.replicaSets.map((r) => `${r.hash}(${r.image.split(':').pop()}) ${r.spec}/${r.current}/${r.available}`).join(', ');
  const sel = Object.entries(v.selectors)
    .filter(([, h]) => h)
    .map(([n, h]) => `${n}->${h}`)
    .join(' ');
  return (
    `phase=${s.phase} step=${s.currentStepIndex}/${s.stepCount} weight=${s.desiredWeight}/${s.actualWeight} ` +
    `stable=${s.stableRS} current=${s.currentPodHash} abort=${s.abort ?? false} ` +
    `pauses=${JSON.stringify((s.pauseConditions ?? []).map((p: Obj) => p.reason))} ` +
    `| rs spec/current/available: ${sets} | ${sel} | ${s.message ?? ''}`
  );
}

/** `fn` throws (assertions) until the view is what it wants; the last summary is in the timeout message. */
export async function waitView(k: Kubectl, ns: string, name: string, describe: string, fn: (v: View) => unknown, timeoutMs = 30_000): Promise<View> {
  let last = '';
  try {
    return (await waitFor(
      describe,
      async () => {
        const v = await view(k, ns, name);
        last = summary(v);
        const r = await fn(v);
        return r === false ? undefined : v;
      },
      { timeoutMs, intervalMs: 250 },
    )) as View;
  } catch (err) {
    (err as Error).message += `\n  last seen: ${last}`;
    throw err;
  }
}

/**
 * Watches for `ms` and fails as soon as `fn` throws: for "this does not happen" checks
 * (a paused rollout stays paused). The only fixed-length wait the scenarios use.
 */
export async function holds(k: Kubectl, ns: string, name: string, describe: string, fn: (v: View) => void, ms: number): Promise<View> {
  const end = Date.now() + ms;
  let v: View;
  do {
    v = await view(k, ns, name);
    try {
      fn(v);
    } catch (err) {
      (err as Error).message = `expected ${describe} for ${ms}ms, but: ${(err as Error).message}\n  seen: ${summary(v)}`;
      throw err;
    }
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < end);
  return v;
}

/** The template of a ReplicaSet as a Rollout template: its labels without the pod-template hash. */
export function templateOf(rs: RsView): Obj {
  const t = structuredClone(rs.template);
  delete t.metadata?.labels?.[HASH_LABEL];
  return t;
}

export interface Scenario {
  ns: string;
  name: string;
  k: Kubectl;
  apply(yaml: string): Promise<string>;
  view(): Promise<View>;
  /** Polls the view until `fn` stops throwing (and does not return false). */
  waitFor(describe: string, fn: (v: View) => unknown, timeoutMs?: number): Promise<View>;
  holds(describe: string, fn: (v: View) => void, ms: number): Promise<View>;
  events(): Promise<EventView[]>;
  /** Waits until an event with this reason (and message part) exists; returns all events. */
  waitEvent(reason: string, messagePart?: string, timeoutMs?: number): Promise<EventView[]>;
  /** `kubectl patch rollout --subresource=status --type=merge` with `{status: patch}`. */
  patchStatus(patch: Obj): Promise<void>;
  /** `kubectl patch rollout --type=merge` with `{spec: patch}`. */
  patchSpec(patch: Obj): Promise<void>;
  setImage(image: string): Promise<void>;
  /** promote: remove pauseConditions (or, when not paused, currentStepIndex + 1). */
  promote(): Promise<void>;
  promoteFull(): Promise<void>;
  abort(): Promise<void>;
  /** retry: abort false, abortedAt/abortMessage removed, currentStepIndex 0, retries + 1. */
  retry(): Promise<void>;
  /** The Rollout's resourceVersion and its ReplicaSets' stay the same for `ms` (no hot loop). */
  settled(ms?: number): Promise<void>;
}

export function scenario(env: AttachedEnv, ns: string, name = 'demo'): Scenario {
  const k = env.kubectl;
  const s: Scenario = {
    ns,
    name,
    k,
    apply: (yaml) => k.apply(yaml, { namespace: ns }),
    view: () => view(k, ns, name),
    waitFor: (describe, fn, timeoutMs) => waitView(k, ns, name, describe, fn, timeoutMs),
    holds: (describe, fn, ms) => holds(k, ns, name, describe, fn, ms),
    events: () => rolloutEvents(k, ns, name),
    async waitEvent(reason, messagePart, timeoutMs = 30_000) {
      return waitFor(
        `event ${reason}${messagePart ? ` "${messagePart}"` : ''} on rollout ${ns}/${name}`,
        async () => {
          const evs = await rolloutEvents(k, ns, name);
          assert.ok(
            evs.some((e) => e.reason === reason && (!messagePart || e.message.includes(messagePart))),
            `events so far: ${evs.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`,
          );
          return evs;
        },
        { timeoutMs, intervalMs: 300 },
      );
    },
    async patchStatus(patch) {
      await k.ok(['patch', 'rollout', name, '-n', ns, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: patch })]);
    },
    async patchSpec(patch) {
      await k.ok(['patch', 'rollout', name, '-n', ns, '--type=merge', '-p', JSON.stringify({ spec: patch })]);
    },
    async setImage(image) {
      await k.ok([
        'patch',
        'rollout',
        name,
        '-n',
        ns,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: '/spec/template/spec/containers/0/image', value: image }]),
      ]);
    },
    async promote() {
      const v = await s.view();
      if ((v.rollout.status.pauseConditions ?? []).length > 0) await s.patchStatus({ pauseConditions: null });
      else await s.patchStatus({ currentStepIndex: (v.rollout.status.currentStepIndex ?? 0) + 1 });
    },
    promoteFull: () => s.patchStatus({ promoteFull: true }),
    abort: () => s.patchStatus({ abort: true }),
    async retry() {
      const v = await s.view();
      await s.patchStatus({
        abort: false,
        abortedAt: null,
        abortMessage: null,
        currentStepIndex: 0,
        retries: (v.rollout.status.retries ?? 0) + 1,
      });
    },
    async settled(ms = 2000) {
      const key = (v: View) => [v.rollout.metadata.resourceVersion, ...v.replicaSets.map((r) => r.resourceVersion)].join(',');
      const before = await s.view();
      await s.holds('no writes to the Rollout or its ReplicaSets (no hot loop)', (v) => assert.equal(key(v), key(before)), ms);
    },
  };
  return s;
}

/** Step-completed events ("Step i/n completed (…)") in order, as their "i/n". */
export function completedSteps(events: EventView[]): string[] {
  return events.filter((e) => e.reason === 'StepCompleted').map((e) => /Step (\d+\/\d+) completed/.exec(e.message)?.[1] ?? e.message);
}
