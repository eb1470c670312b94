// The controller over in-memory fakes with a fake clock: integration tests drive it like a user.
import pino from 'pino';
import type { Rollout, RolloutStatus } from '../../src/api/rollout.ts';
import { RolloutController } from '../../src/controller/rollout/rollout-controller.ts';
import type { Planned } from '../../src/controller/rollout/rollout-reconciler.ts';
import { KubeSecretReader } from '../../src/controller/runtime/secret-reader.ts';
import { AnalysisController } from '../../src/controller/analysis/analysis-controller.ts';
import { kinds, type KubeObject } from '../../src/ports/kube.ts';
import { FakeClock } from '../fakes/clock.ts';
import { FakeCluster } from '../fakes/cluster.ts';
import { FakeKube } from '../fakes/kube.ts';
import { FakeMetrics } from '../fakes/metrics.ts';

export const NS = 'default';

export interface Harness {
  kube: FakeKube;
  clock: FakeClock;
  cluster: FakeCluster;
  controller: RolloutController;
  metrics: FakeMetrics;
  analysis: AnalysisController;
  settle(): Promise<void>;
  advance(ms: number): Promise<void>;
  rollout(name?: string): Rollout & { status: RolloutStatus };
  patchSpec(name: string, patch: unknown): Promise<void>;
  patchStatus(name: string, patch: unknown): Promise<void>;
  setImage(name: string, image: string): Promise<void>;
  replicaSets(name?: string): Array<{ hash: string; image: string; replicas: number; available: number }>;
  events(): string[];
  stop(): Promise<void>;
}

export interface HarnessOptions {
  /** Sees every Rollout reconcile's input and plan (to capture golden cases). */
  onPlanned?: (planned: Planned) => void;
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const clock = new FakeClock();
  const kube = new FakeKube({ now: () => clock.now() });
  const cluster = new FakeCluster(kube);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const metrics = new FakeMetrics();
  const analysisRuns = kube.informer(kinds.analysisRun);
  const analysis = new AnalysisController({ kube, clock, logger, metrics, secrets: new KubeSecretReader(kube), runs: analysisRuns });
  const controller = new RolloutController({ kube, clock, logger, analysisRuns, ...(opts.onPlanned ? { onPlanned: opts.onPlanned } : {}) });
  await controller.start();
  await analysis.start();
  const idle = () => {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the controller did not go idle in 5s (a hot loop?); last writes: ${kube.writes.slice(-6).join(', ')}`)), 5000);
    });
    const both = async () => {
      // Each queue can wake the other; idle means both are idle at the same time.
      for (let i = 0; i < 100; i++) {
        await controller.queue.idle();
        await analysis.queue.idle();
        const a = controller.queue.size();
        const b = analysis.queue.size();
        if (a.queued + a.processing + b.queued + b.processing === 0) return;
      }
    };
    return Promise.race([both(), deadline]).finally(() => clearTimeout(timer));
  };
  const settle = async () => {
    for (let i = 0; i < 500; i++) {
      await idle();
      const changed = await cluster.step();
      await idle();
      if (!changed) return;
    }
    throw new Error('the fake cluster did not settle in 500 rounds (a hot loop?)');
  };
  const get = (name = 'app') => {
    const r = kube.peek(kinds.rollout, NS, name) as (Rollout & { status: RolloutStatus }) | undefined;
    if (!r) throw new Error(`rollout ${name} not found`);
    r.status ??= {};
    return r;
  };
  return {
    kube,
    clock,
    cluster,
    controller,
    metrics,
    analysis,
    settle,
    async advance(ms) {
      clock.advance(ms);
      await settle();
    },
    rollout: get,
    async patchSpec(name, patch) {
      await kube.patch(kinds.rollout, NS, name, { spec: patch }, { type: 'merge' });
      await settle();
    },
    async patchStatus(name, patch) {
      await kube.patch(kinds.rollout, NS, name, { status: patch }, { type: 'merge', subresource: 'status' });
      await settle();
    },
    async setImage(name, image) {
      const r = get(name);
      const template = structuredClone(r.spec.template) as any;
      template.spec.containers[0].image = image;
      await kube.patch(kinds.rollout, NS, name, { spec: { template } }, { type: 'merge' });
      await settle();
    },
    replicaSets(name = 'app') {
      return kube
        .all(kinds.replicaSet, NS)
        .filter((rs) => rs.metadata?.ownerReferences?.some((o) => o.name === name))
        .map((rs: any) => ({
          hash: rs.metadata.labels['rollouts-pod-template-hash'],
          image: rs.spec.template.spec.containers[0].image,
          replicas: rs.spec.replicas,
          available: rs.status?.availableReplicas ?? 0,
        }));
    },
    events() {
      return kube.all(kinds.event, NS).map((e: any) => `${e.reason}: ${e.message}`);
    },
    async stop() {
      await controller.stop();
      await analysis.stop();
    },
  };
}

export function service(name: string, selector: Record<string, string> = { app: 'app' }): KubeObject {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec: { selector: { ...selector }, ports: [{ port: 80 }] } };
}

export function canaryRollout(strategy: Record<string, unknown>, extra: Record<string, unknown> = {}, name = 'app'): KubeObject {
  return rolloutObject(name, { canary: strategy }, extra);
}

export function blueGreenRollout(strategy: Record<string, unknown>, extra: Record<string, unknown> = {}, name = 'app'): KubeObject {
  return rolloutObject(name, { blueGreen: strategy }, extra);
}

function rolloutObject(name: string, strategy: Record<string, unknown>, extra: Record<string, unknown>): KubeObject {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'Rollout',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 10,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'example/app:v1' }] } },
      strategy,
      ...extra,
    },
  };
}
