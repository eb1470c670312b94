import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { FakeKube } from '../../test/fakes/kube.ts';
import type { Rollout } from '../api/rollout.ts';
import { kinds } from '../ports/kube.ts';
import { firstNumber } from './analysis/analysis-metrics.ts';
import { registerControllerMetrics } from './metrics-registry.ts';
import type { Planned } from './rollout/rollout-reconciler.ts';

async function setup() {
  const kube = new FakeKube();
  const registry = new Registry();
  const metrics = registerControllerMetrics(registry);
  const caches = { rollouts: kube.informer(kinds.rollout), analysisRuns: kube.informer(kinds.analysisRun), gitSyncs: kube.informer(kinds.gitSync) };
  for (const c of Object.values(caches)) await c.start();
  const rollouts = metrics.watch(caches);
  const text = async () => {
    await new Promise((r) => setImmediate(r));
    return registry.metrics();
  };
  return { kube, rollouts, text };
}

const rollout = (status: Record<string, unknown>): Planned =>
  ({
    rollout: {
      metadata: { name: 'web', namespace: 'shop' },
      spec: { replicas: 4, strategy: { canary: { steps: [{ setWeight: 25 }, { pause: {} }] } } },
    } as unknown as Rollout,
    plan: { actions: [], status },
  }) as unknown as Planned;

describe('controller metrics', () => {
  test('a Rollout: phase, weights, step, info with revision and Git commit; the info series follows the revision; deleted -> gone', async () => {
    const { kube, rollouts, text } = await setup();
    await kube.create(kinds.rollout, { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'shop' }, spec: {} });
    rollouts.observe(
      rollout({
        phase: 'Paused',
        desiredWeight: 25,
        actualWeight: 20,
        currentStepIndex: 1,
        currentRevision: 2,
        currentPodHash: 'abc',
        stableRS: 'old',
        gitRevision: 'c0ffee',
        pauseConditions: [{ reason: 'CanaryPauseStep', startTime: '2026-01-01T00:00:00Z' }],
      }),
    );
    let t = await text();
    assert.match(t, /sluice_rollout_phase\{namespace="shop",rollout="web",phase="Paused"\} 1/);
    assert.match(t, /sluice_rollout_phase\{namespace="shop",rollout="web",phase="Healthy"\} 0/);
    assert.match(t, /sluice_rollout_weight\{namespace="shop",rollout="web",kind="actual"\} 20/);
    assert.match(t, /sluice_rollout_steps\{namespace="shop",rollout="web"\} 2/);
    assert.match(t, /sluice_rollout_info\{[^}]*revision="2",pod_template_hash="abc",stable_pod_template_hash="old",git_revision="c0ffee"[^}]*\} 1/);
    assert.match(t, /sluice_rollout_pause_started_timestamp_seconds\{namespace="shop",rollout="web",reason="CanaryPauseStep"\} 1767225600/);
    rollouts.observe(rollout({ phase: 'Healthy', currentRevision: 3, currentPodHash: 'def', stableRS: 'def' }));
    t = await text();
    assert.equal(t.match(/sluice_rollout_info\{/g)?.length, 1, 'one info series per Rollout');
    assert.doesNotMatch(t, /sluice_rollout_pause_started_timestamp_seconds\{/, 'no pause, no series');
    await kube.delete(kinds.rollout, 'shop', 'web');
    t = await text();
    assert.doesNotMatch(t, /rollout="web"/);
  });

  test('an AnalysisRun: phase, last value and verdict counts per metric; deleted -> gone', async () => {
    const { kube, text } = await setup();
    await kube.create(kinds.analysisRun, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'web-abc-step-1', namespace: 'shop', labels: { 'sluice.dev/rollout': 'web', 'sluice.dev/analysis-kind': 'step' } },
      spec: {},
    });
    await kube.patch(
      kinds.analysisRun,
      'shop',
      'web-abc-step-1',
      {
        status: {
          phase: 'Failed',
          metricResults: [
            {
              name: 'error-rate',
              phase: 'Failed',
              count: 2,
              successful: 1,
              failed: 1,
              inconclusive: 0,
              error: 1,
              consecutiveError: 0,
              measurements: [{ phase: 'Failed', startedAt: 'x', finishedAt: 'x', value: '[0.23]', message: '0.23 > 0.05' }],
            },
          ],
        },
      },
      { type: 'merge', subresource: 'status' },
    );
    let t = await text();
    assert.match(t, /sluice_analysis_run_phase\{namespace="shop",analysis_run="web-abc-step-1",rollout="web",kind="step",phase="Failed"\} 1/);
    assert.match(t, /sluice_analysis_metric_value\{[^}]*metric="error-rate"\} 0.23/);
    assert.match(t, /sluice_analysis_metric_measurements\{[^}]*metric="error-rate",verdict="Failed"\} 1/);
    assert.match(t, /sluice_analysis_metric_measurements\{[^}]*metric="error-rate",verdict="Error"\} 1/);
    await kube.delete(kinds.analysisRun, 'shop', 'web-abc-step-1');
    t = await text();
    assert.doesNotMatch(t, /web-abc-step-1/);
  });

  test('a GitSync: last success, failing, commit; deleted -> gone', async () => {
    const { kube, text } = await setup();
    await kube.create(kinds.gitSync, { apiVersion: 'sluice.dev/v1alpha1', kind: 'GitSync', metadata: { name: 'repo', namespace: 'shop' }, spec: {} });
    await kube.patch(
      kinds.gitSync,
      'shop',
      'repo',
      { status: { lastSyncTime: '2026-01-01T00:00:00Z', lastSyncedCommit: 'c0ffee', conditions: [{ type: 'Ready', status: 'False' }] } },
      { type: 'merge', subresource: 'status' },
    );
    let t = await text();
    assert.match(t, /sluice_gitsync_failing\{namespace="shop",gitsync="repo"\} 1/);
    assert.match(t, /sluice_gitsync_last_success_timestamp_seconds\{namespace="shop",gitsync="repo"\} 1767225600/);
    assert.match(t, /sluice_gitsync_info\{namespace="shop",gitsync="repo",commit="c0ffee",attempted_commit=""\} 1/);
    await kube.delete(kinds.gitSync, 'shop', 'repo');
    t = await text();
    assert.doesNotMatch(t, /gitsync="repo"/);
  });

  test('API requests by verb and code', async () => {
    const registry = new Registry();
    const m = registerControllerMetrics(registry);
    m.apiRequest('PATCH', 409, 0.01);
    m.apiRequest('PATCH', 409, 0.01);
    m.apiRequest('GET', 0, 1);
    const t = await registry.metrics();
    assert.match(t, /sluice_kube_requests_total\{verb="PATCH",code="409"\} 2/);
    assert.match(t, /sluice_kube_requests_total\{verb="GET",code="0"\} 1/);
  });

  test('measured values as recorded become numbers', () => {
    assert.equal(firstNumber('[0.23]'), 0.23);
    assert.equal(firstNumber('0.5'), 0.5);
    assert.equal(firstNumber('[1e-3, 2]'), 0.001);
    assert.equal(firstNumber('[]'), undefined);
    assert.ok(Number.isNaN(firstNumber('[NaN]')));
  });
});
