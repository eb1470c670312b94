import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { TokenBucket } from './rate-limit.ts';

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
