import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { WorkQueue } from './queue.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('a key waiting in the queue is queued once however often it is added', async () => {
  const clock = new FakeClock();
  const seen: string[] = [];
  const gate = deferred();
  const q = new WorkQueue(
    async (k) => {
      seen.push(k);
      if (k === 'blocker') await gate.promise;
    },
    { workers: 1, clock },
  );
  q.add('blocker'); // occupies the only worker
  for (let i = 0; i < 5; i++) q.add('a');
  q.add('b');
  assert.deepEqual(q.size(), { queued: 2, processing: 1, delayed: 0 });
  gate.resolve();
  await q.idle();
  assert.deepEqual(seen, ['blocker', 'a', 'b']);
});

test('a key is never processed twice at once; added while running, it runs again after', async () => {
  const clock = new FakeClock();
  let running = 0;
  let maxRunning = 0;
  let runs = 0;
  const gate = deferred();
  const q = new WorkQueue(
    async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs++;
      if (runs === 1) await gate.promise;
      running--;
    },
    { workers: 4, clock },
  );
  q.add('a');
  q.add('a'); // while the first run is in progress
  q.add('a');
  gate.resolve();
  await q.idle();
  assert.equal(maxRunning, 1);
  assert.equal(runs, 2, 'one more run for the adds made during the first');
});

test('failures back off exponentially per key; success resets', async () => {
  const clock = new FakeClock();
  const times: number[] = [];
  let fail = 3;
  const q = new WorkQueue(
    async () => {
      times.push(clock.now().getTime());
      if (fail-- > 0) throw new Error('boom');
    },
    { workers: 1, clock, baseBackoffMs: 100 },
  );
  q.add('a');
  await q.idle();
  for (const ms of [100, 200, 400]) {
    clock.advance(ms);
    await q.idle();
  }
  const t0 = times[0] as number;
  assert.deepEqual(
    times.map((t) => t - t0),
    [0, 100, 300, 700],
  );
});

test('requeue after a computed delay; the earliest pending delay wins', async () => {
  const clock = new FakeClock();
  let runs = 0;
  const q = new WorkQueue(async () => void runs++, { workers: 1, clock });
  q.addAfter('a', 1000);
  q.addAfter('a', 500);
  q.addAfter('a', 2000);
  clock.advance(499);
  await q.idle();
  assert.equal(runs, 0);
  clock.advance(1);
  await q.idle();
  assert.equal(runs, 1);
  clock.advance(5000);
  await q.idle();
  assert.equal(runs, 1, 'the later delays were merged into the earlier one');
});

test('the overall rate limit holds reconciles beyond the burst until tokens refill', async () => {
  const clock = new FakeClock();
  let runs = 0;
  const q = new WorkQueue(async () => void runs++, { workers: 2, clock, qps: 10, burst: 3 });
  for (let i = 0; i < 6; i++) q.add(`k${i}`);
  await q.idle();
  assert.equal(runs, 3);
  clock.advance(100);
  await q.idle();
  assert.equal(runs, 4);
  clock.advance(200);
  await q.idle();
  assert.equal(runs, 6);
});
