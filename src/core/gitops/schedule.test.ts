import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { GitSyncSpec, GitSyncStatus, SyncWindow } from '../../api/git-sync.ts';
import { WorkBudget } from './cron.ts';
import { zoneLookups } from './zones.ts';
import { calculateNextDue, decideSync, evaluateWindows, firstAllowedTime, scheduleProblems, type SyncDecision } from './schedule.ts';

const t = (iso: string) => new Date(iso);
const spec = (extra: Partial<GitSyncSpec> = {}): GitSyncSpec => ({ url: 'https://example.com/r.git', ...extra });

// 2025-06-02 is a Monday.
const FRIDAY_NIGHT_FREEZE: SyncWindow = { kind: 'deny', schedule: '0 22 * * 5', duration: '56h' }; // Fri 22:00 -> Mon 06:00
const OFFICE_HOURS: SyncWindow = { kind: 'allow', schedule: '0 9 * * 1-5', duration: '8h' }; // weekdays 09:00-17:00
const LUNCH_FREEZE: SyncWindow = { kind: 'deny', schedule: '0 12 * * *', duration: '1h' };

describe('evaluateWindows', () => {
  const cases: Array<[string, SyncWindow[], string, { allowed: boolean; allowedAt?: string; message?: RegExp }]> = [
    ['no windows', [], '2025-06-07T12:00:00Z', { allowed: true }],
    [
      'inside a deny window',
      [FRIDAY_NIGHT_FREEZE],
      '2025-06-07T12:00:00Z',
      { allowed: false, allowedAt: '2025-06-09T06:00:00.000Z', message: /denied by deny window "0 22 \* \* 5" \(56h\) until 2025-06-09T06:00:00.000Z/ },
    ],
    ['just before a deny window', [FRIDAY_NIGHT_FREEZE], '2025-06-06T21:59:00Z', { allowed: true }],
    ['a deny window ends exclusive', [FRIDAY_NIGHT_FREEZE], '2025-06-09T06:00:00Z', { allowed: true }],
    ['inside an allow window', [OFFICE_HOURS], '2025-06-02T10:00:00Z', { allowed: true }],
    [
      'before the allow window',
      [OFFICE_HOURS],
      '2025-06-02T08:00:00Z',
      { allowed: false, allowedAt: '2025-06-02T09:00:00.000Z', message: /outside every allow window/ },
    ],
    ['weekend with only weekday allow windows', [OFFICE_HOURS], '2025-06-07T10:00:00Z', { allowed: false, allowedAt: '2025-06-09T09:00:00.000Z' }],
    ['deny wins over allow', [OFFICE_HOURS, LUNCH_FREEZE], '2025-06-02T12:30:00Z', { allowed: false, allowedAt: '2025-06-02T13:00:00.000Z' }],
    ['after a deny, the next allow', [OFFICE_HOURS, LUNCH_FREEZE], '2025-06-06T16:59:00Z', { allowed: true }],
    [
      'a deny window that ends outside every allow window',
      [OFFICE_HOURS, { kind: 'deny', schedule: '0 16 * * *', duration: '2h' }],
      '2025-06-02T16:30:00Z',
      { allowed: false, allowedAt: '2025-06-03T09:00:00.000Z' },
    ],
  ];
  for (const [name, windows, now, expected] of cases) {
    test(name, () => {
      const v = evaluateWindows(windows, t(now));
      assert.equal(v.allowed, expected.allowed);
      if (!v.allowed) {
        assert.equal(v.allowedAt?.toISOString(), expected.allowedAt);
        if (expected.message) assert.match(v.message, expected.message);
      }
    });
  }

  test('windows are read in spec.timeZone (wall clock across daylight saving)', () => {
    // Office hours 09:00-17:00 New York time: 13:00Z in summer (EDT), 14:00Z in winter (EST).
    assert.equal(evaluateWindows([OFFICE_HOURS], t('2025-06-02T13:30:00Z'), 'America/New_York').allowed, true);
    const winter = evaluateWindows([OFFICE_HOURS], t('2025-01-06T13:30:00Z'), 'America/New_York');
    assert.ok(!winter.allowed && winter.allowedAt?.toISOString() === '2025-01-06T14:00:00.000Z');
    assert.equal(evaluateWindows([OFFICE_HOURS], t('2025-01-06T13:30:00Z')).allowed, true, 'the same instant is inside the window in UTC');
  });

  test('a window that opens only on rare dates (Feb 29 on a Monday: 2044) says when', () => {
    const v = evaluateWindows([{ kind: 'allow', schedule: '0 0 29 2 1', duration: '1h' }], t('2025-01-01T00:00:00Z'));
    assert.equal(v.allowed, false);
    assert.ok(!v.allowed && v.allowedAt?.toISOString() === '2044-02-29T00:00:00.000Z', JSON.stringify(v));
  });

  test('a deny window that never closes says so', () => {
    // (In a zone with daylight saving it closes for the repeated hour of a fall back: a wall time counts once.)
    const v = evaluateWindows([{ kind: 'deny', schedule: '*/5 * * * *', duration: '5m' }], t('2025-06-02T10:02:00Z'), 'Asia/Kolkata');
    assert.ok(!v.allowed && v.allowedAt === undefined && !v.unresolved && /no window allows a sync within the next year/.test(v.message), JSON.stringify(v));
  });

  test('property: the time a denied sync waits for is allowed, later, and nothing between is', () => {
    const windows = fc.subarray(
      [
        FRIDAY_NIGHT_FREEZE,
        OFFICE_HOURS,
        LUNCH_FREEZE,
        { kind: 'deny', schedule: '*/20 * * * *', duration: '5m' } as SyncWindow,
        { kind: 'allow', schedule: '0 0 1 * *', duration: '72h' } as SyncWindow,
      ],
      { minLength: 1 },
    );
    fc.assert(
      fc.property(windows, fc.date({ min: t('2024-01-01T00:00:00Z'), max: t('2027-01-01T00:00:00Z'), noInvalidDate: true }), (ws, now) => {
        const v = evaluateWindows(ws, now);
        if (v.allowed) return;
        assert.ok(v.allowedAt, 'these windows always open again');
        assert.ok(v.allowedAt > now);
        assert.equal(evaluateWindows(ws, v.allowedAt).allowed, true);
        // Sample the wait: every minute start strictly between now and allowedAt is denied.
        const step = Math.max(60_000, Math.floor((v.allowedAt.getTime() - now.getTime()) / 50 / 60_000) * 60_000);
        for (let at = now.getTime() + 1; at < v.allowedAt.getTime(); at += step)
          assert.equal(evaluateWindows(ws, new Date(at)).allowed, false, new Date(at).toISOString());
      }),
      { numRuns: 200 },
    );
  });
});

