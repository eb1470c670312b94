// Notifications through the whole loop: the rollout planner and the AnalysisRun reconciler
// record the transition's Event, the notification controller turns it into outbox entries in
// the NotificationPolicy's status and sends them through the notifier port; fake clock,
// in-memory API server, receivers that accept, fail, time out or accept while the controller dies.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { NotificationPolicyStatus } from '../src/api/notification-policy.ts';
import { NotificationController } from '../src/controller/notify/notification-controller.ts';
import { KubeSecretReader } from '../src/controller/runtime/secret-reader.ts';
import { kinds, type KubeObject } from '../src/ports/kube.ts';
import type { ChannelConfig, Delivery, Notifier, NotifierFactory, SendResult } from '../src/ports/notifier.ts';
import { canaryRollout, NS, startHarness, type Harness } from './helpers/harness.ts';

type Behaviour = 'accept' | 'unavailable' | 'timeout' | 'refuse';

/** Receivers by channel name: what they were sent, and how they answer next. */
class FakeReceivers implements NotifierFactory {
  readonly sent: Array<{ channel: string; type: string; delivery: Delivery; answered: SendResult }> = [];
  behaviour = new Map<string, Behaviour>();
  /** Called after a receiver accepted (e.g. to make the controller die before it records it). */
  afterAccept?: (channel: string) => void;

  create(config: ChannelConfig) {
    if (!['webhook', 'slack', 'alertmanager'].includes(config.type)) return { ok: false as const, error: `unknown type "${config.type}"` };
    const notifier: Notifier = {
      type: config.type,
      send: async (delivery) => {
        const b = this.behaviour.get(config.name) ?? 'accept';
        const answered: SendResult =
          b === 'accept'
            ? { ok: true, status: 200 }
            : b === 'refuse'
              ? { ok: false, retryable: false, status: 400, error: 'HTTP 400' }
              : { ok: false, retryable: true, error: b === 'timeout' ? 'no answer within 10000ms' : 'HTTP 503' };
        this.sent.push({ channel: config.name, type: config.type, delivery, answered });
        if (answered.ok) this.afterAccept?.(config.name);
        return answered;
      },
    };
    return { ok: true as const, value: notifier };
  }

  accepted(channel?: string) {
    return this.sent.filter((s) => s.answered.ok && (!channel || s.channel === channel));
  }
}

const template: KubeObject = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'error-rate', namespace: NS },
  spec: {
    args: [{ name: 'hash' }],
    metrics: [
      {
        name: 'error-rate',
        provider: { prometheus: { address: 'http://prometheus.invalid:9090', query: 'error-rate{hash="{{args.hash}}"}' } },
        failureCondition: 'result[0] > 0.05',
        interval: '10s',
        count: 3,
      },
    ],
  },
};
const analysisStep = { analysis: { templates: [{ templateName: 'error-rate' }], args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }] } };

const policy = (spec: Record<string, unknown>): KubeObject => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'NotificationPolicy',
  metadata: { name: 'team', namespace: NS },
  spec,
});
const threeChannels = {
  channels: [
    { name: 'hook', type: 'webhook', url: 'http://127.0.0.1:9/hook', signingSecretFrom: { secretKeyRef: { name: 'notify', key: 'hmac' } } },
    { name: 'chat', type: 'slack', urlFrom: { secretKeyRef: { name: 'notify', key: 'slack' } } },
    { name: 'am', type: 'alertmanager', url: 'http://127.0.0.1:9' },
  ],
  routes: [{ triggers: ['rollout-aborted', 'rollout-completed'], channels: ['hook', 'chat', 'am'] }],
};

