// Notifications on the real cluster: a NotificationPolicy per test namespace sends to the
// suite's webhook receiver (generic webhook and Slack format, each at a path of its own) and
// to the suite's Alertmanager, which routes alerts back to the receiver at /alertmanager. The
// controller also has a cluster-wide default channel from its flags. The shipped alert rules
// (deploy/alerts/rules.yaml) are loaded into the suite's Prometheus, which scrapes the controller.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attach } from '../harness/attach.ts';
import { acknowledged, type RecordedRequest } from '../harness/alerts.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { repoRoot } from '../harness/proc.ts';
import { waitFor } from '../harness/wait.ts';
import { analysisStep, errorRateTemplate } from '../harness/analysis.ts';
import { assertHealthyOn, canaryRollout, canaryServices, manifest, scenario, type Scenario } from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
const hook = env.webhook;
let ctl: ControllerHandle | undefined;
const HMAC_KEY = 'e2e-hmac-key-0123456789';
const DEFAULT_KEY = 'e2e-default-hmac-key';
const DEFAULT_PATH = '/default-channel';

type Obj = Record<string, any>;

function notifyObjects(ns: string, channels: Obj[], routes: Obj[]): Obj[] {
  return [
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'notify', labels: { 'sluice.dev/allow-notifications': 'true' } },
      stringData: { hmac: HMAC_KEY, slack: `${hook.url}/n/${ns}/slack` },
    },
    { apiVersion: 'sluice.dev/v1alpha1', kind: 'NotificationPolicy', metadata: { name: 'team' }, spec: { channels, routes } },
  ];
}