describe('bounded work (counted, not timed)', () => {
  // Before: each minute of a window was a hop with a day's worth of Intl calls (~15 s for office hours in Berlin).
  const cases: Array<[string, SyncWindow, string, string, number]> = [
    [
      'every minute of office hours, Berlin',
      { kind: 'deny', schedule: '* 9-17 * * 1-5', duration: '1m' },
      '2025-06-02T10:00:00Z',
      '2025-06-02T16:00:00.000Z',
      200,
    ],
    [
      'every 5 minutes, touching, Berlin',
      { kind: 'deny', schedule: '*/5 * * * *', duration: '5m' },
      '2025-06-02T10:02:00Z',
      '2025-10-26T01:00:00.000Z',
      10_000,
    ],
    [
      'every minute, New York, across a spring forward',
      { kind: 'deny', schedule: '* * * * *', duration: '1m' },
      '2025-03-01T00:00:00Z',
      '2025-11-02T06:00:00.000Z',
      10_000,
    ],
    ['every 5 minutes, a gap between', { kind: 'deny', schedule: '*/5 * * * *', duration: '1m' }, '2025-06-02T10:00:30Z', '2025-06-02T10:01:00.000Z', 100],
  ];
  for (const [name, window, now, allowedAt, maxSteps] of cases) {
    test(name, () => {
      const zone = name.includes('New York') ? 'America/New_York' : 'Europe/Berlin';
      const budget = new WorkBudget();
      const v = evaluateWindows([window], t(now), zone, budget);
      assert.ok(!v.allowed && !v.unresolved, JSON.stringify(v));
      assert.equal(v.allowedAt?.toISOString(), allowedAt);
      assert.ok(budget.used <= maxSteps, `${budget.used} steps (at most ${maxSteps})`);
    });
  }

  test('zone offsets are cached: evaluating again asks Intl (almost) nothing', () => {
    const window: SyncWindow = { kind: 'deny', schedule: '* 9-17 * * 1-5', duration: '1m' };
    evaluateWindows([window], t('2025-06-03T10:00:00Z'), 'Europe/Berlin');
    const before = zoneLookups();
    evaluateWindows([window], t('2025-06-03T10:00:00Z'), 'Europe/Berlin');
    assert.ok(zoneLookups() - before <= 2, `${zoneLookups() - before} lookups`);
  });

  test('over the budget: no sync, and a status that says the windows cannot be worked out', () => {
    const windows: SyncWindow[] = [
      { kind: 'allow', schedule: '0 * * * *', duration: '1m' },
      { kind: 'deny', schedule: '0 * * * *', duration: '1m' }, // every allow window is denied: hop after hop
    ];
    const budget = new WorkBudget(5_000);
    const v = evaluateWindows(windows, t('2025-06-02T10:30:00Z'), 'Europe/Berlin', budget);
    assert.ok(!v.allowed && v.unresolved && v.allowedAt === undefined, JSON.stringify(v));
    assert.match(v.message, /could not be worked out within 5000 steps/);
    assert.ok(budget.used <= 5_000 + 1_500, `stopped near the limit: ${budget.used}`);
    const decision = decideSync(
      {
        spec: spec({ syncWindows: windows, timeZone: 'Europe/Berlin' }),
        status: undefined,
        generation: 1,
        syncRequest: undefined,
        now: t('2025-06-02T10:30:00Z'),
      },
      new WorkBudget(5_000),
    );
    assert.equal(decision.action, 'blocked');
    assert.ok(decision.action === 'blocked' && decision.unresolved === true && decision.allowedAt === undefined);
    assert.equal(firstAllowedTime(windows, t('2025-06-02T10:30:00Z'), 'Europe/Berlin', new WorkBudget(5_000)), undefined);
  });

  test('property: any windows in any zone are decided within the default budget, never by throwing', () => {
    const minute = fc.oneof(fc.constant('*'), fc.constant('*/5'), fc.constant('0'), fc.constant('30'), fc.constant('0-59/15'));
    const hour = fc.oneof(fc.constant('*'), fc.constant('9-17'), fc.constant('2'), fc.constant('22'), fc.constant('*/3'));
    const dom = fc.oneof(fc.constant('*'), fc.constant('1'), fc.constant('L'), fc.constant('15W'), fc.constant('29'));
    const month = fc.oneof(fc.constant('*'), fc.constant('2'), fc.constant('3,10'), fc.constant('JAN'));
    const dow = fc.oneof(fc.constant('*'), fc.constant('1-5'), fc.constant('0'), fc.constant('MON#2'), fc.constant('5L'));
    const window = fc.record({
      kind: fc.constantFrom('allow', 'deny') as fc.Arbitrary<'allow' | 'deny'>,
      schedule: fc.tuple(minute, hour, dom, month, dow).map((f) => f.join(' ')),
      duration: fc.constantFrom('1m', '5m', '59s', '1h', '8h', '56h'),
    });
    const zones = fc.constantFrom(undefined, 'Europe/Berlin', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kolkata');
    fc.assert(
      fc.property(
        fc.array(window, { minLength: 1, maxLength: 4 }),
        zones,
        fc.date({ min: t('2024-01-01T00:00:00Z'), max: t('2030-01-01T00:00:00Z'), noInvalidDate: true }),
        (ws, zone, now) => {
          if (scheduleProblems(spec({ syncWindows: ws, ...(zone ? { timeZone: zone } : {}) })).length) return;
          const budget = new WorkBudget();
          const v = evaluateWindows(ws, now, zone, budget);
          assert.ok(budget.used <= budget.limit + 1_500);
          if (!v.allowed && v.allowedAt) assert.ok(v.allowedAt > now);
        },
      ),
      { numRuns: 150, seed: 20250602 },
    );
  });
});

describe('scheduleProblems', () => {
  test('bad cron, too short an interval, both interval and schedule, bad durations', () => {
    assert.deepEqual(scheduleProblems(spec({ interval: '1m' })), []);
    assert.match(scheduleProblems(spec({ schedule: '0 0 * *' })).join(), /spec.schedule: cron expression "0 0 \* \*" has 4 fields/);
    assert.match(scheduleProblems(spec({ interval: '2s' })).join(), /spec.interval: 2s is shorter than the minimum 10s/);
    assert.match(scheduleProblems(spec({ interval: '1m', schedule: '* * * * *' })).join(), /set interval or schedule, not both/);
    assert.match(
      scheduleProblems(spec({ syncWindows: [{ kind: 'deny', schedule: '0 99 * * *', duration: '1h' }] })).join(),
      /spec.syncWindows\[0\].schedule: invalid cron/,
    );
    assert.match(
      scheduleProblems(spec({ syncWindows: [{ kind: 'deny', schedule: '0 9 * * *', duration: 0 }] })).join(),
      /spec.syncWindows\[0\].duration: must be longer than 0/,
    );
    assert.match(scheduleProblems(spec({ timeZone: 'Europe/Atlantis' })).join(), /spec.timeZone: unknown time zone "Europe\/Atlantis"/);
    assert.deepEqual(scheduleProblems(spec({ timeZone: 'Europe/Berlin', schedule: '0 3 * * *' })), []);
    assert.match(scheduleProblems(spec({ schedule: '0 0 1 * 1#5' })).join(), /spec.schedule: "0 0 1 \* 1#5" never matches/);
    assert.match(
      scheduleProblems(spec({ syncWindows: [{ kind: 'allow', schedule: '0 0 1W * 0', duration: '1h' }] })).join(),
      /spec.syncWindows\[0\].schedule: "0 0 1W \* 0" never matches/,
    );
    assert.deepEqual(scheduleProblems(spec({ schedule: '0 0 29 2 1' })), [], 'rare is not never');
  });
});

describe('calculateNextDue', () => {
  test('interval, default interval, cron schedule, and retry after a failure', () => {
    const last = t('2025-06-02T10:00:30Z');
    assert.equal(calculateNextDue(spec({ interval: '10m' }), last, false).toISOString(), '2025-06-02T10:10:30.000Z');
    assert.equal(calculateNextDue(spec(), last, false).toISOString(), '2025-06-02T10:05:30.000Z');
    assert.equal(calculateNextDue(spec({ schedule: '0 * * * *' }), last, false).toISOString(), '2025-06-02T11:00:00.000Z');
    assert.equal(calculateNextDue(spec({ schedule: '0 0 29 2 1' }), last, false).toISOString(), '2044-02-29T00:00:00.000Z', 'not a year later, on no match');
    assert.equal(calculateNextDue(spec({ interval: '10m' }), last, true).toISOString(), '2025-06-02T10:01:30.000Z');
    assert.equal(
      calculateNextDue(spec({ interval: '20s' }), last, true).toISOString(),
      '2025-06-02T10:00:50.000Z',
      'a shorter interval wins over the retry delay',
    );
  });
});

describe('decideSync', () => {
  const synced = (extra: Partial<GitSyncStatus> = {}): GitSyncStatus => ({
    observedGeneration: 1,
    lastAttemptTime: '2025-06-02T10:00:00.000Z',
    lastSyncTime: '2025-06-02T10:00:00.000Z',
    ...extra,
  });
  const cases: Array<[string, Parameters<typeof decideSync>[0], SyncDecision]> = [
    [
      'never synced: at once',
      { spec: spec(), status: undefined, generation: 1, syncRequest: undefined, now: t('2025-06-02T10:00:00Z') },
      { action: 'sync', trigger: 'initial' },
    ],
    [
      'suspended wins',
      { spec: spec({ suspend: true }), status: undefined, generation: 1, syncRequest: 'x', now: t('2025-06-02T10:00:00Z') },
      { action: 'suspended' },
    ],
    [
      'spec changed: at once',
      { spec: spec(), status: synced(), generation: 2, syncRequest: undefined, now: t('2025-06-02T10:01:00Z') },
      { action: 'sync', trigger: 'spec-changed' },
    ],
    [
      'sync requested: at once',
      { spec: spec(), status: synced(), generation: 1, syncRequest: '2025-06-02T10:01:00Z', now: t('2025-06-02T10:01:00Z') },
      { action: 'sync', trigger: 'requested' },
    ],
    [
      'a handled request waits',
      { spec: spec(), status: synced({ lastHandledSyncRequest: 'r1' }), generation: 1, syncRequest: 'r1', now: t('2025-06-02T10:01:00Z') },
      { action: 'wait', dueAt: t('2025-06-02T10:05:00.000Z'), nextSyncAt: t('2025-06-02T10:05:00.000Z') },
    ],
    [
      'interval elapsed',
      { spec: spec(), status: synced(), generation: 1, syncRequest: undefined, now: t('2025-06-02T10:05:00Z') },
      { action: 'sync', trigger: 'scheduled' },
    ],
    [
      'after a permanent failure (Stalled), the normal interval',
      {
        spec: spec({ interval: '1h' }),
        status: synced({
          lastError: { reason: 'InvalidManifest', message: 'x' },
          conditions: [{ type: 'Stalled', status: 'True', reason: 'InvalidManifest', message: 'x', lastTransitionTime: '2025-06-02T10:00:00Z' }],
        }),
        generation: 1,
        syncRequest: undefined,
        now: t('2025-06-02T10:01:00Z'),
      },
      { action: 'wait', dueAt: t('2025-06-02T11:00:00.000Z'), nextSyncAt: t('2025-06-02T11:00:00.000Z') },
    ],
    [
      'after a failure, retry sooner',
      {
        spec: spec({ interval: '1h' }),
        status: synced({ lastError: { reason: 'FetchFailed', message: 'x' } }),
        generation: 1,
        syncRequest: undefined,
        now: t('2025-06-02T10:01:00Z'),
      },
      { action: 'sync', trigger: 'retry' },
    ],
    [
      'due inside a deny window: blocked until it ends',
      { spec: spec({ syncWindows: [LUNCH_FREEZE] }), status: synced(), generation: 1, syncRequest: 'now', now: t('2025-06-02T12:10:00Z') },
      {
        action: 'blocked',
        trigger: 'requested',
        message: 'Sync denied by deny window "0 12 * * *" (1h) until 2025-06-02T13:00:00.000Z',
        allowedAt: t('2025-06-02T13:00:00.000Z'),
      },
    ],
    [
      'waiting: the next sync moves past a deny window',
      { spec: spec({ interval: '2h', syncWindows: [LUNCH_FREEZE] }), status: synced(), generation: 1, syncRequest: undefined, now: t('2025-06-02T10:30:00Z') },
      { action: 'wait', dueAt: t('2025-06-02T12:00:00.000Z'), nextSyncAt: t('2025-06-02T13:00:00.000Z') },
    ],
    [
      'cron schedule: waits for the next match',
      { spec: spec({ schedule: '0 3 * * *' }), status: synced(), generation: 1, syncRequest: undefined, now: t('2025-06-02T11:00:00Z') },
      { action: 'wait', dueAt: t('2025-06-03T03:00:00.000Z'), nextSyncAt: t('2025-06-03T03:00:00.000Z') },
    ],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.deepEqual(decideSync(input), expected));
  }

  test('firstAllowedTime without windows is the time itself', () => {
    assert.equal(firstAllowedTime(undefined, t('2025-06-02T12:10:00Z'))?.toISOString(), '2025-06-02T12:10:00.000Z');
  });
});
