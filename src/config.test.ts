import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from './config.ts';

const none = () => undefined;

describe('config: leader election', () => {
  test("off by default, with Kubernetes' usual timing and the Lease sluice-controller", () => {
    const c = loadConfig([], {}, none);
    assert.deepEqual(c.leaderElection, {
      enabled: false,
      namespace: 'default',
      id: 'sluice-controller',
      leaseDurationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
    });
  });

  test('flags win over the environment', () => {
    const c = loadConfig(
      [
        '--leader-elect',
        '--leader-elect-lease-duration=30s',
        '--leader-elect-renew-deadline=20s',
        '--leader-elect-retry-period=500ms',
        '--leader-elect-namespace=ops',
        '--leader-elect-id=sluice-b',
      ],
      { SLUICE_LEADER_ELECT: 'false', SLUICE_LEADER_ELECT_NAMESPACE: 'elsewhere', SLUICE_LEADER_ELECT_LEASE_DURATION: '1m' },
      none,
    );
    assert.deepEqual(c.leaderElection, {
      enabled: true,
      namespace: 'ops',
      id: 'sluice-b',
      leaseDurationMs: 30_000,
      renewDeadlineMs: 20_000,
      retryPeriodMs: 500,
    });
    const e = loadConfig([], { SLUICE_LEADER_ELECT: 'true', SLUICE_LEADER_ELECT_RETRY_PERIOD: '1s' }, none);
    assert.equal(e.leaderElection.enabled, true);
    assert.equal(e.leaderElection.retryPeriodMs, 1_000);
  });

  test("the Lease's namespace: the pod's own (service-account mount), then POD_NAMESPACE, then SLUICE_NAMESPACE, then default", () => {
    assert.equal(loadConfig([], { POD_NAMESPACE: 'p', SLUICE_NAMESPACE: 's' }, () => 'sluice-system').leaderElection.namespace, 'sluice-system');
    assert.equal(loadConfig([], { POD_NAMESPACE: 'p', SLUICE_NAMESPACE: 's' }, none).leaderElection.namespace, 'p');
    assert.equal(loadConfig([], { SLUICE_NAMESPACE: 's' }, none).leaderElection.namespace, 's');
  });

  test('a timing that could let two replicas lead, or that is no duration, is refused with a clear message', () => {
    assert.throws(
      () => loadConfig(['--leader-elect-lease-duration=10s', '--leader-elect-renew-deadline=10s'], {}, none),
      /the lease duration must be longer than the renew deadline/,
    );
    assert.throws(() => loadConfig(['--leader-elect-retry-period=9s'], {}, none), /renew deadline must be longer than 1.2 x the retry period/);
    assert.throws(() => loadConfig(['--leader-elect-lease-duration=soon'], {}, none), /--leader-elect-lease-duration must be a duration such as 15s/);
    assert.throws(() => loadConfig(['--leader-elect-id=Not_A_Name'], {}, none), /id: must be a Kubernetes object name/);
  });
});

test('analysis address policy and reconcile rate: parsed from flags or environment, a bad entry refused at start', () => {
  const c = loadConfig(['--analysis-allowed-addresses', 'prometheus.monitoring:9090, *.svc.cluster.local', '--reconcile-qps', '20'], {});
  assert.deepEqual(c.analysisAllowedAddresses, ['prometheus.monitoring:9090', '*.svc.cluster.local']);
  assert.equal(c.reconcileQps, 20);
  assert.equal(c.reconcileBurst, 300);
  assert.deepEqual(loadConfig([], {}).analysisAllowedAddresses, []);
  assert.deepEqual(loadConfig([], { SLUICE_ANALYSIS_ALLOWED_ADDRESSES: 'a.example' }).analysisAllowedAddresses, ['a.example']);
  assert.throws(() => loadConfig(['--analysis-allowed-addresses', 'ftp://x'], {}), /--analysis-allowed-addresses: "ftp:\/\/x": only http and https/);
});

describe('config: notifications', () => {
  test('no default channels unless asked; the default triggers and outbox policy', () => {
    const c = loadConfig([], {}, none);
    assert.equal(c.notify.webhookUrl, undefined);
    assert.deepEqual(c.notify.triggers, ['rollout-aborted', 'analysis-inconclusive', 'progress-deadline-exceeded', 'gitsync-failing', 'gitsync-recovered']);
    assert.equal(c.notify.defaultPolicy, 'default/sluice-default');
    assert.equal(c.notify.timeoutMs, 10_000);
    assert.equal(loadConfig([], {}, () => 'sluice-system').notify.defaultPolicy, 'sluice-system/sluice-default');
  });

  test('watching one namespace, the default policy lives there (the controller sees and may write nothing else); another is refused', () => {
    assert.equal(loadConfig(['--namespace', 'team-a'], {}, () => 'sluice-system').notify.defaultPolicy, 'team-a/sluice-default');
    assert.equal(loadConfig(['--namespace', 'team-a', '--notify-default-policy', 'team-a/alerts'], {}, none).notify.defaultPolicy, 'team-a/alerts');
    assert.throws(
      () => loadConfig(['--namespace', 'team-a', '--notify-default-policy', 'sluice-system/sluice-default'], {}, none),
      /--notify-default-policy: "sluice-system\/sluice-default" is outside the watched namespace team-a/,
    );
  });

  test('flags and environment', () => {
    const c = loadConfig(
      ['--notify-webhook-url=https://hooks.example/x', '--notify-triggers=rollout-aborted, rollout-completed', '--notify-timeout=3s'],
      { SLUICE_NOTIFY_ALERTMANAGER_URL: 'http://am:9093', SLUICE_NOTIFY_SLACK_URL: 'https://hooks.slack.example/services/T/B/X' },
      none,
    );
    assert.equal(c.notify.webhookUrl, 'https://hooks.example/x');
    assert.equal(c.notify.alertmanagerUrl, 'http://am:9093');
    assert.equal(c.notify.slackUrl, 'https://hooks.slack.example/services/T/B/X');
    assert.deepEqual(c.notify.triggers, ['rollout-aborted', 'rollout-completed']);
    assert.equal(c.notify.timeoutMs, 3000);
  });

  test('an unknown trigger, a URL that is not http(s) or a bad duration is a clear error', () => {
    assert.throws(() => loadConfig(['--notify-triggers=rollout-exploded'], {}, none), /notify\.triggers/);
    assert.throws(() => loadConfig(['--notify-webhook-url=ftp://x'], {}, none), /notify\.webhookUrl/);
    assert.throws(() => loadConfig(['--notify-timeout=soon'], {}, none), /notify\.timeoutMs/);
  });
});
