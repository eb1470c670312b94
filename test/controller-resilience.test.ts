import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { RolloutController } from '../src/controller/rollout/rollout-controller.ts';
import { kinds, type KubeObject, type PatchOptions, type ResourceKind } from '../src/ports/kube.ts';
import { canaryRollout, NS, service, startHarness } from './helpers/harness.ts';

describe('resilience', () => {
  test('a new controller process resumes a rollout without repeating or skipping a step', async () => {
    const h = await startHarness();
    try {
      await h.kube.create(
        kinds.rollout,
        canaryRollout({ steps: [{ setWeight: 20 }, { pause: { duration: '60s' } }, { setWeight: 40 }, { pause: { duration: '60s' } }, { setWeight: 60 }] }),
      );
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.advance(20_000);
      await h.controller.stop(); // the controller dies mid-pause
      h.clock.advance(50_000); // time passes while nobody watches
      const second = new RolloutController({ kube: h.kube, clock: h.clock, logger: pino({ level: 'silent' }) });
      await second.start();
      await second.queue.idle();
      for (let i = 0; i < 10; i++) {
        await h.cluster.step();
        await second.queue.idle();
      }
      assert.equal(h.rollout().status.currentStepIndex, 3, 'the pause that ended while it was down was completed once');
      h.clock.advance(60_000);
      for (let i = 0; i < 10; i++) {
        await second.queue.idle();
        await h.cluster.step();
      }
      await second.queue.idle();
      await second.stop();
      const completed = h.events().filter((e) => e.startsWith('StepCompleted'));
      assert.deepEqual(
        completed.map((e) => /Step (\d+)\//.exec(e)?.[1]),
        ['1', '2', '3', '4', '5'],
      );
      assert.equal(h.rollout().status.phase, 'Healthy');
    } finally {
      await h.stop();
    }
  });
});

describe('API errors', () => {
  test('a failed write backs off and the rollout carries on; other Rollouts are not held up', async () => {
    const h = await startHarness();
    try {
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }] }, {}, 'a'));
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }] }, {}, 'b'));
      await h.settle();
      h.kube.failNext.push({ verb: 'patch', plural: 'replicasets', status: 500 }, { verb: 'patch', plural: 'replicasets', status: 500 });
      await h.setImage('a', 'example/app:v2');
      await h.setImage('b', 'example/app:v2');
      await h.advance(1_000); // past the first two backoffs (250ms, 500ms)
      assert.equal(h.rollout('a').status.phase, 'Healthy', h.rollout('a').status.message);
      assert.equal(h.rollout('b').status.phase, 'Healthy', h.rollout('b').status.message);
      assert.equal(h.kube.failNext.length, 0, 'both injected failures were hit');
    } finally {
      await h.stop();
    }
  });
});

describe('Events exactly once', () => {
  test('a refused status write does not repeat or lose the Events of its transition', async () => {
    const h = await startHarness();
    try {
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 60 }] }));
      await h.settle();
      const template = structuredClone(h.rollout().spec.template) as any;
      template.spec.containers[0].image = 'example/app:v2';
      await h.kube.patch(kinds.rollout, NS, 'app', { spec: { template } }, { type: 'merge' });
      // The coming status writes are refused (as when someone wrote first), six times over.
      for (let i = 0; i < 6; i++) h.kube.failNext.push({ verb: 'patch', plural: 'rollouts', status: 422 });
      await h.settle();
      await h.advance(10_000);
      assert.equal(h.kube.failNext.length, 0, 'every injected refusal was hit');
      assert.equal(h.rollout().status.phase, 'Healthy');
      const reasons = h.events().map((e) => e.split(':')[0]);
      const count = (r: string) => reasons.filter((x) => x === r).length;
      assert.equal(count('StepCompleted'), 3);
      assert.equal(count('RolloutUpdated'), 1, h.events().join('\n'));
      assert.equal(count('RolloutPaused'), 1);
      assert.equal(count('RolloutCompleted'), 1);
    } finally {
      await h.stop();
    }
  });
});

