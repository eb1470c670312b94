// The overhead and time-to-safety derivations over a hand-written event record (run with
// `npx node --test bench/lib/measure.test.ts`; not part of npm test, like the rest of bench/).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { analyseRollouts, pct, timeToSafety } from './measure.ts';
import type { Ev } from './recorder.ts';

const ro = (t: number, gen: number, status: Record<string, unknown>, type: Ev['type'] = 'MODIFIED'): Ev => ({
  t,
  kind: 'rollout',
  type,
  name: 'bench-0',
  obj: { metadata: { name: 'bench-0', generation: gen }, spec: {}, status },
});
const rs = (t: number, hash: string, spec: number, ready: number, type: Ev['type'] = 'MODIFIED', gen = 1): Ev => ({
  t,
  kind: 'replicaset',
  type,
  name: `bench-0-${hash}`,
  obj: {
    metadata: { name: `bench-0-${hash}`, owner: 'bench-0', generation: gen, labels: { 'rollouts-pod-template-hash': hash } },
    spec: { replicas: spec },
    status: { observedGeneration: gen, replicas: ready, readyReplicas: ready, availableReplicas: ready },
  },
});

test('each condition is paired with the first controller write after it', () => {
  const events: Ev[] = [
    ro(0, 1, { phase: 'Healthy', stableRS: 'a', currentPodHash: 'a', observedGeneration: 1 }, 'ADDED'),
    rs(0, 'a', 4, 4, 'ADDED'),
    ro(1000, 2, { phase: 'Healthy', stableRS: 'a', currentPodHash: 'a', observedGeneration: 1 }), // the bench's template change
    rs(1010, 'b', 1, 0, 'ADDED'), // controller: 10 ms after the change
    ro(1012, 2, { phase: 'Progressing', stableRS: 'a', currentPodHash: 'b', observedGeneration: 2, currentStepIndex: 0 }),
    rs(1100, 'b', 1, 1), // pods ready
    ro(1105, 2, {
      phase: 'Paused',
      stableRS: 'a',
      currentPodHash: 'b',
      observedGeneration: 2,
      currentStepIndex: 1,
      pauseConditions: [{ reason: 'CanaryPauseStep', startTime: new Date(1100).toISOString() }],
    }),
    ro(3130, 2, { phase: 'Healthy', stableRS: 'b', currentPodHash: 'b', observedGeneration: 2 }), // pause ended at 3100
  ];
  const f = analyseRollouts(events, new Map([['bench-0', 999]]), new Map([['bench-0', 'a']]));
  assert.deepEqual(
    f.samples.map((s) => [s.cond, Math.round(s.ms)]),
    [
      ['spec-change', 10],
      ['pods-ready', 5],
      ['pause-end', 30],
    ],
  );
  assert.equal(f.completedAt.get('bench-0'), 3130);
  assert.equal(f.writes['rollout status'], 3);
  assert.equal(f.writes['replicaset create'], 1);
});

test('time to safety runs from the failed measurement to the stable ReplicaSet alone holding every pod', () => {
  const ar = (t: number, phase: string): Ev => ({
    t,
    kind: 'analysisrun',
    type: 'MODIFIED',
    name: 'bench-0-b-1',
    obj: { metadata: { name: 'bench-0-b-1', owner: 'bench-0' }, status: { metricResults: [{ measurements: [{ phase }] }] } },
  });
  const events = [rs(0, 'a', 4, 4, 'ADDED'), rs(0, 'b', 1, 1, 'ADDED'), ar(500, 'Successful'), ar(1000, 'Failed'), rs(1050, 'b', 0, 1), rs(1200, 'b', 0, 0)];
  const t = timeToSafety(events, new Map([['bench-0', 'a']]));
  assert.deepEqual(t.get('bench-0'), { failedAt: 1000, safeAt: 1200 });
});

test('nearest-rank percentiles', () => {
  assert.equal(pct([5, 1, 4, 2, 3], 50), 3);
  assert.equal(
    pct(
      Array.from({ length: 100 }, (_, i) => i + 1),
      99,
    ),
    99,
  );
  assert.ok(Number.isNaN(pct([], 50)));
});
