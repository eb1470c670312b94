import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from '../src/ports/kube.ts';
import { blueGreenRollout, NS, service, startHarness, type Harness } from './helpers/harness.ts';

const selectorOf = (h: Harness, name: string) => (h.kube.peek(kinds.service, NS, name) as any).spec.selector['rollouts-pod-template-hash'];
const sizes = (h: Harness) => Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas]));

describe('blue-green by Service selectors', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await h.kube.create(kinds.service, service('app-active'));
    await h.kube.create(kinds.service, service('app-preview'));
  });
  afterEach(() => h.stop());

  async function create(strategy: Record<string, unknown>) {
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'app-active', previewService: 'app-preview', ...strategy }, { replicas: 4 }));
    await h.settle();
  }

  test('preview first, promote by a person, old revision scaled down after the delay', async () => {
    await create({ autoPromotionEnabled: false, scaleDownDelaySeconds: 30 });
    const v1 = h.rollout().status.stableRS;
    assert.equal(selectorOf(h, 'app-active'), v1);
    await h.setImage('app', 'example/app:v2');
    let r = h.rollout();
    assert.equal(r.status.phase, 'Paused');
    assert.equal(selectorOf(h, 'app-active'), v1, 'active stays on the old revision');
    assert.equal(selectorOf(h, 'app-preview'), r.status.currentPodHash, 'preview sees the new revision');
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 4 });

    await h.patchStatus('app', { pauseConditions: null });
    r = h.rollout();
    assert.equal(selectorOf(h, 'app-active'), r.status.currentPodHash);
    assert.equal(r.status.stableRS, r.status.currentPodHash);
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 4 }, 'old revision kept during scaleDownDelaySeconds');
    await h.advance(29_000);
    assert.equal(sizes(h)['example/app:v1'], 4);
    await h.advance(1_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 0, 'example/app:v2': 4 });
    assert.equal(h.rollout().status.phase, 'Healthy');
  });

  test('auto-promotion after autoPromotionSeconds, with a smaller preview', async () => {
    await create({ autoPromotionSeconds: 20, previewReplicaCount: 1 });
    const v1 = h.rollout().status.stableRS;
    await h.setImage('app', 'example/app:v2');
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 1 });
    assert.match(h.rollout().status.message ?? '', /auto-promotion after 20s, at 20\d\d-/);
    await h.advance(19_000);
    assert.equal(selectorOf(h, 'app-active'), v1);
    await h.advance(1_000);
    const r = h.rollout();
    assert.equal(selectorOf(h, 'app-active'), r.status.currentPodHash, 'switched only after scaling to the full count');
    assert.equal(sizes(h)['example/app:v2'], 4);
  });

  test('the active Service is never switched to a revision that is not fully available', async () => {
    await create({});
    const v1 = h.rollout().status.stableRS;
    h.cluster.neverReady.add('example/app:broken');
    await h.setImage('app', 'example/app:broken');
    await h.advance(60_000);
    assert.equal(selectorOf(h, 'app-active'), v1);
    assert.equal(h.rollout().status.phase, 'Progressing');
  });

  test('abort keeps the active Service on stable and scales the new revision to zero after abortScaleDownDelaySeconds (default 30, as Argo)', async () => {
    await create({ autoPromotionEnabled: false });
    const v1 = h.rollout().status.stableRS;
    await h.setImage('app', 'example/app:v2');
    await h.patchStatus('app', { abort: true });
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.equal(selectorOf(h, 'app-active'), v1);
    assert.equal(selectorOf(h, 'app-preview'), v1);
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 4 });
    await h.advance(29_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 4 });
    await h.advance(1_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 0 });
  });

  test('abortScaleDownDelaySeconds: 0 keeps the aborted revision (as Argo)', async () => {
    await create({ autoPromotionEnabled: false, abortScaleDownDelaySeconds: 0 });
    await h.setImage('app', 'example/app:v2');
    await h.patchStatus('app', { abort: true });
    await h.advance(600_000);
    assert.equal(h.rollout().status.phase, 'Degraded');
    assert.deepEqual(sizes(h), { 'example/app:v1': 4, 'example/app:v2': 4 });
  });
});

