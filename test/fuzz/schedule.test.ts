// Fuzz: GitSync schedules and sync windows (src/core/gitops/schedule.ts, cron.ts) over
// arbitrary cron expressions, durations, time zones (with DST and odd offsets) and instants:
// nothing throws, every time is finite and in the right order, every wait is finite, and
// each decision takes bounded time.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as cron from '../../src/core/gitops/cron.ts';
import { decideSync, evaluateWindows, firstAllowedTime, scheduleProblems } from '../../src/core/gitops/schedule.ts';
import type { SyncWindow } from '../../src/api/git-sync.ts';
import { fuzzOptions } from '../helpers/fuzz.ts';

const { cronMatches, cronProblem, nextCronTime, parseCron } = cron;

// Walking schedules in a time zone takes seconds to minutes on this code (issue 10: a deny
// window `* 9-17 * * 1-5` in Europe/Berlin ~15-100 s); the GitSync work bounds it with a work
// budget (cron.ts WorkBudget). Until that is in, the properties that walk are skipped.
const BOUNDED = 'WorkBudget' in cron;
const walking = BOUNDED ? {} : { skip: 'schedules in a time zone take unbounded time before the bounded cron/window work (WorkBudget) is merged' };

const field = (values: string[]) => fc.constantFrom(...values);
const cronExpression = fc.oneof(
  fc
    .tuple(
      field(['*', '*/5', '0', '0,30', '15-45/10', '59', '*/1']),
      field(['*', '9-17', '*/3', '0', '23', '2']),
      field(['*', '1', '15', 'L', '29', '31', '1-7', '30']),
      field(['*', '2', '1-6', '*/2', 'feb', '12']),
      field(['*', '1-5', '0', '6', '1#2', '5L', 'MON', '7']),
    )
    .map((f) => f.join(' ')),
  field(['@daily', '@hourly', '@weekly', '@monthly', '@yearly', '@annually', '0 0 29 2 1', '0 0 31 4 *', '30 2 * * *']),
  fc.string({ maxLength: 20 }),
);
const zone = fc.constantFrom(
  undefined,
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe',
  'Asia/Kathmandu',
  'Pacific/Chatham',
  'America/Sao_Paulo',
);
const instant = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2040-12-31T00:00:00Z'), noInvalidDate: true });
const window: fc.Arbitrary<SyncWindow> = fc.record({
  kind: fc.constantFrom('allow' as const, 'deny' as const),
  schedule: cronExpression,
  duration: fc.constantFrom('1m', '30m', '1h', '8h', '24h', '0s', '48h'),
});

/** Runs `fn` and says how long it took. */
function timed<T>(fn: () => T): { value: T; ms: number } {
  const t = performance.now();
  const value = fn();
  return { value, ms: performance.now() - t };
}
const finite = (d: Date | undefined, what: string) => assert.ok(d === undefined || Number.isFinite(d.getTime()), `${what} is not a time`);

describe('fuzz: schedules and sync windows', () => {
  test('cron expressions: checking never throws; what the check accepts parses', () => {
    fc.assert(
      fc.property(cronExpression, zone, (expression, timeZone) => {
        const problem = cronProblem(expression, timeZone);
        if (problem === undefined) parseCron(expression, timeZone);
        else assert.equal(typeof problem, 'string');
        scheduleProblems({ schedule: expression, ...(timeZone ? { timeZone } : {}), syncWindows: [{ kind: 'deny', schedule: expression, duration: '1h' }] });
      }),
      fuzzOptions(5),
    );
  });

  test('the next matching minute is after the instant and matches', walking, () => {
    fc.assert(
      fc.property(cronExpression, zone, instant, (expression, timeZone, at) => {
        if (cronProblem(expression, timeZone) !== undefined) return;
        const c = parseCron(expression, timeZone);
        const { value: next, ms } = timed(() => nextCronTime(c, at));
        finite(next, 'next');
        if (next) {
          assert.ok(next > at, `${expression} in ${timeZone}: ${next.toISOString()} is not after ${at.toISOString()}`);
          assert.ok(cronMatches(c, next), `${expression} in ${timeZone} does not match ${next.toISOString()}`);
        }
        assert.ok(ms < 1000, `${expression} in ${timeZone}: ${ms.toFixed(0)} ms`);
      }),
      fuzzOptions(1),
    );
  });

  test('windows and sync decisions: no throw, finite times in order, bounded time', walking, () => {
    fc.assert(
      fc.property(fc.array(window, { maxLength: 3 }), zone, instant, fc.integer({ min: 0, max: 40 * 86_400_000 }), (windows, timeZone, now, sinceLast) => {
        const spec = { url: 'https://example.com/r.git', interval: '5m', syncWindows: windows, ...(timeZone ? { timeZone } : {}) };
        if (scheduleProblems(spec).length > 0) return;
        const { value: verdict, ms } = timed(() => evaluateWindows(windows, now, timeZone));
        if (!verdict.allowed) {
          assert.equal(typeof verdict.message, 'string');
          finite(verdict.allowedAt, 'allowedAt');
          if (verdict.allowedAt) assert.ok(verdict.allowedAt >= now, 'allowed again in the past');
        }
        const first = timed(() => firstAllowedTime(windows, now, timeZone));
        finite(first.value, 'firstAllowedTime');
        if (first.value) assert.ok(first.value >= now);
        const lastAttemptTime = new Date(now.getTime() - sinceLast).toISOString();
        const decision = timed(() => decideSync({ spec, status: { lastAttemptTime, observedGeneration: 1 }, generation: 1, syncRequest: undefined, now }));
        if (decision.value.action === 'wait') {
          finite(decision.value.dueAt, 'dueAt');
          finite(decision.value.nextSyncAt, 'nextSyncAt');
          assert.ok(decision.value.dueAt > now, 'waits for a time already past');
        }
        for (const t of [ms, first.ms, decision.ms]) assert.ok(t < 1000, `windows ${JSON.stringify(windows)} in ${timeZone}: ${t.toFixed(0)} ms`);
      }),
      fuzzOptions(1),
    );
  });
});
