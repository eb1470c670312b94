import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { laneOf, TokenBucket } from './rate-limit.ts';

test('a burst goes at once, the rest at qps, in the order asked', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(10, 3, clock);
  const sent: number[] = [];
  const all = Array.from({ length: 6 }, (_, i) => bucket.take().then(() => sent.push(i)));
  await Promise.resolve();
  assert.deepEqual(sent, [0, 1, 2], 'the burst');
  assert.equal(bucket.queued, 3);
  clock.advance(100);
  await Promise.resolve();
  assert.deepEqual(sent, [0, 1, 2, 3], 'one more after 1/qps');
  clock.advance(200);
  await Promise.all(all);
  assert.deepEqual(sent, [0, 1, 2, 3, 4, 5]);
  assert.equal(bucket.queued, 0);
});

test('qps 0 is no limit', async () => {
  const bucket = new TokenBucket(0, 1, new FakeClock());
  await Promise.all(Array.from({ length: 100 }, () => bucket.take()));
  assert.equal(bucket.queued, 0);
});

test('tokens come back while idle, up to the burst', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(2, 2, clock);
  await bucket.take();
  await bucket.take();
  clock.advance(10_000);
  let sent = 0;
  for (let i = 0; i < 3; i++) void bucket.take().then(() => sent++);
  await Promise.resolve();
  assert.equal(sent, 2, 'never more than the burst at once');
});

test('requests in the later lane (Events) wait while requests in the first lane wait, then go in their order', async () => {
  const clock = new FakeClock();
  const bucket = new TokenBucket(10, 1, clock);
  const sent: string[] = [];
  await bucket.take(); // the burst is spent
  const all = [
    bucket.take('later').then(() => sent.push('event-1')),
    bucket.take().then(() => sent.push('scale-1')),
    bucket.take('later').then(() => sent.push('event-2')),
    bucket.take().then(() => sent.push('status-1')),
  ];
  for (let i = 0; i < 4; i++) {
    clock.advance(100);
    await Promise.resolve();
  }
  await Promise.all(all);
  assert.deepEqual(sent, ['scale-1', 'status-1', 'event-1', 'event-2']);
});

test('a request in the later lane goes at once when tokens are left and nothing waits', async () => {
  const bucket = new TokenBucket(10, 2, new FakeClock());
  let sent = 0;
  void bucket.take('later').then(() => sent++);
  await Promise.resolve();
  assert.equal(sent, 1);
  assert.equal(bucket.queued, 0);
});

test('Event requests are in the later lane; everything else, the Events of other groups included, in the first', () => {
  assert.equal(laneOf('/api/v1/namespaces/team-a/events'), 'later');
  assert.equal(laneOf('/api/v1/namespaces/team-a/events/bench-0.abc'), 'later');
  assert.equal(laneOf('/apis/events.k8s.io/v1/namespaces/team-a/events'), 'later');
  assert.equal(laneOf('/api/v1/events?limit=10'), 'later');
  assert.equal(laneOf('/apis/apps/v1/namespaces/events/replicasets/x'), 'first');
  assert.equal(laneOf('/apis/sluice.dev/v1alpha1/namespaces/a/rollouts/events/status'), 'first');
  assert.equal(laneOf('/apis/example.com/v1/namespaces/a/events'), 'first');
  assert.equal(laneOf('/api/v1/namespaces/a/pods'), 'first');
  assert.equal(laneOf('/api/v1/namespaces/events'), 'first');
  assert.equal(laneOf('/api/v1/namespaces/events/pods'), 'first');
});