describe('a cache that has not caught up with its own writes', () => {
  test('reconciles woken before the cache shows their last status write send no doomed write and record no Event twice', async () => {
    const h = await startHarness();
    try {
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 20 }, { pause: { duration: '10s' } }, { setWeight: 60 }, { pause: {} }] }));
      await h.settle();
      // The Rollout cache lags one status write behind: it shows the Rollout as it was just before the last one.
      let beforeLastWrite: KubeObject | undefined;
      let conflicts = 0;
      const patch = h.kube.patch.bind(h.kube);
      h.kube.patch = (async (kind: ResourceKind, ns: string | undefined, name: string, body: unknown, opts: PatchOptions) => {
        const before = structuredClone(h.kube.peek(kind, ns, name));
        try {
          const written = await patch(kind, ns, name, body, opts);
          if (kind === kinds.rollout && opts.subresource === 'status') beforeLastWrite = before;
          return written;
        } catch (err) {
          if ((err as { status?: number }).status === 409) conflicts++;
          throw err;
        }
      }) as typeof h.kube.patch;
      const cache = h.controller.caches.rollouts;
      const get = cache.get.bind(cache);
      cache.get = (ns, name) => {
        const current = get(ns, name);
        const lagging = beforeLastWrite && current?.metadata?.generation === beforeLastWrite.metadata?.generation ? beforeLastWrite : current;
        return lagging && structuredClone(lagging);
      };
      await h.setImage('app', 'example/app:v2');
      await h.advance(10_000);
      assert.equal(h.rollout().status.phase, 'Paused', h.rollout().status.message);
      assert.equal(h.rollout().status.currentStepIndex, 3);
      assert.equal(conflicts, 0, 'no status write was planned from the copy the last write replaced');
      const reasons = h.events().map((e) => e.split(':')[0]);
      assert.equal(reasons.filter((r) => r === 'RolloutUpdated').length, 1, h.events().join('\n'));
      assert.equal(reasons.filter((r) => r === 'StepCompleted').length, 3, h.events().join('\n'));
    } finally {
      await h.stop();
    }
  });
});

describe('nothing gets stuck', () => {
  test('deleting the namespace of a Rollout completes: cleanup the API server forbids there is skipped and the finalizer removed', async () => {
    const h = await startHarness();
    try {
      await h.kube.create(kinds.service, service('app-stable'));
      await h.kube.create(kinds.rollout, canaryRollout({ stableService: 'app-stable', steps: [{ setWeight: 50 }, { pause: {} }] }, { replicas: 2 }));
      await h.settle();
      assert.deepEqual(h.rollout().metadata?.finalizers, ['sluice.dev/service-selectors']);
      await h.setImage('app', 'example/app:v2'); // mid-rollout, paused
      // The namespace goes while the controller restarts (nothing remembered about the template).
      await h.controller.stop();
      await h.kube.terminateNamespace(NS);
      const next = new RolloutController({ kube: h.kube, clock: h.clock, logger: pino({ level: 'silent' }) });
      await next.start();
      for (let i = 0; i < 20 && h.kube.remaining(NS).length > 0; i++) {
        h.clock.advance(1_000);
        await next.queue.idle();
      }
      await next.stop();
      assert.deepEqual(h.kube.remaining(NS), [], 'the namespace still holds objects: its deletion would hang');
    } finally {
      await h.stop();
    }
  });

  test('a Rollout deleted while the controller was down is cleaned up when it starts', async () => {
    const h = await startHarness();
    try {
      await h.kube.create(kinds.service, service('app-stable'));
      await h.kube.create(kinds.rollout, canaryRollout({ stableService: 'app-stable', steps: [{ setWeight: 50 }] }, { replicas: 2 }));
      await h.settle();
      await h.controller.stop();
      await h.kube.delete(kinds.rollout, NS, 'app');
      assert.ok(h.kube.peek(kinds.rollout, NS, 'app'), 'held by its finalizer while nobody runs');
      const next = new RolloutController({ kube: h.kube, clock: h.clock, logger: pino({ level: 'silent' }) });
      await next.start();
      await next.queue.idle();
      await h.settle();
      await next.stop();
      assert.equal(h.kube.peek(kinds.rollout, NS, 'app'), undefined);
      const selector = (h.kube.peek(kinds.service, NS, 'app-stable') as { spec: { selector: Record<string, string> } }).spec.selector;
      assert.equal(selector['rollouts-pod-template-hash'], undefined, 'the Service was unpinned');
    } finally {
      await h.stop();
    }
  });
});
