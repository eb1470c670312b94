import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, setLongTimeout, systemClock } from './clock.ts';

// Node fires a setTimeout longer than 2^31-1 ms after 1 ms (with a warning). A timer of that
// length must not fire before a 30 ms one: timers fire in the order they are due.
test('a timer longer than 2^31-1 ms does not fire early', async () => {
  const fired: string[] = [];
  const cancels = [systemClock.setTimer(MAX_TIMER_MS + 1, () => fired.push('clock')), setLongTimeout(30 * 24 * 3600_000, () => fired.push('long'))];
  await new Promise<void>((resolve) => setTimeout(resolve, 30));
  for (const cancel of cancels) cancel();
  assert.deepEqual(fired, []);
});

test('long timers wait their real length, in segments; cancel stops every segment', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const fired: number[] = [];
  const total = 2 * MAX_TIMER_MS + 5000;
  setLongTimeout(total, () => fired.push(total));
  const cancel = setLongTimeout(total, () => fired.push(-1));
  systemClock.setTimer(10, () => fired.push(10));
  t.mock.timers.tick(MAX_TIMER_MS);
  assert.deepEqual(fired, [10]);
  cancel();
  t.mock.timers.tick(MAX_TIMER_MS);
  assert.deepEqual(fired, [10]);
  t.mock.timers.tick(4999);
  assert.deepEqual(fired, [10]);
  t.mock.timers.tick(1);
  assert.deepEqual(fired, [10, total]);
});

test('Infinity never fires; NaN and negative delays fire at once', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const fired: string[] = [];
  setLongTimeout(Infinity, () => fired.push('inf'));
  setLongTimeout(NaN, () => fired.push('nan'));
  setLongTimeout(-5, () => fired.push('neg'));
  t.mock.timers.tick(0);
  assert.deepEqual(fired.sort(), ['nan', 'neg']);
  t.mock.timers.tick(10 * MAX_TIMER_MS);
  assert.deepEqual(fired.sort(), ['nan', 'neg']);
});
