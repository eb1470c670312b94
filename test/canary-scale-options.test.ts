import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds } from '../src/ports/kube.ts';
import { canaryRollout, NS, startHarness, type Harness } from './helpers/harness.ts';

const sizes = (h: Harness) => Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas]));

describe('canary scale options', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(() => h.stop());

  test('setCanaryScale sets canary pods apart from the weight; the stable follows the weight unless dynamicStableScale', async () => {
    const steps = [{ setCanaryScale: { replicas: 3 } }, { setWeight: 10 }, { pause: {} }, { setCanaryScale: { matchTrafficWeight: true } }, { pause: {} }];
    await h.kube.create(kinds.rollout, canaryRollout({ steps, maxSurge: 3, maxUnavailable: 0 }));
    await h.settle();
    await h.setImage('app', 'example/app:v2');
    let r = h.rollout();
    assert.equal(r.status.currentStepIndex, 2);
    assert.deepEqual(sizes(h), { 'example/app:v1': 9, 'example/app:v2': 3 }, 'stable keeps replicas minus the 10% weight share; canary pods are extra');
    assert.equal(r.status.desiredWeight, 10);
    assert.equal(r.status.actualWeight, 25, 'honest: 3 of 12 ready pods run the canary');
    await h.patchStatus('app', { pauseConditions: null });
    r = h.rollout();
    assert.equal(r.status.currentStepIndex, 4);
    assert.deepEqual(sizes(h), { 'example/app:v1': 9, 'example/app:v2': 1 }, 'matchTrafficWeight: back to the weight');
  });

  test('with dynamicStableScale the stable shrinks by the explicit canary count', async () => {
    await h.kube.create(
      kinds.rollout,
      canaryRollout({
        steps: [{ setCanaryScale: { replicas: 3 } }, { setWeight: 10 }, { pause: {} }],
        dynamicStableScale: true,
        maxSurge: 3,
        maxUnavailable: 0,
      }),
    );
    await h.settle();
    await h.setImage('app', 'example/app:v2');
    assert.deepEqual(sizes(h), { 'example/app:v1': 7, 'example/app:v2': 3 });
  });

  test('with dynamicStableScale, a canary scaled to every replica still leaves a stable pod while the weight is below 100', async () => {
    await h.kube.create(
      kinds.rollout,
      canaryRollout({
        steps: [{ setCanaryScale: { replicas: 10 } }, { setWeight: 50 }, { pause: {} }],
        dynamicStableScale: true,
        maxSurge: 10,
        maxUnavailable: 0,
      }),
    );
    await h.settle();
    await h.setImage('app', 'example/app:v2');
    assert.equal(h.rollout().status.desiredWeight, 50);
    const stable = sizes(h)['example/app:v1'] ?? 0;
    assert.ok(stable >= 1, `stable at ${stable} pods while the desired weight is 50: all traffic on the canary`);
  });

  test('abortScaleDownDelaySeconds keeps aborted canary pods for the delay, then removes them', async () => {
    await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 20 }, { pause: {} }], abortScaleDownDelaySeconds: 30 }));
    await h.settle();
    await h.setImage('app', 'example/app:v2');
    await h.patchStatus('app', { abort: true });
    assert.deepEqual(sizes(h), { 'example/app:v1': 10, 'example/app:v2': 2 });
    await h.advance(30_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 10, 'example/app:v2': 0 });
  });

  test('canary scaleDownDelaySeconds keeps the previous stable after promotion, then scales it down', async () => {
    await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }], scaleDownDelaySeconds: 60, maxSurge: '100%' }));
    await h.settle();
    await h.setImage('app', 'example/app:v2');
    const r = h.rollout();
    assert.equal(r.status.stableRS, r.status.currentPodHash);
    assert.deepEqual(sizes(h), { 'example/app:v1': 5, 'example/app:v2': 10 });
    assert.equal(r.status.actualWeight, 67, 'old pods still take traffic during the delay, and status says so');
    await h.advance(60_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 0, 'example/app:v2': 10 });
    assert.equal(h.rollout().status.phase, 'Healthy');
  });

  test('undo: the template of an earlier revision runs the steps again with its old ReplicaSet and a new revision number', async () => {
    await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }] }));
    await h.settle();
    await h.setImage('app', 'example/app:v2');
    await h.setImage('app', 'example/app:v3');
    // As the plugin does it: the earlier ReplicaSet's template (with the API server's defaults), minus the hash label.
    const v1Rs = h.kube.all(kinds.replicaSet, NS).find((rs: any) => rs.spec.template.spec.containers[0].image === 'example/app:v1')! as any;
    const v1Template = structuredClone(v1Rs.spec.template);
    delete v1Template.metadata.labels['rollouts-pod-template-hash'];
    assert.equal(v1Template.spec.dnsPolicy, 'ClusterFirst', 'the copied template carries defaults the Rollout never had');
    await h.kube.patch(kinds.rollout, NS, 'app', { spec: { template: v1Template } }, { type: 'merge' });
    await h.settle();
    const r = h.rollout();
    assert.equal(r.status.phase, 'Healthy');
    assert.equal(r.status.stableRS, v1Rs.metadata?.labels?.['rollouts-pod-template-hash']);
    assert.equal(r.status.currentRevision, 4, 'the reused ReplicaSet is the newest revision again');
    assert.equal(h.replicaSets().length, 3, 'no new ReplicaSet for a known template');
  });
});