async function withNamespace(prefix: string, fn: (s: Scenario) => Promise<void>): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], () => fn(scenario(env, ns)));
  } finally {
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

/** Requests recorded at `path`, waiting until `fn` accepts them. */
async function waitRequests(path: string, describe: string, fn: (rs: RecordedRequest[]) => void, timeoutMs = 30_000): Promise<RecordedRequest[]> {
  return waitFor(
    `${describe} (${path})`,
    async () => {
      const rs = await hook.requests(path);
      fn(rs);
      return rs;
    },
    { timeoutMs, intervalMs: 300 },
  );
}

const header = (r: RecordedRequest, name: string) => {
  const v = r.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
};
const acked = acknowledged;

/** `fn` keeps holding for `ms` (checked every 300ms): nothing more arrives while the controller goes on. */
async function holdsFor(describe: string, ms: number, fn: () => Promise<void>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      await fn();
    } catch (err) {
      throw new Error(`${describe}: ${(err as Error).message}`);
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Alertmanager's webhook posts to the receiver that carry an alert of this namespace and alertname. */
async function amPosts(ns: string, alertname: string): Promise<Array<{ status: string; labels: Obj }>> {
  return (await hook.requests('/alertmanager')).flatMap((r) =>
    ((r.json?.alerts ?? []) as Array<{ status: string; labels: Obj }>).filter((a) => a.labels.namespace === ns && a.labels.alertname === alertname),
  );
}

describe('notifications', () => {
  before(async () => {
    // The shipped rules, as a user would load them.
    copyFileSync(join(repoRoot, 'deploy', 'alerts', 'rules.yaml'), join(env.descriptor.prometheus.rulesDir, 'sluice-rules.yaml'));
    await env.prom.reload();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-notify-'));
    writeFileSync(join(dir, 'hmac'), DEFAULT_KEY);
    ctl = await env.startController({
      args: [
        `--notify-webhook-url=${hook.url}${DEFAULT_PATH}`,
        `--notify-webhook-secret-file=${join(dir, 'hmac')}`,
        '--notify-triggers=rollout-aborted',
        '--notify-default-policy=default/sluice-notify-e2e',
      ],
    });
  });
  after(async () => {
    await ctl?.stop();
    await k.run(['delete', 'notificationpolicies.sluice.dev', 'sluice-notify-e2e', '-n', 'default', '--ignore-not-found']);
  });

  test('an analysis abort: one webhook, one Slack message, one Alertmanager alert (routed to the receiver), the shipped rule firing; a retry resolves it', () =>
    withNamespace('nt-abort', async (s) => {
      const ns = s.ns;
      const tag = `v2-${ns}`;
      const channels = [
        { name: 'hook', type: 'webhook', url: `${hook.url}/n/${ns}/hook`, signingSecretFrom: { secretKeyRef: { name: 'notify', key: 'hmac' } } },
        { name: 'chat', type: 'slack', urlFrom: { secretKeyRef: { name: 'notify', key: 'slack' } } },
        { name: 'am', type: 'alertmanager', url: env.descriptor.alertmanager.url },
      ];
      const routes = [{ triggers: ['rollout-aborted', 'rollout-completed'], channels: ['hook', 'chat', 'am'] }];
      await s.apply(
        manifest(
          errorRateTemplate(env, ns),
          canaryServices(),
          canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] }),
          ...notifyObjects(ns, channels, routes),
        ),
      );
      await s.waitFor('v1 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2, 'canary'));
      await env.traffic.setErrorRate(tag, 0.5);
      try {
        await s.setImage(`example/app:${tag}`);
        const aborted = await s.waitFor('aborted by the analysis', (v) => assert.equal(v.rollout.status.phase, 'Degraded'), 60_000);
        const h2 = aborted.rollout.status.currentPodHash as string;

        // Generic webhook: signed, keyed, the documented schema.
        const [webhook] = await waitRequests(`/n/${ns}/hook`, 'the webhook notification', (rs) => assert.equal(acked(rs).length, 1));
        const body = webhook!.json;
        assert.equal(header(webhook!, 'X-Sluice-Signature'), `sha256=${createHmac('sha256', HMAC_KEY).update(webhook!.body).digest('hex')}`);
        assert.equal(header(webhook!, 'Idempotency-Key'), body.idempotencyKey);
        assert.equal(body.schemaVersion, 'sluice.dev/notification/v1');
        assert.equal(body.trigger, 'rollout-aborted');
        assert.deepEqual(body.triggers, ['rollout-aborted', 'analysis-failed']);
        assert.deepEqual(body.object, { kind: 'Rollout', namespace: ns, name: 'demo', uid: aborted.rollout.metadata.uid });
        assert.equal(body.revision, '2');
        assert.equal(body.podTemplateHash, h2);
        assert.equal(body.step, '2/3');
        assert.equal(body.verdict.metric, 'error-rate');
        assert.match(body.verdict.value, /^\[0\.\d+\]$/);
        assert.equal(body.message, aborted.rollout.status.message);
        assert.ok(body.actions.includes(`kubectl sluice retry demo -n ${ns}`), JSON.stringify(body.actions));
        // Slack: Block Kit, the same facts.
        const [slack] = await waitRequests(`/n/${ns}/slack`, 'the Slack message', (rs) => assert.equal(acked(rs).length, 1));
        assert.equal(slack!.json.blocks[0].type, 'header');
        assert.match(slack!.json.blocks[0].text.text, new RegExp(`Rollout ${ns}/demo aborted: analysis failed \\(revision 2`));
        assert.ok(slack!.body.includes(`kubectl sluice analysis demo -n ${ns}`));
        // The cluster-wide default channel from the flags: its own message, signed with its own key.
        const defaults = await waitRequests(DEFAULT_PATH, 'the default channel', (rs) =>
          assert.equal(acked(rs).filter((r) => r.json?.object?.namespace === ns).length, 1),
        );
        const mine = defaults.find((r) => r.json?.object?.namespace === ns)!;
        assert.equal(header(mine, 'X-Sluice-Signature'), `sha256=${createHmac('sha256', DEFAULT_KEY).update(mine.body).digest('hex')}`);
        assert.notEqual(header(mine, 'Idempotency-Key'), header(webhook!, 'Idempotency-Key'), 'a key per channel');

        // Alertmanager: the alert read back through its API, and routed by it to the receiver.
        const alert = await waitFor(
          'the RolloutAborted alert in Alertmanager',
          async () => {
            const a = (await env.alertmanager.alerts()).filter((x) => x.labels.namespace === ns && x.labels.alertname === 'RolloutAborted');
            assert.equal(a.length, 1, JSON.stringify(a));
            assert.equal(a[0]!.status.state, 'active');
            return a[0]!;
          },
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        assert.equal(alert.labels.rollout, 'demo');
        assert.equal(alert.labels.severity, 'critical');
        assert.match(alert.annotations.summary ?? '', /aborted: analysis failed/);
        await waitFor('Alertmanager routed it to the receiver', async () => (await amPosts(ns, 'RolloutAborted')).some((a) => a.status === 'firing'), {
          timeoutMs: 30_000,
          intervalMs: 500,
        });
        // The shipped rule fires in Prometheus for the same rollout (and reaches Alertmanager too).
        await waitFor(
          'SluiceRolloutAborted firing in Prometheus',
          async () => {
            const firing = await env.prom.values(`ALERTS{alertname="SluiceRolloutAborted", alertstate="firing", namespace="${ns}", rollout="demo"}`);
            assert.deepEqual(firing, [1]);
            return true;
          },
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        await waitFor(
          'SluiceRolloutAborted in Alertmanager',
          async () => (await env.alertmanager.alerts()).some((a) => a.labels.alertname === 'SluiceRolloutAborted' && a.labels.namespace === ns),
          { timeoutMs: 30_000, intervalMs: 500 },
        );

        // Exactly once: nothing more arrives while the controller goes on reconciling.
        await holdsFor('one message per channel', 3000, async () => {
          assert.equal((await hook.requests(`/n/${ns}/hook`)).length, 1);
          assert.equal((await hook.requests(`/n/${ns}/slack`)).length, 1);
        });

        // Fixed and retried: the analysis passes, the alert is resolved, completion is reported.
        await env.traffic.setErrorRate(tag, 0);
        await s.retry();
        await s.waitFor('Healthy on v2 after the retry', (v) => assertHealthyOn(v, h2, 2, 'canary'), 90_000);
        await waitFor(
          'the alert resolved in Alertmanager and at the receiver',
          async () => {
            const active = (await env.alertmanager.alerts()).filter((x) => x.labels.namespace === ns && x.labels.alertname === 'RolloutAborted');
            assert.deepEqual(active, []);
            assert.ok((await amPosts(ns, 'RolloutAborted')).some((a) => a.status === 'resolved'));
            return true;
          },
          { timeoutMs: 60_000, intervalMs: 500 },
        );
        const after = await waitRequests(`/n/${ns}/hook`, 'the completion', (rs) =>
          assert.deepEqual(
            acked(rs).map((r) => r.json.trigger),
            ['rollout-aborted', 'rollout-completed'],
          ),
        );
        const keys = after.map((r) => header(r, 'Idempotency-Key'));
        assert.equal(new Set(keys).size, keys.length, 'no key twice');
        await waitFor('SluiceRolloutAborted resolved in Prometheus', async () => {
          assert.deepEqual(await env.prom.values(`ALERTS{alertname="SluiceRolloutAborted", namespace="${ns}"}`), []);
          return true;
        });
        const policy = await k.json(['get', 'notificationpolicy', 'team', '-n', ns]);
        assert.equal(policy.status.conditions.find((c: Obj) => c.type === 'Ready')?.status, 'True');
        assert.equal(policy.status.pending, undefined, 'the outbox is empty');
        assert.ok(!JSON.stringify(policy.status).includes(HMAC_KEY), 'no secret in status');
      } finally {
        await env.traffic.clearErrorRate(tag);
      }
    }));

  test('the controller SIGKILLed in the middle of a delivery: sent again with the same key, no acknowledged key twice', () =>
    withNamespace('nt-kill', async (s) => {
      const path = `/n/${s.ns}/kill`;
      await s.apply(
        manifest(
          canaryServices(),
          canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] }),
          ...notifyObjects(
            s.ns,
            [{ name: 'hook', type: 'webhook', url: `${hook.url}${path}`, timeout: '60s' }],
            [{ triggers: ['rollout-paused'], channels: ['hook'] }],
          ),
        ),
      );
      await s.waitFor('v1 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2, 'canary'));
      await hook.holdNext(path);
      await s.setImage('example/app:v2');
      await s.waitFor('paused at step 2/2', (v) => assert.equal(v.rollout.status.phase, 'Paused'));
      const [held] = await waitRequests(path, 'the receiver holds the first delivery', (rs) =>
        assert.deepEqual(
          rs.map((r) => r.status),
          [0],
        ),
      );
      await ctl!.kill();
      await waitRequests(path, 'the receiver saw the sender go away unanswered', (rs) =>
        assert.deepEqual(
          rs.map((r) => r.status),
          [-1],
        ),
      );
      await ctl!.restart();
      const rs = await waitRequests(path, 'delivered after the restart', (all) => assert.equal(acked(all).length, 1), 60_000);
      assert.equal(header(acked(rs)[0]!, 'Idempotency-Key'), header(held!, 'Idempotency-Key'), 'the same Idempotency-Key');
      assert.equal(acked(rs)[0]!.body, held!.body, 'the same message');
      await holdsFor('acknowledged once', 3000, async () => assert.equal(acked(await hook.requests(path)).length, 1));
    }));

  test('a failing receiver (503 three times) is retried with growing backoff and gets the message once', () =>
    withNamespace('nt-flaky', async (s) => {
      const path = `/n/${s.ns}/flaky`;
      await s.apply(
        manifest(
          canaryServices(),
          canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] }),
          ...notifyObjects(s.ns, [{ name: 'hook', type: 'webhook', url: `${hook.url}${path}` }], [{ triggers: ['rollout-paused'], channels: ['hook'] }]),
        ),
      );
      await s.waitFor('v1 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2, 'canary'));
      await hook.failNext(path, 503, 3);
      await s.setImage('example/app:v2');
      await waitFor(
        'the outbox says why it waits',
        async () => {
          const p = await k.json(['get', 'notificationpolicy', 'team', '-n', s.ns]);
          assert.match(p.status?.pending?.[0]?.lastError ?? '', /HTTP 503/);
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 300 },
      );
      const rs = await waitRequests(path, 'delivered after three failures', (all) => assert.equal(acked(all).length, 1), 60_000);
      assert.deepEqual(
        rs.map((r) => r.status),
        [503, 503, 503, 200],
      );
      assert.equal(new Set(rs.map((r) => header(r, 'Idempotency-Key'))).size, 1, 'every attempt with the same key');
      const times = rs.map((r) => Date.parse(r.time));
      const gaps = times.slice(1).map((t, i) => t - times[i]!);
      // base 2s doubling, jittered to 50-100% of each step: about 1-2s, 2-4s, 4-8s
      assert.ok(gaps[0]! >= 900 && gaps[1]! >= 1900 && gaps[2]! >= 3900, `backoff gaps ${gaps.join(', ')}ms`);
      await holdsFor('delivered once', 2000, async () => assert.equal((await hook.requests(path)).length, 4));
      const p = await k.json(['get', 'notificationpolicy', 'team', '-n', s.ns]);
      assert.equal(p.status.pending, undefined);
    }));
});
