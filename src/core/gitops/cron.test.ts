import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
// node-cron's own matcher (internal module, test only): our pure walk must agree with the
// scheduler node-cron itself would run, for every expression and instant.
// @ts-expect-error: an internal module without type declarations
import { T as NodeCronMatcher } from '../../../node_modules/node-cron/dist/_shared.js';
import { cronMatches, cronProblem, nextCronTime, openSpanEnd, parseCron, previousCronTime, WorkBudget } from './cron.ts';
import { toWall } from './zones.ts';

const reference = (expression: string, zone = 'UTC') => new NodeCronMatcher(expression, zone) as { getNextMatch(d: Date): Date; match(d: Date): boolean };

const EXPRESSIONS = [
  '*/15 9-17 * * 1-5',
  '0 0 * * *',
  '30 2 L * *',
  '0 12 * * MON#2',
  '0 22 * * 5',
  '5 4 * * SUN',
  '0 0 29 2 *',
  '@hourly',
  '@daily',
  '0 9 1-7 * 1',
  '0 0 15W * *',
  '0 18 * * 5L',
  '0 6 L-2 * *',
  '*/7 */5 * JAN,JUL *',
];

test('parse errors are readable', () => {
  assert.match(cronProblem('0 0 1 * * *') ?? '', /has 6 fields; use 5/);
  assert.match(cronProblem('0 25 * * *') ?? '', /invalid cron expression "0 25 \* \* \*": .*hour/);
  assert.match(cronProblem('every day') ?? '', /has 2 fields/);
  assert.equal(cronProblem('0 22 * * 5'), undefined);
  assert.equal(cronProblem('@weekly'), undefined);
});

test('next and previous times, by example', () => {
  const c = parseCron('0 22 * * 5'); // Fridays 22:00 UTC
  assert.equal(nextCronTime(c, new Date('2025-06-02T10:00:00Z'))?.toISOString(), '2025-06-06T22:00:00.000Z');
  assert.equal(nextCronTime(c, new Date('2025-06-06T22:00:00Z'))?.toISOString(), '2025-06-13T22:00:00.000Z', 'strictly after');
  assert.equal(previousCronTime(c, new Date('2025-06-06T22:00:00Z'), new Date(0))?.toISOString(), '2025-06-06T22:00:00.000Z', 'at or before');
  assert.equal(previousCronTime(c, new Date('2025-06-06T21:59:59Z'), new Date('2025-06-01T00:00:00Z')), undefined, 'not before the floor');
  assert.equal(nextCronTime(parseCron('0 0 29 2 *'), new Date('2025-03-01T00:00:00Z'))?.toISOString(), '2028-02-29T00:00:00.000Z');
  assert.ok(cronMatches(c, new Date('2025-06-06T22:00:45Z')));
  assert.ok(!cronMatches(c, new Date('2025-06-06T22:01:00Z')));
});

test('next and previous agree with node-cron for random instants', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...EXPRESSIONS),
      fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2032-01-01T00:00:00Z'), noInvalidDate: true }),
      (expression, at) => {
        const cron = parseCron(expression);
        const ref = reference(expression);
        const next = nextCronTime(cron, at);
        assert.equal(next?.toISOString(), ref.getNextMatch(at).toISOString(), `next ${expression} after ${at.toISOString()}`);
        const prev = previousCronTime(cron, at, new Date(at.getTime() - 5 * 366 * 86_400_000));
        assert.ok(prev, `a previous ${expression} before ${at.toISOString()}`);
        assert.ok(ref.match(prev), `${prev.toISOString()} matches ${expression}`);
        assert.ok(ref.getNextMatch(prev).getTime() > at.getTime(), `nothing matches ${expression} between ${prev.toISOString()} and ${at.toISOString()}`);
        assert.equal(cronMatches(cron, at), ref.match(new Date(Math.floor(at.getTime() / 60_000) * 60_000)));
      },
    ),
    { numRuns: 300 },
  );
});

test('rare dates are found however far away they are (Feb 29 on a Monday: 2044)', () => {
  // Day of month and day of week must both match: Feb 29 falls on a Monday in 2044, then 2072.
  const leapMonday = parseCron('0 0 29 2 1');
  assert.equal(nextCronTime(leapMonday, new Date('2025-01-01T00:00:00Z'))?.toISOString(), '2044-02-29T00:00:00.000Z');
  assert.equal(nextCronTime(leapMonday, new Date('2044-02-29T00:00:00Z'))?.toISOString(), '2072-02-29T00:00:00.000Z');
  assert.equal(previousCronTime(leapMonday, new Date('2071-12-31T00:00:00Z'), new Date('2025-01-01T00:00:00Z'))?.toISOString(), '2044-02-29T00:00:00.000Z');
  assert.equal(nextCronTime(parseCron('0 0 29 2 1', 'Europe/Berlin'), new Date('2025-01-01T00:00:00Z'))?.toISOString(), '2044-02-28T23:00:00.000Z');
  // A day that never comes is answered too (the Gregorian calendar repeats every 400 years).
  assert.equal(nextCronTime(parseCron('0 0 1 * 1#5'), new Date('2025-01-01T00:00:00Z')), undefined, 'the 1st is never the fifth Monday');
});

