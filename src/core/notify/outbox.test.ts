import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelType, Notification, NotificationPolicyStatus, Route } from '../../api/notification-policy.ts';
import { backoffMs, DEFAULT_OUTBOX, dueEntries, enqueue, nextWakeMs, recordOutcomes, type Candidate, type EnqueueInput } from './outbox.ts';
import type { LiveObject } from './triggers.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0 + s * 1000);

function note(id: string, trigger: Notification['trigger'], o: Partial<Notification> = {}): Notification {
  return {
    id,
    trigger,
    triggers: [trigger],
    severity: 'critical',
    reason: 'RolloutAborted',
    message: 'aborted',
    at: at(1).toISOString(),
    object: { kind: 'Rollout', namespace: 'shop', name: 'web', uid: 'u1' },
    podHash: 'abc',
    retries: 0,
    actions: [],
    ...o,
  };
}

const channelTypes = new Map<string, ChannelType>([
  ['hook', 'webhook'],
  ['chat', 'slack'],
  ['am', 'alertmanager'],
]);
const everything: Route[] = [{ triggers: ['rollout-aborted', 'rollout-completed', 'gitsync-failing', 'gitsync-recovered'], channels: ['hook', 'chat', 'am'] }];
const abortedLive: LiveObject = { uid: 'u1', labels: {}, status: { abort: true, currentPodHash: 'abc', retries: 0 } };

function input(status: NotificationPolicyStatus, candidates: Candidate[], now: Date, o: Partial<EnqueueInput> = {}): EnqueueInput {
  return { status, createdAt: at(0).toISOString(), candidates, routes: everything, channelTypes, live: () => abortedLive, now, ...o };
}
const c = (n: Notification, labels: Record<string, string> = {}): Candidate => ({ notification: n, labels });

