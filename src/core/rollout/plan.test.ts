import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Rollout } from '../../api/rollout.ts';
import type { ReplicaSet } from '../../api/workload.ts';
import { podTemplateHash } from '../shared/hash.ts';
import { INVALID_SPEC_REQUEUE_MS } from '../shared/requeue.ts';
import { plan } from './plan.ts';
import type { Observed } from './types.ts';

const now = new Date('2026-01-01T00:10:00Z');
const template = (image: string) => ({ metadata: { labels: { app: 'a' } }, spec: { containers: [{ name: 'c', image }] } });
const rollout = (
  image: string,
  status: Rollout['status'] = {},
  canary: Record<string, unknown> = { steps: [{ setWeight: 50 }, { pause: { duration: '60s' } }] },
): Rollout => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'a', namespace: 'ns', uid: 'u1', generation: 1 },
  spec: { replicas: 4, selector: { matchLabels: { app: 'a' } }, template: template(image), strategy: { canary } },
  status,
});
const rs = (image: string, replicas: number, revision: number): ReplicaSet => ({
  metadata: {
    name: `a-${podTemplateHash(template(image))}`,
    generation: 1,
    labels: { app: 'a', 'rollouts-pod-template-hash': podTemplateHash(template(image)) },
    annotations: { 'sluice.dev/revision': String(revision) },
  },
  spec: { replicas },
  status: { replicas, readyReplicas: replicas, availableReplicas: replicas, observedGeneration: 1 },
});
const observed = (r: Rollout, sets: ReplicaSet[]): Observed => ({ rollout: r, replicaSets: sets, pods: [], services: {}, analysisRuns: [] });
const h1 = podTemplateHash(template('v1'));
const h2 = podTemplateHash(template('v2'));

