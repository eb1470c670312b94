import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RolloutStatus } from '../../api/rollout.ts';
import { onlyCountsChanged } from './status-batch.ts';

const at = '2026-01-01T00:00:00Z';
const base: RolloutStatus = {
  phase: 'Progressing',
  message: 'Step 1/4 (setWeight 25): waiting for 1 canary pod(s) available (0 now) and 3 stable',
  currentStepIndex: 0,
  currentPodHash: 'h2',
  stableRS: 'h1',
  replicas: 5,
  readyReplicas: 4,
  availableReplicas: 4,
  actualWeight: 0,
  conditions: [{ type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: '0 of 1 updated', lastTransitionTime: at, lastUpdateTime: at }],
} as RolloutStatus;

test('counts, the message and condition texts that quote them may wait', () => {
  const next = {
    ...base,
    message: 'Step 1/4 (setWeight 25): waiting for 1 canary pod(s) available (1 now) and 3 stable',
    readyReplicas: 5,
    availableReplicas: 5,
    actualWeight: 20,
    conditions: [{ ...base.conditions![0]!, message: '1 of 1 updated', lastUpdateTime: '2026-01-01T00:00:01Z' }],
  } as RolloutStatus;
  assert.equal(onlyCountsChanged(base, next), true);
  assert.equal(onlyCountsChanged(base, base), true);
});

test('a phase, step, hash, pause or condition status is never held back', () => {
  assert.equal(onlyCountsChanged(base, { ...base, phase: 'Paused' } as RolloutStatus), false);
  assert.equal(onlyCountsChanged(base, { ...base, currentStepIndex: 1 }), false);
  assert.equal(onlyCountsChanged(base, { ...base, stableRS: 'h2' }), false);
  assert.equal(onlyCountsChanged(base, { ...base, pauseConditions: [{ reason: 'CanaryPauseStep', startTime: at }] } as RolloutStatus), false);
  assert.equal(onlyCountsChanged(base, { ...base, conditions: [{ ...base.conditions![0]!, status: 'False' }] } as RolloutStatus), false);
  assert.equal(onlyCountsChanged(base, { ...base, conditions: [{ ...base.conditions![0]!, reason: 'ProgressDeadlineExceeded' }] } as RolloutStatus), false);
  assert.equal(onlyCountsChanged(undefined, base), false, 'a first status is written at once');
});