describe('invalid and deleted Rollouts', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  test('a missing Service is a clear condition, retried slowly, and the Rollout recovers when it appears', async () => {
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'missing-svc' }));
    await h.settle();
    let r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /Service "missing-svc" not found/);
    assert.equal(r.status.conditions?.find((c) => c.type === 'InvalidSpec')?.status, 'True');
    assert.equal(h.replicaSets().length, 0, 'nothing is created for an invalid spec');
    await h.kube.create(kinds.service, service('missing-svc'));
    await h.settle();
    r = h.rollout();
    assert.equal(r.status.phase, 'Healthy');
    assert.equal(
      r.status.conditions?.find((c) => c.type === 'InvalidSpec'),
      undefined,
    );
  });

  test('a selector that does not match the template labels is rejected with the reason', async () => {
    const obj = blueGreenRollout({ activeService: 'x' }) as any;
    obj.spec.selector = { matchLabels: { app: 'other' } };
    await h.kube.create(kinds.service, service('x'));
    await h.kube.create(kinds.rollout, obj);
    await h.settle();
    assert.match(h.rollout().status.message ?? '', /selector does not match spec.template.metadata.labels/);
  });

  test('a pod template the API server refuses is an InvalidSpec with its reason, and fixing it recovers', async () => {
    await h.kube.create(kinds.service, service('x'));
    h.kube.failNext.push({ verb: 'create', plural: 'replicasets', status: 422 });
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'x' }));
    await h.settle();
    let r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /the API server rejects spec.template: .*injected 422/);
    assert.equal(h.replicaSets().length, 0);
    await h.setImage('app', 'example/app:fixed');
    r = h.rollout();
    assert.equal(r.status.phase, 'Healthy', r.status.message);
  });

  test('one invalid Rollout does not stop another', async () => {
    await h.kube.create(kinds.service, service('ok-active'));
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'missing' }, {}, 'bad'));
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'ok-active' }, {}, 'good'));
    await h.settle();
    assert.equal(h.rollout('bad').status.phase, 'Degraded');
    assert.equal(h.rollout('good').status.phase, 'Healthy');
  });

  test('deleting a Rollout removes the hash from Service selectors, then its ReplicaSets and pods go', async () => {
    await h.kube.create(kinds.service, service('app-active'));
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'app-active' }));
    await h.settle();
    assert.ok(selectorOf(h, 'app-active'));
    await h.kube.delete(kinds.rollout, NS, 'app');
    await h.settle();
    assert.equal(h.kube.peek(kinds.rollout, NS, 'app'), undefined);
    assert.deepEqual((h.kube.peek(kinds.service, NS, 'app-active') as any).spec.selector, { app: 'app' });
    assert.equal(h.kube.all(kinds.replicaSet, NS).length, 0);
    assert.equal(h.kube.all(kinds.pod, NS).length, 0);
  });

  /** A 4-replica blue-green Rollout, Healthy, with these Services (the first active, the second preview). */
  async function healthyWith([active, preview]: string[]): Promise<void> {
    for (const name of [active, preview]) if (name) await h.kube.create(kinds.service, service(name));
    await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: active, ...(preview ? { previewService: preview } : {}) }, { replicas: 4 }));
    await h.settle();
  }

  test('switching to canary (as Argo TestBlueGreenToCanary) unpins the Services blue-green had pinned', async () => {
    await healthyWith(['app-active', 'app-preview']);
    assert.equal(selectorOf(h, 'app-active'), h.rollout().status.stableRS);
    const spec = (h.kube.peek(kinds.rollout, NS, 'app') as any).spec;
    await h.patchSpec('app', {
      template: { ...spec.template, metadata: { ...spec.template.metadata, annotations: { foo: 'bar' } } },
      strategy: { blueGreen: null, canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
    });
    const r = h.rollout();
    assert.equal(r.status.phase, 'Paused');
    assert.deepEqual(
      (h.kube.peek(kinds.service, NS, 'app-active') as any).spec.selector,
      { app: 'app' },
      'the old active Service selects by its own labels again',
    );
    assert.deepEqual((h.kube.peek(kinds.service, NS, 'app-preview') as any).spec.selector, { app: 'app' });
    assert.equal((h.kube.peek(kinds.service, NS, 'app-active') as any).metadata.annotations?.['sluice.dev/managed-by-rollout'], undefined);
  });

  test('a Service the Rollout stops naming is unpinned; one it still names stays pinned', async () => {
    await healthyWith(['app-active', 'app-preview']);
    assert.ok(selectorOf(h, 'app-preview'));
    await h.patchSpec('app', { strategy: { blueGreen: { activeService: 'app-active', previewService: null } } });
    assert.equal(selectorOf(h, 'app-active'), h.rollout().status.stableRS);
    assert.equal(selectorOf(h, 'app-preview'), undefined, 'the preview Service, no longer named, selects by its own labels');
  });

  test('restart recreates pods created before restartAt, and records it', async () => {
    await healthyWith(['app-active']);
    const before = h.kube.all(kinds.pod, NS).map((p) => p.metadata?.name);
    await h.advance(1000);
    const at = h.clock.now().toISOString();
    await h.patchSpec('app', { restartAt: at });
    const after = h.kube.all(kinds.pod, NS).map((p) => p.metadata?.name);
    assert.equal(after.length, 4);
    assert.equal(after.filter((n) => before.includes(n)).length, 0, 'every old pod was replaced');
    assert.equal(h.rollout().status.restartedAt, at);
    assert.equal(h.rollout().status.phase, 'Healthy');
  });

  test('restart evicts pods (a PodDisruptionBudget is honoured): a refused eviction is tried again later', async () => {
    await healthyWith(['app-active']);
    const before = h.kube.all(kinds.pod, NS).map((p) => p.metadata?.name);
    await h.advance(1000);
    // the budget allows no disruption for now: the API server answers 429 to an eviction
    h.kube.failNext.push({ verb: 'evict', plural: 'pods', status: 429 }, { verb: 'evict', plural: 'pods', status: 429 });
    const at = h.clock.now().toISOString();
    await h.patchSpec('app', { restartAt: at });
    assert.equal(h.kube.failNext.length, 0, 'both refusals were met');
    assert.equal(h.kube.all(kinds.pod, NS).filter((p) => before.includes(p.metadata?.name)).length, 4, 'no pod went while the budget refused');
    assert.equal(h.rollout().status.restartedAt, undefined);
    await h.advance(60_000); // tried again after a while, now allowed
    const after = h.kube.all(kinds.pod, NS).map((p) => p.metadata?.name);
    assert.equal(after.filter((n) => before.includes(n)).length, 0, 'every old pod was replaced');
    assert.equal(h.rollout().status.restartedAt, at);
    assert.ok(h.kube.writes.some((w) => w.startsWith('evict pods ')));
    assert.ok(!h.kube.writes.some((w) => w.startsWith('delete pods ')), 'pods are evicted, never deleted');
  });
});