describe('outbox: enqueue', () => {
  test('one entry per channel; the same Events seen again (a restart re-lists them) add nothing', () => {
    const n = note('web.1', 'rollout-aborted');
    const first = enqueue(input({}, [c(n)], at(2)));
    assert.deepEqual(
      first.added.map((e) => e.key),
      ['web.1/hook', 'web.1/chat', 'web.1/am'],
    );
    assert.deepEqual(first.status.handled, [{ id: 'web.1', at: n.at }]);
    // Delivered everywhere: the outbox is empty, yet the Event is remembered.
    const delivered = recordOutcomes(
      first.status,
      first.added.map((e) => ({ key: e.key, ok: true as const })),
      at(3),
    );
    assert.equal(delivered.status.pending, undefined);
    const again = enqueue(input(JSON.parse(JSON.stringify(delivered.status)), [c(n)], at(10)));
    assert.deepEqual(again.added, []);
  });

  test('Events from before the policy existed are not notified', () => {
    const old = note('web.old', 'rollout-aborted', { at: at(-60).toISOString() });
    assert.deepEqual(enqueue(input({}, [c(old)], at(2))).added, []);
  });

  test('routes: trigger, kind and label selector decide; Alertmanager gets problems only', () => {
    const routes: Route[] = [
      { triggers: ['rollout-completed'], channels: ['hook', 'am'], selector: { matchLabels: { team: 'a' } } },
      { triggers: ['rollout-aborted'], channels: ['chat'], kinds: ['GitSync'] },
    ];
    const done = note('web.2', 'rollout-completed');
    assert.deepEqual(enqueue(input({}, [c(done, { team: 'b' })], at(2), { routes })).added, []);
    assert.deepEqual(
      enqueue(input({}, [c(done, { team: 'a' })], at(2), { routes })).added.map((e) => e.channel),
      ['hook'],
      'good news is no alert',
    );
    assert.deepEqual(enqueue(input({}, [c(note('web.3', 'rollout-aborted'))], at(2), { routes })).added, [], 'route for GitSyncs only');
  });

  test('a route naming an undefined channel is reported, not sent', () => {
    const r = enqueue(input({}, [c(note('web.1', 'rollout-aborted'))], at(2), { routes: [{ triggers: ['rollout-aborted'], channels: ['nope', 'hook'] }] }));
    assert.deepEqual(r.unknownChannels, ['nope']);
    assert.deepEqual(
      r.added.map((e) => e.channel),
      ['hook'],
    );
  });

  test('an abort opens a problem; once retried, its alert is resolved (and a pending alert replaced by the resolve)', () => {
    const n = note('web.1', 'rollout-aborted');
    const first = enqueue(input({}, [c(n)], at(2)));
    assert.deepEqual(first.status.open?.[0]?.alertChannels, ['am']);
    const retried: LiveObject = { uid: 'u1', status: { abort: false, currentPodHash: 'abc', retries: 1 } };
    const after = enqueue(input(first.status, [c(n)], at(5), { live: () => retried }));
    assert.equal(after.status.open, undefined);
    const keys = (after.status.pending ?? []).map((p) => p.key);
    assert.deepEqual(keys, ['web.1/hook', 'web.1/chat', 'web.1/am/resolve']);
    assert.equal(after.added[0]?.kind, 'resolve');
  });

  test('a GitSync failing again while open is one outage; Ready again is reported recovered once', () => {
    const git = { kind: 'GitSync' as const, namespace: 'shop', name: 'repo', uid: 'g1' };
    const f1 = note('repo.1', 'gitsync-failing', { object: git, podHash: undefined, retries: undefined });
    const f2 = note('repo.2', 'gitsync-failing', { object: git, podHash: undefined, retries: undefined, at: at(3).toISOString() });
    let live: LiveObject = { uid: 'g1', status: { conditions: [{ type: 'Ready', status: 'False' }] } };
    const first = enqueue(input({}, [c(f1)], at(2), { live: () => live }));
    const second = enqueue(input(first.status, [c(f1), c(f2)], at(4), { live: () => live }));
    assert.deepEqual(second.added, [], 'the second failure of the same outage is not notified');
    live = { uid: 'g1', status: { lastSyncedCommit: 'c0ffee', conditions: [{ type: 'Ready', status: 'True' }] } };
    const third = enqueue(input(second.status, [c(f1), c(f2)], at(6), { live: () => live }));
    assert.deepEqual(
      third.added.map((e) => `${e.key}:${e.notification.trigger}`),
      ['repo.1/am/resolve:gitsync-failing', 'repo.1.recovered/hook:gitsync-recovered', 'repo.1.recovered/chat:gitsync-recovered'],
    );
    const fourth = enqueue(input(third.status, [c(f1), c(f2)], at(8), { live: () => live }));
    assert.deepEqual(fourth.added, [], 'recovered once');
  });

  test('an open alert is posted again before it would expire', () => {
    const queued = enqueue(input({}, [c(note('web.1', 'rollout-aborted'))], at(2)));
    const first = recordOutcomes(
      queued.status,
      queued.added.map((e) => ({ key: e.key, ok: true as const })),
      at(2),
    );
    const none = enqueue(input(first.status, [], at(2 + 60)));
    assert.deepEqual(none.added, []);
    const due = enqueue(input(first.status, [], new Date(at(2).getTime() + DEFAULT_OUTBOX.alertRefreshMs)));
    assert.deepEqual(
      due.added.map((e) => e.kind),
      ['refresh'],
    );
    assert.ok(DEFAULT_OUTBOX.alertRefreshMs < DEFAULT_OUTBOX.alertLifetimeMs);
  });

  test('give-up: an entry older than giveUpAfter leaves the outbox and is reported', () => {
    const first = enqueue(input({}, [c(note('web.1', 'rollout-aborted'))], at(2), { routes: [{ triggers: ['rollout-aborted'], channels: ['hook'] }] }));
    const settings = { ...DEFAULT_OUTBOX, giveUpAfterMs: 60_000 };
    const late = enqueue(input(first.status, [], at(2 + 61), { settings }));
    assert.equal(late.status.pending, undefined);
    assert.equal(late.givenUp.length, 1);
    assert.match(late.givenUp[0]!.why, /not delivered within 1m/);
  });

  test('bounds: a full outbox drops its oldest; handled names are forgotten after retention and `since` moves past them', () => {
    const settings = { ...DEFAULT_OUTBOX, maxPending: 2, handledRetentionMs: 3_600_000 };
    const routes: Route[] = [{ triggers: ['rollout-completed'], channels: ['hook'] }];
    const ns = [1, 2, 3].map((i) => note(`web.${i}`, 'rollout-completed', { at: at(i).toISOString() }));
    const r = enqueue(
      input(
        {},
        ns.map((n) => c(n)),
        at(10),
        { settings, routes },
      ),
    );
    assert.deepEqual(
      r.status.pending?.map((p) => p.key),
      ['web.2/hook', 'web.3/hook'],
    );
    assert.match(r.givenUp[0]!.why, /outbox is full/);
    const later = enqueue(input(r.status, [], at(2 * 3600), { settings, routes }));
    assert.equal(later.status.handled, undefined);
    assert.equal(later.status.since, ns[2]!.at);
  });
});

