// Analysis through the whole loop: the rollout planner, the AnalysisRun reconciler and a
// fake metrics backend, on a fake clock.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kinds, type KubeObject } from '../src/ports/kube.ts';
import { blueGreenRollout, canaryRollout, NS, service, startHarness, type Harness } from './helpers/harness.ts';

const template = (name: string, metric: Record<string, unknown>): KubeObject => ({
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name, namespace: NS },
  spec: {
    args: [{ name: 'hash' }],
    metrics: [{ name, provider: { prometheus: { address: 'http://prometheus.invalid:9090', query: `${name}{hash="{{args.hash}}"}` } }, ...metric }],
  },
});
const analysisStep = (name: string) => ({
  analysis: { templates: [{ templateName: name }], args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }] },
});
const sizes = (h: Harness) => Object.fromEntries(h.replicaSets().map((rs) => [rs.image, rs.replicas]));
const selectorOf = (h: Harness, name: string) => (h.kube.peek(kinds.service, NS, name) as any).spec.selector['rollouts-pod-template-hash'];

describe('analysis decides', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await h.kube.create(kinds.analysisTemplate, template('error-rate', { failureCondition: 'result[0] > 0.05', interval: '10s', count: 3 }));
  });
  afterEach(() => h.stop());

  async function canary(steps: unknown[], extra: Record<string, unknown> = {}) {
    await h.kube.create(kinds.rollout, canaryRollout({ steps, ...extra }));
    await h.settle();
    await h.setImage('app', 'example/app:v2');
  }

  test('a good version passes its analysis step and is promoted', async () => {
    h.metrics.answer('error-rate', 0.01);
    await canary([{ setWeight: 20 }, analysisStep('error-rate'), { setWeight: 60 }]);
    assert.equal(h.rollout().status.analysis?.phase, 'Running');
    await h.advance(10_000);
    await h.advance(10_000);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Healthy', r.status.message);
    assert.equal(h.metrics.queries.length, 3, 'count measurements, each on time');
    assert.deepEqual(sizes(h), { 'example/app:v1': 0, 'example/app:v2': 10 });
  });

  test('a bad version is rolled back by the first failing measurement, with the reason', async () => {
    h.metrics.answer('error-rate', 0.23);
    await canary([{ setWeight: 20 }, { setWeight: 40 }, analysisStep('error-rate'), { setWeight: 60 }]);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.equal(r.status.message, 'Rollout aborted: metric error-rate: 0.23 > 0.05 (failed 1 > failureLimit 0) at step 3/4');
    assert.deepEqual(sizes(h), { 'example/app:v1': 10, 'example/app:v2': 0 }, 'all traffic back to stable in the same reconcile');
    assert.match(h.events().join('\n'), /RolloutAborted: Rollout aborted: metric error-rate: 0.23 > 0.05/);
  });

  test('Prometheus unreachable: never promoted, aborted after consecutiveErrorLimit', async () => {
    await h.kube.create(
      kinds.analysisTemplate,
      template('latency', { successCondition: 'result[0] < 0.5', interval: '5s', count: 10, consecutiveErrorLimit: 2 }),
    );
    h.metrics.answer('latency', 'unreachable');
    await canary([{ setWeight: 20 }, analysisStep('latency'), { setWeight: 100 }]);
    await h.advance(5_000);
    assert.equal(h.rollout().status.phase, 'Progressing', 'two errors are within the limit');
    await h.advance(5_000);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /latency/);
    assert.match(r.status.message ?? '', /unreachable/i);
    assert.notEqual(r.status.stableRS, r.status.currentPodHash, 'never promoted');
    assert.deepEqual(sizes(h), { 'example/app:v1': 10, 'example/app:v2': 0 });
  });

  test("a web metric (Argo Rollouts' provider.web) decides like a Prometheus one: JSON selected by jsonPath", async () => {
    await h.kube.create(kinds.analysisTemplate, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'health', namespace: NS },
      spec: {
        args: [{ name: 'hash' }],
        metrics: [
          {
            name: 'health',
            successCondition: 'result.ok && result.errorRate <= 0.05',
            provider: { web: { url: 'http://checkout.invalid/api/health?hash={{args.hash}}', jsonPath: '{$.data}' } },
          },
        ],
      },
    });
    h.metrics.answerJson('/api/health', { data: { ok: true, errorRate: 0.31 } });
    await canary([{ setWeight: 20 }, analysisStep('health'), { setWeight: 60 }]);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.equal(r.status.message, 'Rollout aborted: metric health: result.errorRate (0.31) > 0.05 (failed 1 > failureLimit 0) at step 2/3');
    assert.equal(h.metrics.queries[0], `GET http://checkout.invalid/api/health?hash=${r.status.currentPodHash}`, 'the request names the canary hash');
    assert.deepEqual(sizes(h), { 'example/app:v1': 10, 'example/app:v2': 0 });
  });

  test('a web metric that passes promotes', async () => {
    await h.kube.create(kinds.analysisTemplate, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisTemplate',
      metadata: { name: 'health', namespace: NS },
      spec: { metrics: [{ name: 'health', successCondition: 'result == true', provider: { web: { url: 'http://checkout.invalid/ok', jsonPath: '{$.ok}' } } }] },
    });
    h.metrics.answerJson('/ok', { ok: true });
    await canary([{ setWeight: 20 }, { analysis: { templates: [{ templateName: 'health' }] } }, { setWeight: 60 }]);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Healthy', r.status.message);
    assert.deepEqual(sizes(h), { 'example/app:v1': 0, 'example/app:v2': 10 });
  });

  test('no data is inconclusive: paused for a person, who can promote past it', async () => {
    await h.kube.create(kinds.analysisTemplate, template('traffic', { successCondition: 'result[0] > 0' }));
    h.metrics.answer('traffic', 'empty');
    await canary([{ setWeight: 20 }, analysisStep('traffic'), { setWeight: 60 }]);
    let r = h.rollout();
    assert.equal(r.status.phase, 'Paused');
    assert.deepEqual(
      r.status.pauseConditions?.map((p) => p.reason),
      ['InconclusiveAnalysis'],
    );
    assert.match(r.status.analysis?.message ?? '', /no data/);
    await h.advance(600_000);
    assert.equal(h.rollout().status.phase, 'Paused', 'an inconclusive verdict waits for a person');
    await h.patchStatus('app', { pauseConditions: null });
    r = h.rollout();
    assert.equal(r.status.phase, 'Healthy', r.status.message);
  });

  test('background analysis failing mid-way aborts at the step it happens', async () => {
    h.metrics.answer('error-rate', 0.01);
    await canary([{ setWeight: 20 }, { pause: { duration: '60s' } }, { setWeight: 50 }, { pause: { duration: '60s' } }], {
      analysis: { templates: [{ templateName: 'error-rate' }], args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }], startingStep: 1 },
    });
    await h.advance(10_000);
    assert.equal(h.rollout().status.phase, 'Paused');
    h.metrics.answer('error-rate', 0.4);
    await h.advance(10_000);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /metric error-rate: 0.4 > 0.05 .* at step 2\/4/);
    assert.deepEqual(sizes(h), { 'example/app:v1': 10, 'example/app:v2': 0 });
  });

  test('blue-green: failing pre-promotion analysis never switches the active Service', async () => {
    h.metrics.answer('error-rate', 0.5);
    await h.kube.create(kinds.service, service('app-active'));
    await h.kube.create(
      kinds.rollout,
      blueGreenRollout({ activeService: 'app-active', prePromotionAnalysis: analysisStep('error-rate').analysis }, { replicas: 3 }),
    );
    await h.settle();
    const v1 = h.rollout().status.stableRS;
    await h.setImage('app', 'example/app:v2');
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /before promotion/);
    assert.equal(selectorOf(h, 'app-active'), v1);
    // As Argo Rollouts: the aborted revision is scaled down after abortScaleDownDelaySeconds (default 30).
    assert.deepEqual(sizes(h), { 'example/app:v1': 3, 'example/app:v2': 3 });
    await h.advance(30_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 3, 'example/app:v2': 0 });
  });

  test('blue-green: failing post-promotion analysis switches back to the previous revision', async () => {
    h.metrics.answer('error-rate', 0.01);
    await h.kube.create(kinds.service, service('app-active'));
    await h.kube.create(
      kinds.rollout,
      blueGreenRollout(
        { activeService: 'app-active', postPromotionAnalysis: analysisStep('error-rate').analysis, scaleDownDelaySeconds: 300 },
        { replicas: 3 },
      ),
    );
    await h.settle();
    const v1 = h.rollout().status.stableRS;
    h.metrics.answer('error-rate', 0.5);
    await h.setImage('app', 'example/app:v2');
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /after promotion/);
    assert.equal(selectorOf(h, 'app-active'), v1, 'active switched back');
    assert.equal(r.status.stableRS, v1);
    // As Argo Rollouts: the aborted revision is scaled down after abortScaleDownDelaySeconds (default 30).
    assert.deepEqual(sizes(h), { 'example/app:v1': 3, 'example/app:v2': 3 });
    await h.advance(30_000);
    assert.deepEqual(sizes(h), { 'example/app:v1': 3, 'example/app:v2': 0 });
  });

  test('a missing template aborts with a clear message instead of waiting forever', async () => {
    await canary([{ setWeight: 20 }, analysisStep('nope')]);
    const r = h.rollout();
    assert.equal(r.status.phase, 'Degraded');
    assert.match(r.status.message ?? '', /nope/);
  });
});