describe('notifications', () => {
  let h: Harness;
  let receivers: FakeReceivers;
  let notifications: NotificationController;

  const start = async () => {
    notifications = new NotificationController({
      kube: h.kube,
      clock: h.clock,
      logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }),
      secrets: new KubeSecretReader(h.kube),
      notifiers: receivers,
      settings: { giveUpAfterMs: 30 * 60_000 },
    });
    await notifications.start();
  };
  const settle = async () => {
    for (let i = 0; i < 50; i++) {
      await h.settle();
      await notifications.queue.idle();
      const s = notifications.queue.size();
      if (s.queued + s.processing === 0) {
        await h.settle();
        if (notifications.queue.size().queued === 0) return;
      }
    }
    throw new Error('notifications did not settle');
  };
  const advance = async (ms: number) => {
    h.clock.advance(ms);
    await settle();
  };
  const status = () => ((h.kube.peek(kinds.notificationPolicy, NS, 'team') as { status?: NotificationPolicyStatus }).status ?? {}) as NotificationPolicyStatus;

  /** v1 Healthy, then v2 whose analysis step fails at once. */
  async function abortByAnalysis() {
    await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 20 }, analysisStep, { setWeight: 60 }] }));
    await settle();
    h.metrics.answer('error-rate', 0.23);
    await h.setImage('app', 'example/app:v2');
    await settle();
    assert.equal(h.rollout().status.phase, 'Degraded');
  }

  beforeEach(async () => {
    h = await startHarness();
    receivers = new FakeReceivers();
    await h.kube.create(kinds.analysisTemplate, template);
    await h.kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'notify', namespace: NS, labels: { 'sluice.dev/allow-notifications': 'true' } },
      stringData: { hmac: 'hmac-key-1234', slack: 'http://127.0.0.1:9/services/SECRET' },
    });
    await h.kube.create(kinds.notificationPolicy, policy(threeChannels));
    await start();
  });
  afterEach(async () => {
    await notifications.stop();
    await h.stop();
  });

  test('an analysis abort: exactly one message per channel, saying why, which revision and how to act', async () => {
    await abortByAnalysis();
    const accepted = receivers.accepted();
    assert.deepEqual(
      accepted.map((s) => `${s.channel}:${s.delivery.kind}`).sort(),
      ['am:notify', 'chat:notify', 'hook:notify'],
      JSON.stringify(h.rollout().status),
    );
    const n = accepted[0]!.delivery.notification;
    assert.equal(n.trigger, 'rollout-aborted');
    assert.deepEqual(n.triggers, ['rollout-aborted', 'analysis-failed']);
    assert.equal(n.cause, 'analysis');
    assert.equal(n.revision, '2');
    assert.equal(n.step, '2/3');
    assert.equal(n.verdict?.metric, 'error-rate');
    assert.match(n.verdict?.value ?? '', /0\.23/);
    assert.match(n.message, /metric error-rate: 0.23 > 0.05/);
    assert.ok(n.actions.includes('kubectl sluice retry app -n default'));
    // Every key once; the Event it came from is remembered; nothing is left in the outbox.
    const keys = accepted.map((s) => s.delivery.key);
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(status().pending, undefined);
    assert.deepEqual(
      status().handled?.map((x) => x.id),
      [n.id],
    );
    // Time passes, things are reconciled again: no second message.
    await advance(60_000);
    assert.equal(receivers.accepted().filter((s) => s.delivery.kind === 'notify').length, 3);
  });

  test('a controller restart that lists the same Events again sends nothing again', async () => {
    await abortByAnalysis();
    const before = receivers.sent.length;
    await notifications.stop();
    await start();
    await advance(5_000);
    assert.equal(receivers.sent.length, before);
  });

  test('retry: the Alertmanager alert is resolved (same labels, endsAt)', async () => {
    await abortByAnalysis();
    assert.equal(status().open?.length, 1);
    h.metrics.answer('error-rate', 0.01);
    await h.patchStatus('app', { abort: false, abortedAt: null, abortMessage: null, currentStepIndex: 0, retries: 1 });
    await settle();
    const resolves = receivers.accepted('am').filter((s) => s.delivery.kind === 'resolve');
    assert.equal(resolves.length, 1);
    assert.equal(resolves[0]!.delivery.notification.trigger, 'rollout-aborted');
    assert.equal(status().open, undefined);
  });

  test('a failing receiver (5xx, then timeouts) is retried with backoff and gets the message without loss', async () => {
    receivers.behaviour.set('hook', 'unavailable');
    await abortByAnalysis();
    const attempts = () => receivers.sent.filter((s) => s.channel === 'hook').length;
    assert.equal(attempts(), 1);
    const entry = status().pending?.find((p) => p.channel === 'hook');
    assert.equal(entry?.attempts, 1);
    assert.equal(entry?.lastError, 'HTTP 503');
    await advance(500);
    assert.equal(attempts(), 1, 'not before its backoff');
    receivers.behaviour.set('hook', 'timeout');
    await advance(2_000);
    assert.equal(attempts(), 2);
    receivers.behaviour.set('hook', 'accept');
    await advance(10_000);
    assert.equal(receivers.accepted('hook').length, 1);
    assert.equal(status().pending, undefined);
    const keys = receivers.sent.filter((s) => s.channel === 'hook').map((s) => s.delivery.key);
    assert.equal(new Set(keys).size, 1, 'every attempt carries the same Idempotency-Key');
  });

  test('accepted, then the controller dies before recording it: sent again with the same key, once', async () => {
    // The status write after the acceptance fails as if the process had died in between.
    // The process takes no more work from here (it is dying); the write in flight fails.
    let dying: Promise<void> | undefined;
    receivers.afterAccept = (channel) => {
      if (channel !== 'hook' || dying) return;
      h.kube.failNext.push({ verb: 'patch', plural: 'notificationpolicies', status: 500 });
      dying = notifications.stop();
    };
    await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 20 }, analysisStep, { setWeight: 60 }] }));
    await h.settle();
    h.metrics.answer('error-rate', 0.23);
    await h.setImage('app', 'example/app:v2');
    for (let i = 0; i < 100 && !dying; i++) await h.settle();
    await dying;
    receivers.afterAccept = undefined;
    assert.equal(status().pending?.length, 3, 'nothing recorded as delivered');
    await start();
    await advance(30_000);
    const hook = receivers.accepted('hook');
    assert.equal(hook.length, 2, 'the window: accepted twice');
    assert.equal(hook[0]!.delivery.key, hook[1]!.delivery.key, 'with the same Idempotency-Key');
    assert.equal(status().pending, undefined);
    for (const channel of ['chat', 'am']) {
      const keys = receivers.accepted(channel).map((s) => s.delivery.key);
      assert.equal(new Set(keys).size, 1, `${channel}: one key`);
    }
  });

  test('a receiver that keeps failing is given up after giveUpAfter: a Warning Event and no more attempts', async () => {
    receivers.behaviour.set('chat', 'unavailable');
    await abortByAnalysis();
    for (let i = 0; i < 40; i++) await advance(60_000);
    assert.equal(status().pending, undefined);
    const events = h.kube.all(kinds.event, NS).filter((e: any) => e.reason === 'NotificationGivenUp') as any[];
    assert.equal(events.length, 1);
    assert.match(events[0].message, /Gave up on the rollout-aborted notification of Rollout default\/app to channel chat: not delivered within 30m/);
    const tries = receivers.sent.filter((s) => s.channel === 'chat').length;
    await advance(600_000);
    assert.equal(receivers.sent.filter((s) => s.channel === 'chat').length, tries);
  });

  test('a refusing receiver (4xx) is given up at once', async () => {
    receivers.behaviour.set('hook', 'refuse');
    await abortByAnalysis();
    assert.equal(receivers.sent.filter((s) => s.channel === 'hook').length, 1);
    assert.ok(!status().pending?.some((p) => p.channel === 'hook'));
  });

  test('a bad channel (missing Secret key, unknown route channel) is a condition, the other channels still send', async () => {
    await h.kube.patch(
      kinds.notificationPolicy,
      NS,
      'team',
      {
        spec: {
          channels: [...threeChannels.channels.slice(0, 2), { name: 'am', type: 'alertmanager', urlFrom: { secretKeyRef: { name: 'notify', key: 'nope' } } }],
          routes: [{ triggers: ['rollout-aborted'], channels: ['hook', 'chat', 'am', 'ghost'] }],
        },
      },
      { type: 'merge' },
    );
    await settle();
    const ready = status().conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /channel am: urlFrom: Secret default\/notify has no key "nope"/);
    assert.match(ready?.message ?? '', /not defined: ghost/);
    assert.deepEqual(
      status().channels?.map((c) => [c.name, c.ready]),
      [
        ['hook', true],
        ['chat', true],
        ['am', false],
      ],
    );
    await abortByAnalysis();
    assert.deepEqual(
      receivers
        .accepted()
        .map((s) => s.channel)
        .sort(),
      ['chat', 'hook'],
    );
    assert.equal(status().pending?.[0]?.channel, 'am', 'kept for when the channel is fixed');
    const text = JSON.stringify(h.kube.peek(kinds.notificationPolicy, NS, 'team')) + JSON.stringify(h.kube.all(kinds.event, NS));
    for (const secret of ['hmac-key-1234', 'services/SECRET']) assert.ok(!text.includes(secret), `${secret} leaked`);
  });

  test('a Secret that has not opted in to notifications is not read: the channel says so', async () => {
    await h.kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'plain', namespace: NS },
      stringData: { url: 'http://127.0.0.1:9/x' },
    });
    await h.kube.patch(
      kinds.notificationPolicy,
      NS,
      'team',
      {
        spec: {
          channels: [{ name: 'hook', type: 'webhook', urlFrom: { secretKeyRef: { name: 'plain', key: 'url' } } }],
          routes: [{ triggers: ['rollout-aborted'], channels: ['hook'] }],
        },
      },
      { type: 'merge' },
    );
    await settle();
    const ready = status().conditions?.find((c) => c.type === 'Ready');
    assert.equal(ready?.status, 'False');
    assert.match(ready?.message ?? '', /channel hook: .*sluice\.dev\/allow-notifications/);
  });

  test('a route with a label selector: other Rollouts are not notified', async () => {
    await h.kube.patch(
      kinds.notificationPolicy,
      NS,
      'team',
      { spec: { routes: [{ triggers: ['rollout-aborted'], channels: ['hook'], selector: { matchLabels: { team: 'payments' } } }] } },
      { type: 'merge' },
    );
    await abortByAnalysis();
    assert.equal(receivers.sent.length, 0);
  });
  test('a GitSync failing (twice, one outage) then Ready again: one failing and one recovered message, its alert resolved', async () => {
    await h.kube.patch(
      kinds.notificationPolicy,
      NS,
      'team',
      { spec: { routes: [{ triggers: ['gitsync-failing', 'gitsync-recovered'], channels: ['hook', 'am'] }] } },
      { type: 'merge' },
    );
    const gs = await h.kube.create(kinds.gitSync, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: 'repo', namespace: NS },
      spec: { url: 'https://git.example/x' },
    });
    const setReady = (status: 'True' | 'False', commit?: string) =>
      h.kube.patch(
        kinds.gitSync,
        NS,
        'repo',
        {
          status: {
            ...(commit ? { lastSyncedCommit: commit } : {}),
            conditions: [{ type: 'Ready', status, reason: status === 'True' ? 'Synced' : 'ApplyFailed' }],
          },
        },
        { type: 'merge', subresource: 'status' },
      );
    // As the GitSync reconciler records them: a Warning Event about the GitSync, labelled.
    const failure = (n: number, message: string) =>
      h.kube.create(kinds.event, {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { name: `repo.fail${n}`, namespace: NS, labels: { 'app.kubernetes.io/managed-by': 'sluice' } },
        involvedObject: { apiVersion: 'sluice.dev/v1alpha1', kind: 'GitSync', name: 'repo', namespace: NS, uid: (gs as KubeObject).metadata?.uid },
        reason: 'ApplyFailed',
        message,
        type: 'Warning',
        firstTimestamp: h.clock.now().toISOString(),
      });
    await setReady('False');
    await failure(1, 'apps/web.yaml: the API server rejects Rollout web');
    await settle();
    await advance(5_000);
    await failure(2, 'apps/web.yaml: the API server rejects Rollout web (again, another message)');
    await settle();
    assert.deepEqual(
      receivers
        .accepted()
        .map((s) => `${s.channel}:${s.delivery.kind}:${s.delivery.notification.trigger}`)
        .sort(),
      ['am:notify:gitsync-failing', 'hook:notify:gitsync-failing'],
    );
    await setReady('True', '0123456789abcdef0123');
    await settle();
    const sent = receivers.accepted().map((s) => `${s.channel}:${s.delivery.kind}:${s.delivery.notification.trigger}`);
    assert.deepEqual(sent.slice(2).sort(), ['am:resolve:gitsync-failing', 'hook:notify:gitsync-recovered']);
    const recovered = receivers.accepted('hook').at(-1)!.delivery.notification;
    assert.equal(recovered.gitRevision, '0123456789abcdef0123');
    assert.match(recovered.message, /^Synced again at commit 0123456789ab after: apps\/web.yaml/);
  });
});
