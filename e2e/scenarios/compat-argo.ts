// Shared by the compat*.test.ts scenarios: Argo Rollouts' own manifests (e2e/compat/, fetched data)
// loaded with only their apiVersion changed, and the checks Argo's e2e fixtures make
// (test/fixtures in argoproj/argo-rollouts), written again for Sluice: pod counts per revision,
// phase for the current generation, replica counts of status, Service selectors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import type { AttachedEnv } from '../harness/attach.ts';
import { HASH_LABEL, manifest, scenario, type Scenario, type View } from '../harness/rollouts.ts';

type Obj = Record<string, any>;

const compatDir = new URL('../compat/', import.meta.url);

/** The documents of one Argo file, `argoproj.io/v1alpha1` turned into `sluice.dev/v1alpha1` and nothing else. */
export function argoDocs(file: string, replace: Record<string, string> = {}): Obj[] {
  let text = readFileSync(new URL(file, compatDir), 'utf8');
  for (const [from, to] of Object.entries(replace)) text = text.replaceAll(from, to);
  return (loadAll(text) as Obj[])
    .filter((d) => d && typeof d === 'object')
    .map((d) => (d.apiVersion === 'argoproj.io/v1alpha1' ? { ...d, apiVersion: 'sluice.dev/v1alpha1' } : d));
}

export const rolloutOf = (docs: Obj[]): Obj => docs.find((d) => d.kind === 'Rollout')!;

/** Argo's newService(name, app) helper: a plain Service selecting the app. */
export function argoService(name: string, app: string): Obj {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { selector: { app }, ports: [{ port: 80, targetPort: 8080 }] } };
}

/** Pods of a revision that are not terminating (Argo's expectPodCountByHash ignores deleting pods). */
export function podCount(v: View, hash: string | undefined): number {
  return v.pods.filter((p) => !p.metadata.deletionTimestamp && p.metadata.labels?.[HASH_LABEL] === hash).length;
}

export const hashOfRevision = (v: View, revision: number): string | undefined => v.replicaSets.find((r) => r.revision === revision)?.hash;

export function revisionPodCount(v: View, revision: number): number {
  return podCount(v, hashOfRevision(v, revision));
}

/** Argo's ExpectCanaryStablePodCount. */
export function expectCanaryStable(v: View, canary: number, stable: number): void {
  assert.equal(podCount(v, v.rollout.status.currentPodHash), canary, 'canary pods');
  assert.equal(podCount(v, v.rollout.status.stableRS), stable, 'stable pods');
}

/** Argo's ExpectReplicaCounts(desired, current, updated, ready, available). */
export function expectReplicaCounts(v: View, desired: number, current: number, updated: number, ready: number, available: number): void {
  const s = v.rollout.status;
  assert.deepEqual(
    { desired: v.rollout.spec.replicas ?? 1, current: s.replicas, updated: s.updatedReplicas, ready: s.readyReplicas, available: s.availableReplicas },
    { desired, current, updated, ready, available },
  );
}

/** Argo's WaitForRolloutStatus: the phase, for the current generation. */
export function phaseIs(v: View, phase: string): void {
  assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation, 'status is for the current generation');
  assert.equal(v.rollout.status.phase, phase);
}

export interface ArgoScenario extends Scenario {
  /** Argo's UpdateSpec() without text: a new pod-template annotation, i.e. a new revision. */
  updateSpec(): Promise<void>;
  waitPhase(phase: string, timeoutMs?: number): Promise<View>;
  /** Argo's ScaleRollout. */
  scale(replicas: number): Promise<void>;
}

let updates = 0;
export function argoScenario(env: AttachedEnv, ns: string, name: string): ArgoScenario {
  const s = scenario(env, ns, name);
  return {
    ...s,
    async updateSpec() {
      await s.k.ok([
        'patch',
        'rollout',
        name,
        '-n',
        ns,
        '--type=merge',
        '-p',
        JSON.stringify({ spec: { template: { metadata: { annotations: { update: `${Date.now()}-${++updates}` } } } } }),
      ]);
    },
    waitPhase: (phase, timeoutMs = 60_000) => s.waitFor(`phase ${phase}`, (v) => phaseIs(v, phase), timeoutMs),
    async scale(replicas) {
      await s.patchSpec({ replicas });
    },
  };
}

/** Applies objects (as YAML) in the namespace. */
export async function applyDocs(s: Scenario, docs: Obj[]): Promise<void> {
  await s.apply(manifest(docs));
}

/** Runs `fn` in a fresh namespace with diagnostics on failure; deletes Rollouts then the namespace. */
export async function inNamespace(env: AttachedEnv, prefix: string, logFiles: string[], fn: (ns: string) => Promise<void>): Promise<void> {
  const k = env.kubectl;
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, logFiles, () => fn(ns));
  } finally {
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}