test('time zones: wall-clock schedules across daylight-saving changes, by example', () => {
  const office = parseCron('0 9 * * 1-5', 'Europe/Berlin');
  assert.equal(nextCronTime(office, new Date('2025-01-06T00:00:00Z'))?.toISOString(), '2025-01-06T08:00:00.000Z', 'winter: UTC+1');
  assert.equal(nextCronTime(office, new Date('2025-07-07T00:00:00Z'))?.toISOString(), '2025-07-07T07:00:00.000Z', 'summer: UTC+2');
  // 02:30 does not exist in Berlin on 2025-03-30 (spring forward): skipped to the next day.
  assert.equal(nextCronTime(parseCron('30 2 * * *', 'Europe/Berlin'), new Date('2025-03-29T12:00:00Z'))?.toISOString(), '2025-03-31T00:30:00.000Z');
  // 02:30 happens twice on 2025-10-26 (fall back): once, at the first occurrence.
  const fallBack = parseCron('30 2 * * *', 'Europe/Berlin');
  const first = nextCronTime(fallBack, new Date('2025-10-25T12:00:00Z'));
  assert.equal(first?.toISOString(), '2025-10-26T00:30:00.000Z');
  assert.equal(nextCronTime(fallBack, first as Date)?.toISOString(), '2025-10-27T01:30:00.000Z');
  assert.match(cronProblem('0 9 * * *', 'Mars/Olympus') ?? '', /unknown time zone "Mars\/Olympus"/);
  assert.equal(parseCron('0 9 * * *', 'UTC').timeZone, undefined);
});

test('time zones: next and previous agree with node-cron (up to which occurrence of a repeated wall time)', () => {
  const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe', 'Pacific/Chatham'];
  fc.assert(
    fc.property(
      fc.constantFrom(...EXPRESSIONS),
      fc.constantFrom(...zones),
      fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }),
      (expression, zone, at) => {
        const cron = parseCron(expression, zone);
        const ref = reference(expression, zone);
        const next = nextCronTime(cron, at) as Date;
        const refNext = ref.getNextMatch(at);
        // Same instant, or the same wall time where we take its first occurrence and node-cron a later one.
        const same = next.getTime() === refNext.getTime() || (toWall(next.getTime(), zone) === toWall(refNext.getTime(), zone) && next < refNext);
        assert.ok(same, `next ${expression} in ${zone} after ${at.toISOString()}: ${next.toISOString()} vs node-cron ${refNext.toISOString()}`);
        const prev = previousCronTime(cron, at, new Date(at.getTime() - 5 * 366 * 86_400_000)) as Date;
        assert.ok(ref.match(prev), `${prev.toISOString()} matches ${expression} in ${zone}`);
        const after = ref.getNextMatch(prev);
        assert.ok(
          after.getTime() > at.getTime() || toWall(after.getTime(), zone) === toWall(prev.getTime(), zone),
          `nothing matches between ${prev.toISOString()} and ${at.toISOString()}`,
        );
      },
    ),
    { numRuns: 300 },
  );
});

test('openSpanEnd agrees with a minute-by-minute walk, across daylight-saving changes', () => {
  const windows: Array<[string, number]> = [
    ['* * * * *', 60_000],
    ['*/5 * * * *', 5 * 60_000],
    ['*/5 * * * *', 4 * 60_000],
    ['*/30 1-3 * * *', 30 * 60_000],
    ['*/30 1-3 * * *', 90 * 60_000],
    ['0 * * * *', 61 * 60_000],
    ['15 2 * * *', 3_600_000],
    ['* 9-17 * * 1-5', 60_000],
  ];
  const zones = [undefined, 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe'];
  // Instants near the 2025 changes of these zones, and ordinary ones.
  const near = ['2025-03-30T00:30:00Z', '2025-10-26T00:10:00Z', '2025-03-09T06:20:00Z', '2025-11-02T05:10:00Z', '2025-04-05T14:40:00Z', '2025-06-02T10:00:00Z'];
  const isOpenAt = (cron: ReturnType<typeof parseCron>, d: number, at: number) => previousCronTime(cron, new Date(at), new Date(at - d + 1)) !== undefined;
  fc.assert(
    fc.property(
      fc.constantFrom(...windows),
      fc.constantFrom(...zones),
      fc.constantFrom(...near),
      fc.integer({ min: -180, max: 180 }),
      ([expr, d], zone, base, shift) => {
        const cron = parseCron(expr, zone);
        const at = Date.parse(base) + shift * 60_000;
        const horizon = new Date(at + 3 * 86_400_000);
        const got = openSpanEnd(cron, d, new Date(at), horizon, new WorkBudget());
        if (!isOpenAt(cron, d, at)) return assert.equal(got, undefined);
        // Brute force: the first instant (a window end) at which no window is open any more.
        let t = at;
        let end: number | undefined;
        while (t <= horizon.getTime()) {
          const start = previousCronTime(cron, new Date(t), new Date(t - d + 1)) as Date;
          const e = start.getTime() + d;
          if (!isOpenAt(cron, d, e)) {
            end = e;
            break;
          }
          t = e;
        }
        if (end === undefined || end > horizon.getTime()) return assert.equal(got, 'beyond');
        assert.equal(
          got instanceof Date ? got.toISOString() : got,
          new Date(end).toISOString(),
          `${expr} (${d / 60_000}m) in ${zone} at ${new Date(at).toISOString()}`,
        );
      },
    ),
    { numRuns: 300, seed: 42 },
  );
});
