import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeError, kinds } from '../src/ports/kube.ts';
import { canaryRollout, NS, service, startHarness, type Harness } from './helpers/harness.ts';

const steps = [{ setWeight: 20 }, { pause: { duration: '30s' } }, { setWeight: 50 }, { pause: {} }, { setWeight: 80 }];

describe('canary by replica weights', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await h.kube.create(kinds.service, service('app-stable'));
    await h.kube.create(kinds.service, service('app-canary'));
    await h.kube.create(kinds.rollout, canaryRollout({ steps, stableService: 'app-stable', canaryService: 'app-canary', maxSurge: 1, maxUnavailable: 0 }));
    await h.settle();
  });
  afterEach(() => h.stop());

  test('a count that moves within a second of a status write waits for the next write; the final status has every count', async () => {
    const writes: Array<{ at: number; keys: string[] }> = [];
    const patch = h.kube.patch.bind(h.kube);
    h.kube.patch = (kind, ns, name, body, opts) => {
      if (kind.plural === 'rollouts' && opts.subresource === 'status') {
        writes.push({ at: h.clock.now().getTime(), keys: Object.keys((body as any).status ?? {}) });
      }
      return patch(kind, ns, name, body, opts);
    };
    await h.setImage('app', 'example/app:v2');
    for (let i = 0; i < 4 && h.rollout().status.phase !== 'Healthy'; i++) {
      if (h.rollout().status.phase === 'Paused') await h.patchStatus('app', { pauseConditions: null });
      await h.advance(31_000);
    }
    const counts = new Set(['replicas', 'updatedReplicas', 'readyReplicas', 'availableReplicas', 'actualWeight', 'message', 'conditions']);
    const countOnly = writes.filter((w, i) => i > 0 && w.at - writes[i - 1]!.at < 1000 && w.keys.every((k) => counts.has(k)));
    assert.deepEqual(countOnly, [], 'no write of counts alone right after another write');
    const r = h.rollout();
    assert.equal(r.status.phase, 'Healthy');
    assert.deepEqual([r.status.replicas, r.status.updatedReplicas, r.status.readyReplicas, r.status.availableReplicas], [10, 10, 10, 10]);
  });

  test('first revision goes straight to stable with all replicas, Services pinned', async () => {
    const r = h.rollout();
    assert.equal(r.status.phase, 'Healthy');
    assert.deepEqual(
      h.replicaSets().map((rs) => [rs.image, rs.replicas, rs.available]),
      [['example/app:v1', 10, 10]],
    );
    const stable = h.kube.peek(kinds.service, NS, 'app-stable') as any;
    assert.equal(stable.spec.selector['rollouts-pod-template-hash'], r.status.stableRS);
    assert.equal((h.kube.peek(kinds.service, NS, 'app-canary') as any).spec.selector['rollouts-pod-template-hash'], r.status.stableRS);
    assert.deepEqual(r.metadata?.finalizers, ['sluice.dev/service-selectors']);
  });

  test('happy path: weights, timed pause, indefinite pause + promote, then promoted', async () => {
    const v1 = h.rollout().status.stableRS;
    await h.setImage('app', 'example/app:v2');
    let r = h.rollout();
    assert.equal(r.status.currentStepIndex, 1, 'setWeight 20 reached, now in the timed pause');
    assert.equal(r.status.phase, 'Paused');
    assert.equal(r.status.desiredWeight, 20);
    assert.equal(r.status.actualWeight, 20);
    const byImage = Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas]));
    assert.deepEqual(byImage, { 'example/app:v1': 8, 'example/app:v2': 2 });
    assert.equal((h.kube.peek(kinds.service, NS, 'app-canary') as any).spec.selector['rollouts-pod-template-hash'], r.status.currentPodHash);
    assert.equal((h.kube.peek(kinds.service, NS, 'app-stable') as any).spec.selector['rollouts-pod-template-hash'], v1);

    await h.advance(29_000);
    assert.equal(h.rollout().status.currentStepIndex, 1, 'still paused before 30s');
    await h.advance(1_000);
    r = h.rollout();
    assert.equal(r.status.currentStepIndex, 3, 'after the pause, setWeight 50 done, waiting at the indefinite pause');
    assert.equal(r.status.phase, 'Paused');
    assert.match(r.status.message ?? '', /until promoted/);
    await h.advance(3_600_000);
    assert.equal(h.rollout().status.currentStepIndex, 3, 'an indefinite pause waits for a person');

    // promote, as the plugin does it: clear the pause condition
    await h.patchStatus('app', { pauseConditions: null });
    r = h.rollout();
    assert.equal(r.status.phase, 'Healthy', r.status.message);
    assert.equal(r.status.stableRS, r.status.currentPodHash);
    assert.notEqual(r.status.stableRS, v1);
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), { 'example/app:v1': 0, 'example/app:v2': 10 });
    const events = h.events().join('\n');
    assert.match(events, /Step 1\/5 completed \(setWeight 20\)/);
    assert.match(events, /Promoted by user at step 4\/5/);
    assert.match(events, /promoted to stable/);
  });

  test('abort returns all traffic to stable at once, retry starts over', async () => {
    await h.setImage('app', 'example/app:v2');
    await h.advance(30_000);
    assert.equal(h.rollout().status.currentStepIndex, 3);
    await h.patchStatus('app', { abort: true });
    let r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /aborted/);
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), { 'example/app:v1': 10, 'example/app:v2': 0 });
    assert.equal(r.status.desiredWeight, 0);
    await h.advance(600_000);
    assert.equal(h.rollout().status.phase, 'Degraded', 'stays aborted');

    await h.patchStatus('app', { abort: false, abortedAt: null, abortMessage: null, currentStepIndex: 0, retries: 1 });
    r = h.rollout();
    assert.equal(r.status.phase, 'Paused');
    assert.equal(r.status.currentStepIndex, 1);
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), { 'example/app:v1': 8, 'example/app:v2': 2 });
  });

  test('promote --full skips the remaining steps', async () => {
    await h.setImage('app', 'example/app:v2');
    await h.patchStatus('app', { promoteFull: true });
    const r = h.rollout();
    assert.equal(r.status.phase, 'Healthy');
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), { 'example/app:v1': 0, 'example/app:v2': 10 });
    assert.match(h.events().join('\n'), /remaining steps skipped/);
  });

  test('a new version during a rollout starts over from stable; going back to stable is a fast rollback', async () => {
    await h.setImage('app', 'example/app:v2');
    await h.advance(30_000);
    assert.equal(h.rollout().status.currentStepIndex, 3);
    await h.setImage('app', 'example/app:v3');
    let r = h.rollout();
    assert.equal(r.status.currentStepIndex, 1);
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), {
      'example/app:v1': 8,
      'example/app:v2': 0,
      'example/app:v3': 2,
    });
    await h.setImage('app', 'example/app:v1');
    r = h.rollout();
    assert.equal(r.status.phase, 'Healthy');
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), {
      'example/app:v1': 10,
      'example/app:v2': 0,
      'example/app:v3': 0,
    });
    assert.match(h.events().join('\n'), /fast rollback/);
  });

  test('user pause holds the step; resume continues', async () => {
    await h.setImage('app', 'example/app:v2');
    await h.patchStatus('app', {
      pauseConditions: [{ reason: 'UserPause', startTime: h.clock.now().toISOString() }, ...(h.rollout().status.pauseConditions ?? [])],
    });
    await h.advance(60_000);
    let r = h.rollout();
    assert.equal(r.status.currentStepIndex, 1, 'the timed pause does not finish while a person holds it');
    assert.match(r.status.message ?? '', /Paused by user/);
    await h.patchStatus('app', { pauseConditions: r.status.pauseConditions?.filter((p) => p.reason !== 'UserPause') ?? null });
    r = h.rollout();
    assert.equal(r.status.currentStepIndex, 3);
  });

  test('scale change during a rollout keeps the weight', async () => {
    await h.setImage('app', 'example/app:v2');
    await h.advance(30_000);
    await h.patchSpec('app', { replicas: 20 });
    const r = h.rollout();
    assert.equal(r.status.currentStepIndex, 3);
    assert.deepEqual(Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas])), { 'example/app:v1': 10, 'example/app:v2': 10 });
    assert.equal(r.status.actualWeight, 50);
  });

  test('progress deadline: pods never ready -> Degraded; with progressDeadlineAbort -> aborted', async () => {
    await h.patchSpec('app', { progressDeadlineSeconds: 60 });
    h.cluster.neverReady.add('example/app:broken');
    await h.setImage('app', 'example/app:broken');
    await h.advance(59_000);
    assert.equal(h.rollout().status.phase, 'Progressing');
    await h.advance(2_000);
    let r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.equal(r.status.conditions?.find((c) => c.type === 'Progressing')?.reason, 'ProgressDeadlineExceeded');
    assert.equal(r.status.abort, undefined, 'without progressDeadlineAbort the canary stays');

    await h.patchSpec('app', {
      progressDeadlineAbort: true,
      template: { ...(h.rollout().spec.template as object), metadata: { labels: { app: 'app', try: '2' } } },
    });
    await h.advance(61_000);
    r = h.rollout();
    assert.equal(r.status.abort, true);
    assert.match(r.status.message ?? '', /not progressed for 60s/);
    assert.equal(h.replicaSets().filter((rs) => rs.image === 'example/app:v1')[0]?.replicas, 10);
  });

  test('a ReplicaSet the API server refuses although its template passed the dry run is an InvalidSpec, not a retry forever', async () => {
    // What the controller adds to the template (canary metadata, anti-affinity) can make the real
    // create fail where the dry run of the bare template passed (an admission policy, a bad label).
    let refused = 0;
    const create = h.kube.create.bind(h.kube);
    h.kube.create = (async (kind: any, obj: any, opts: { dryRun?: boolean } = {}) => {
      if (kind === kinds.replicaSet && !opts.dryRun && JSON.stringify(obj).includes('example/app:v2')) {
        refused++;
        throw new KubeError(422, 'Invalid', 'ReplicaSet.apps "app-x" is invalid: metadata.labels: Invalid value: "bad value"');
      }
      return create(kind, obj, opts);
    }) as typeof h.kube.create;
    await h.setImage('app', 'example/app:v2');
    await h.advance(60_000);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded', r.status.message);
    assert.match(r.status.message ?? '', /rejects .*ReplicaSet.*Invalid value: "bad value"/);
    assert.equal(refused, 1, 'asked once, not again and again');
    assert.deepEqual(
      h.replicaSets().map((rs) => [rs.image, rs.replicas]),
      [['example/app:v1', 10]],
      'the stable keeps serving',
    );
    await h.setImage('app', 'example/app:v3');
    assert.equal(h.rollout().status.currentStepIndex, 1, 'a fixed template rolls out');
  });

  test('a template a person wrote is created without a dry run; one holding the API server defaults (copied from a ReplicaSet) is dry-run', async () => {
    let dryRuns = 0;
    const create = h.kube.create.bind(h.kube);
    h.kube.create = (async (kind: any, obj: any, opts: { dryRun?: boolean } = {}) => {
      if (kind === kinds.replicaSet && opts.dryRun) dryRuns++;
      return create(kind, obj, opts);
    }) as typeof h.kube.create;
    await h.setImage('app', 'example/app:v2');
    assert.equal(dryRuns, 0, 'a new image: one request fewer on the way to the first step');
    assert.equal(h.rollout().status.currentStepIndex, 1);
    const template = structuredClone(h.rollout().spec.template) as any;
    template.spec.dnsPolicy = 'ClusterFirst';
    template.spec.containers[0].image = 'example/app:v3';
    template.spec.containers[0].terminationMessagePath = '/dev/termination-log';
    await h.kube.patch(kinds.rollout, NS, 'app', { spec: { template } }, { type: 'merge' });
    await h.settle();
    assert.equal(dryRuns, 1, 'a defaulted template is shown to the API server to find the ReplicaSet that holds it');
  });
});