const cases: Array<{ name: string; input: Observed; expect: (p: ReturnType<typeof plan>) => void }> = [
  {
    name: 'first revision: one ReplicaSet with every replica, no steps',
    input: observed(rollout('v1'), []),
    expect: (p) => {
      const create = p.actions.find((a) => a.type === 'createReplicaSet');
      assert.equal(create?.type === 'createReplicaSet' && create.replicaSet.spec.replicas, 4);
      assert.equal(p.status.observedGeneration, 1, 'status is complete from the first write');
      assert.equal(p.status.selector, 'app=a');
    },
  },
  {
    name: 'new revision: canary created at zero, steps start at 0',
    input: observed(rollout('v2', { stableRS: h1, currentPodHash: h1, currentStepIndex: 2 }), [rs('v1', 4, 1)]),
    expect: (p) => {
      const create = p.actions.find((a) => a.type === 'createReplicaSet');
      assert.equal(create?.type === 'createReplicaSet' && create.replicaSet.spec.replicas, 0);
      assert.equal(p.status.currentStepIndex, 0);
      assert.equal(p.status.currentPodHash, h2);
    },
  },
  {
    name: 'timed pause: requeue exactly when it ends',
    input: observed(
      rollout('v2', {
        stableRS: h1,
        currentPodHash: h2,
        currentStepIndex: 1,
        controllerPause: true,
        pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-01-01T00:09:30Z' }],
        availableReplicas: 4,
      }),
      [rs('v1', 2, 1), rs('v2', 2, 2)],
    ),
    expect: (p) => {
      assert.equal(p.requeueAfterMs, 30_000);
      assert.equal(p.status.phase, 'Paused');
      assert.deepEqual(
        p.actions.filter((a) => a.type !== 'event'),
        [],
      );
      // A reconcile a little later must not change status (nothing to write, no hot loop).
      const later = plan({ ...observed(rollout('v2', p.status), [rs('v1', 2, 1), rs('v2', 2, 2)]) }, new Date(now.getTime() + 7_000));
      assert.deepEqual(later.status, p.status);
      assert.equal(later.requeueAfterMs, 23_000);
    },
  },
  {
    // Time to safety first (different on purpose from Argo Rollouts, docs/compat.md): with replica
    // weights every canary pod takes traffic, so an abort removes them all in the same plan and
    // gives the stable revision every replica, whatever maxUnavailable says.
    name: 'abort: every canary pod goes in the same plan; the stable revision gets every replica',
    input: observed(rollout('v2', { stableRS: h1, currentPodHash: h2, currentStepIndex: 1, abort: true }), [rs('v1', 2, 1), rs('v2', 2, 2)]),
    expect: (p) => {
      const scales = p.actions.filter((a) => a.type === 'scaleReplicaSet').map((a) => (a.type === 'scaleReplicaSet' ? [a.name, a.replicas] : []));
      assert.deepEqual(
        scales.sort(),
        [
          [`a-${h1}`, 4],
          [`a-${h2}`, 0],
        ].sort(),
      );
      assert.equal(p.status.phase, 'Degraded');
    },
  },
  {
    name: 'progress deadline with progressDeadlineAbort: traffic back to stable in the same plan, canary Service included',
    input: {
      ...observed(
        {
          ...rollout('v2', { stableRS: h1, currentPodHash: h2, currentStepIndex: 0, progressStartedAt: '2026-01-01T00:00:00Z', availableReplicas: 4 }),
          spec: {
            ...rollout('v2').spec,
            progressDeadlineSeconds: 60,
            progressDeadlineAbort: true,
            strategy: { canary: { canaryService: 'a-canary', steps: [{ setWeight: 50 }] } },
          },
        },
        [rs('v1', 4, 1), { ...rs('v2', 2, 2), status: { replicas: 2, readyReplicas: 0, availableReplicas: 0, observedGeneration: 1 } }],
      ),
      services: { 'a-canary': { metadata: { name: 'a-canary' }, spec: { selector: { app: 'a', 'rollouts-pod-template-hash': h2 } } } },
    },
    expect: (p) => {
      assert.equal(p.status.abort, true);
      assert.equal(p.status.phase, 'Degraded');
      const writes = p.actions.filter((a) => a.type !== 'event');
      assert.deepEqual(
        writes.find((a) => a.type === 'setServiceSelector'),
        { type: 'setServiceSelector', service: 'a-canary', hash: h1 },
      );
      assert.ok(writes.some((a) => a.type === 'scaleReplicaSet' && a.name === `a-${h2}` && a.replicas === 0));
    },
  },
  {
    name: 'restart: no next batch while a deleted pod is not replaced, even if ReplicaSet status still counts it',
    input: {
      ...observed(
        { ...rollout('v1', { stableRS: h1, currentPodHash: h1, availableReplicas: 4 }), spec: { ...rollout('v1').spec, restartAt: '2026-01-01T00:05:00Z' } },
        [rs('v1', 4, 1)],
      ),
      pods: [0, 1, 2, 3].map((i) => ({
        metadata: { name: `p${i}`, creationTimestamp: '2026-01-01T00:00:00Z', ...(i === 0 ? { deletionTimestamp: '2026-01-01T00:09:59Z' } : {}) },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      })),
    },
    expect: (p) =>
      assert.deepEqual(
        p.actions.filter((a) => a.type === 'evictPod'),
        [],
      ),
  },
  {
    name: 'restart: with every pod ready, one batch (a quarter, at least one) is evicted',
    input: {
      ...observed(
        { ...rollout('v1', { stableRS: h1, currentPodHash: h1, availableReplicas: 4 }), spec: { ...rollout('v1').spec, restartAt: '2026-01-01T00:05:00Z' } },
        [rs('v1', 4, 1)],
      ),
      pods: [0, 1, 2, 3].map((i) => ({
        metadata: { name: `p${i}`, creationTimestamp: '2026-01-01T00:00:00Z' },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      })),
    },
    expect: (p) =>
      assert.deepEqual(
        p.actions.filter((a) => a.type === 'evictPod'),
        [{ type: 'evictPod', name: 'p0' }],
      ),
  },
  {
    name: 'both strategies: invalid, nothing done, slow requeue',
    input: observed({ ...rollout('v1'), spec: { ...rollout('v1').spec, strategy: { canary: {}, blueGreen: { activeService: 's' } } } }, []),
    expect: (p) => {
      assert.deepEqual(
        p.actions.filter((a) => a.type !== 'event'),
        [],
      );
      assert.equal(p.requeueAfterMs, INVALID_SPEC_REQUEUE_MS);
      assert.match(p.status.message ?? '', /exactly one of canary and blueGreen/);
    },
  },
  {
    name: 'same inputs, same plan (no hidden clock or randomness)',
    input: observed(rollout('v2', { stableRS: h1, currentPodHash: h2, currentStepIndex: 0, availableReplicas: 4 }), [rs('v1', 4, 1), rs('v2', 0, 2)]),
    expect: (p) => {
      const again = plan(
        observed(rollout('v2', { stableRS: h1, currentPodHash: h2, currentStepIndex: 0, availableReplicas: 4 }), [rs('v1', 4, 1), rs('v2', 0, 2)]),
        now,
      );
      assert.deepEqual(again, p);
      assert.equal(p.status.desiredWeight, 50);
    },
  },
];

for (const c of cases) test(`plan: ${c.name}`, () => c.expect(plan(c.input, now)));
