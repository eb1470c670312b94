import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boundedRequeue, INVALID_SPEC_REQUEUE_MS, MAX_REQUEUE_MS } from './requeue.ts';

test('boundedRequeue: clamped to what one timer can wait; Infinity is none; NaN looks again later, not at once', () => {
  assert.equal(boundedRequeue(undefined), undefined);
  assert.equal(boundedRequeue(1500), 1500);
  assert.equal(boundedRequeue(-20), 0);
  assert.equal(boundedRequeue(400 * 86_400_000), MAX_REQUEUE_MS);
  assert.equal(boundedRequeue(Infinity), undefined);
  assert.equal(boundedRequeue(NaN), INVALID_SPEC_REQUEUE_MS);
});