describe('outbox: sending', () => {
  const status = enqueue(
    input({}, [c(note('web.1', 'rollout-aborted'))], at(2), { routes: [{ triggers: ['rollout-aborted'], channels: ['hook', 'chat'] }] }),
  ).status;

  test('due entries; a failure waits its backoff, a refusal is given up, an acceptance leaves', () => {
    const due = dueEntries(status, at(2), 10);
    assert.equal(due.length, 2);
    const r = recordOutcomes(
      status,
      [
        { key: 'web.1/hook', ok: false, retryable: true, error: 'POST http://127.0.0.1:1: HTTP 503' },
        { key: 'web.1/chat', ok: false, retryable: false, error: 'HTTP 400' },
      ],
      at(3),
    );
    assert.equal(r.givenUp.length, 1);
    assert.equal(r.status.pending?.length, 1);
    const waiting = r.status.pending![0]!;
    assert.equal(waiting.attempts, 1);
    assert.equal(waiting.lastError, 'POST http://127.0.0.1:1: HTTP 503');
    assert.ok(Date.parse(waiting.nextAttemptAt) > at(3).getTime());
    assert.deepEqual(dueEntries(r.status, at(3), 10), [], 'not due before its backoff');
    const wake = nextWakeMs(r.status, at(3))!;
    assert.equal(wake, Date.parse(waiting.nextAttemptAt) - at(3).getTime());
    const ok = recordOutcomes(r.status, [{ key: 'web.1/hook', ok: true }], at(10));
    assert.equal(ok.status.pending, undefined);
    assert.equal(ok.status.lastDeliveryAt, at(10).toISOString());
    assert.equal(ok.delivered[0]?.key, 'web.1/hook');
  });

  test('backoff: doubles, is capped, and is jittered within [50%, 100%) of the step', () => {
    const s = { backoffBaseMs: 1000, backoffMaxMs: 60_000 };
    for (let attempt = 1; attempt <= 12; attempt++) {
      const step = Math.min(60_000, 1000 * 2 ** (attempt - 1));
      const ms = backoffMs('k', attempt, s);
      assert.ok(ms >= step / 2 && ms < step, `attempt ${attempt}: ${ms} in [${step / 2}, ${step})`);
    }
    const spread = new Set(Array.from({ length: 20 }, (_, i) => backoffMs(`key-${i}`, 3, s)));
    assert.ok(spread.size > 10, 'entries that failed together do not retry together');
    assert.equal(backoffMs('k', 3, s), backoffMs('k', 3, s), 'pure');
  });
});
