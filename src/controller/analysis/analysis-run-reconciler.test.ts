// The AnalysisRun reconciler over the in-memory kube fake, a fake clock and a scripted metrics port.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import type { MetricQueryOutcome, MetricsProviderFactory, MetricsQuery, ProviderResult } from '../../ports/metrics.ts';
import type { AnalysisRun, AnalysisRunStatus, Metric } from '../../api/analysis.ts';
import { KubeSecretReader } from '../runtime/secret-reader.ts';
import { StatusWriter } from '../runtime/status-writer.ts';
import { reconcileAnalysisRun, type AnalysisRunDeps } from './analysis-run-reconciler.ts';

const NS = 'shop';

class ScriptedMetrics implements MetricsProviderFactory {
  readonly queries: MetricsQuery[] = [];
  readonly providers: unknown[] = [];
  next: (q: MetricsQuery) => MetricQueryOutcome | Promise<MetricQueryOutcome>;
  factoryResult?: ProviderResult;
  constructor(next: (q: MetricsQuery) => MetricQueryOutcome | Promise<MetricQueryOutcome>) {
    this.next = next;
  }
  async forMetric(provider: unknown): Promise<ProviderResult> {
    this.providers.push(provider);
    if (this.factoryResult) return this.factoryResult;
    return {
      ok: true,
      provider: {
        type: 'prometheus',
        query: async (q) => {
          this.queries.push(q);
          return this.next(q);
        },
      },
    };
  }
}

const vector = (...values: number[]): MetricQueryOutcome => ({ ok: true, result: { type: 'vector', series: values.map((value) => ({ labels: {}, value })) } });
const unreachable: MetricQueryOutcome = { ok: false, error: { kind: 'unreachable', message: 'http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9' } };

function metric(over: Partial<Metric> = {}): Metric {
  return {
    name: 'error-rate',
    successCondition: 'result[0] <= 0.05',
    provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'errors{svc="{{args.service}}"}' } },
    ...over,
  };
}

function setup(spec: Partial<AnalysisRun['spec']> & { metrics: Metric[] }, next: ScriptedMetrics['next'] = () => vector(0.01)) {
  const clock = new FakeClock(Date.parse('2030-01-01T00:00:00Z'));
  const kube = new FakeKube({ now: () => clock.now() });
  const metrics = new ScriptedMetrics(next);
  const deps: AnalysisRunDeps = {
    status: new StatusWriter(kube, () => clock.now()),
    secrets: new KubeSecretReader(kube),
    metrics,
    clock,
    logger: pino({ level: 'silent' }),
  };
  const create = async (extra: Partial<KubeObject> = {}) =>
    kube.create(kinds.analysisRun, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'run', namespace: NS },
      spec: { args: [{ name: 'service', value: 'web' }], ...spec },
      ...extra,
    });
  const current = () => kube.peek<KubeObject & { status?: AnalysisRunStatus }>(kinds.analysisRun, NS, 'run');
  const reconcile = async () => reconcileAnalysisRun(current() as KubeObject, deps);
  const statusPatches = () => kube.writes.filter((w) => w === `patch analysisruns ${NS}/run/status`).length;
  return { clock, kube, metrics, deps, create, current, reconcile, statusPatches };
}

describe('reconcileAnalysisRun', () => {
  test('the run starts no later than its first measurement (timestamps in status are consistent)', async () => {
    const s = setup({ metrics: [metric({ interval: '30s', count: 2 })] });
    s.metrics.next = () => {
      s.clock.advance(1_500); // a slow Prometheus
      return vector(0.01);
    };
    await s.create();
    await s.reconcile();
    const status = s.current()?.status;
    const first = status?.metricResults?.[0]?.measurements?.[0];
    assert.ok(status?.startedAt && first?.startedAt);
    assert.ok(Date.parse(status.startedAt) <= Date.parse(first.startedAt), `startedAt ${status.startedAt} is after the first measurement's ${first.startedAt}`);
  });

  test('measures on time, one status patch per change, requeues exactly at the next measurement', async () => {
    const values = [0.01, 0.02, 0.03];
    const s = setup({ metrics: [metric({ interval: '30s', count: 3 })] }, () => vector(values.shift() as number));
    await s.create();

    const r1 = await s.reconcile();
    assert.deepEqual(r1, { statusChanged: true, requeueAfterMs: 30_000, phase: 'Running' });
    assert.equal(s.statusPatches(), 1);
    assert.equal(s.metrics.queries[0]?.query, 'errors{svc="web"}', 'args substituted');
    assert.equal(s.metrics.queries[0]?.time.toISOString(), '2030-01-01T00:00:00.000Z');
    assert.equal(s.metrics.queries[0]?.timeoutMs, 30_000);

    // The watch event of our own patch: nothing due, no write, same requeue.
    s.clock.advance(1_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: false, requeueAfterMs: 29_000, phase: 'Running' });
    assert.equal(s.statusPatches(), 1);
    assert.equal(s.metrics.queries.length, 1);

    s.clock.advance(29_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, requeueAfterMs: 30_000, phase: 'Running' });
    s.clock.advance(30_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
    assert.equal(s.statusPatches(), 3);

    const status = s.current()?.status;
    assert.equal(status?.message, 'metric error-rate: 0.03 <= 0.05 (3 of 3 successful)');
    assert.equal(status?.completedAt, '2030-01-01T00:01:00.000Z');
    assert.equal(status?.nextMeasurementAt, undefined, 'removed from the stored status');
    const last = status?.metricResults?.[0]?.measurements?.at(-1);
    assert.deepEqual(last, {
      phase: 'Successful',
      startedAt: '2030-01-01T00:01:00.000Z',
      finishedAt: '2030-01-01T00:01:00.000Z',
      query: 'errors{svc="web"}',
      value: '[0.03]',
      condition: 'successCondition: result[0] <= 0.05',
      message: '0.03 <= 0.05',
    });

    // Completed: left alone.
    s.clock.advance(60_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: false, phase: 'Successful' });
    assert.equal(s.metrics.queries.length, 3);
  });

  test('a bad version fails at the first measurement, explained', async () => {
    const s = setup({ metrics: [metric({ interval: '30s', count: 5 })] }, () => vector(0.23));
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Failed' });
    assert.equal(s.current()?.status?.message, 'metric error-rate: 0.23 > 0.05 (failed 1 > failureLimit 0)');
  });

  test('Prometheus unreachable: retried every 10s, Error after consecutiveErrorLimit, never Successful', async () => {
    const s = setup({ metrics: [metric()] }, () => unreachable);
    await s.create();
    for (let i = 1; i <= 4; i++) {
      const r = await s.reconcile();
      assert.deepEqual(r, { statusChanged: true, requeueAfterMs: 10_000, phase: 'Running' }, `error ${i}`);
      s.clock.advance(10_000);
    }
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Error' });
    assert.equal(
      s.current()?.status?.message,
      'metric error-rate: Prometheus unreachable: http://127.0.0.1:9: connect ECONNREFUSED 127.0.0.1:9 (5 consecutive errors > consecutiveErrorLimit 4)',
    );
    assert.equal(s.metrics.queries.length, 5);
  });

  test('an invalid condition fails the run on first use, naming the metric; nothing is queried', async () => {
    const s = setup({ metrics: [metric({ successCondition: 'result[0] <=' })] });
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Error' });
    assert.match(s.current()?.status?.message ?? '', /^invalid analysis: metric error-rate: invalid successCondition "result\[0\] <=": syntax error: /);
    assert.equal(s.metrics.queries.length, 0);
    assert.deepEqual(await s.reconcile(), { statusChanged: false, phase: 'Error' }, 'stays put');
  });

  test('an arg without a value: Error naming it', async () => {
    const s = setup({ args: [{ name: 'service' }], metrics: [metric()] });
    await s.create();
    await s.reconcile();
    assert.equal(s.current()?.status?.message, 'invalid analysis: arg service has no value');
  });

  test('an arg from a missing Secret is an error measurement until the Secret exists; its value is masked', async () => {
    const s = setup({
      args: [{ name: 'service', valueFrom: { secretKeyRef: { name: 'prom', key: 'svc' } } }],
      metrics: [metric({ interval: '10s', count: 1 })],
    });
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, requeueAfterMs: 10_000, phase: 'Running' });
    const m = s.current()?.status?.metricResults?.[0]?.measurements?.[0];
    assert.equal(m?.phase, 'Error');
    assert.equal(m?.message, 'cannot resolve args: arg "service": Secret shop/prom not found');

    await s.kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'prom', namespace: NS, labels: { 'sluice.dev/allow-analysis': 'true' } },
      data: { svc: Buffer.from('hidden-svc').toString('base64') },
    });
    s.clock.advance(10_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
    assert.equal(s.metrics.queries[0]?.query, 'errors{svc="hidden-svc"}', 'the real value is sent');
    const stored = JSON.stringify(s.current());
    assert.ok(!stored.includes('hidden-svc'), 'the Secret value is not written to the run');
    assert.match(stored, /errors\{svc=\\"\*\*\*\*\*\\"\}/);
  });

  test('an arg that would break out of its string literal is escaped: the query keeps its meaning', async () => {
    const injected = 'web"} or vector(1) or errors{svc="';
    const s = setup({ args: [{ name: 'service', value: injected }], metrics: [metric()] });
    await s.create();
    await s.reconcile();
    assert.equal(s.metrics.queries[0]?.query, 'errors{svc="web\\"} or vector(1) or errors{svc=\\""}');
    const single = setup({
      args: [{ name: 'service', value: "it's \\ fine" }],
      metrics: [metric({ provider: { prometheus: { address: 'http://127.0.0.1:9090', query: "errors{svc='{{args.service}}'}" } } })],
    });
    await single.create();
    await single.reconcile();
    assert.equal(single.metrics.queries[0]?.query, "errors{svc='it\\'s \\\\ fine'}");
  });

  test('an arg outside a string literal must be a plain word, number or duration; anything else is refused, naming the arg', async () => {
    const query = 'sum(rate(errors[{{args.window}}])) > {{args.limit}}';
    const ok = setup({
      args: [
        { name: 'window', value: '5m' },
        { name: 'limit', value: '-0.5e-3' },
      ],
      metrics: [metric({ provider: { prometheus: { address: 'http://127.0.0.1:9090', query } } })],
    });
    await ok.create();
    await ok.reconcile();
    assert.equal(ok.metrics.queries[0]?.query, 'sum(rate(errors[5m])) > -0.5e-3');

    // A literal value is refused before anything is measured.
    const literal = setup({
      args: [
        { name: 'window', value: '5m])) or vector(1) or sum(rate(x[5m' },
        { name: 'limit', value: '1' },
      ],
      metrics: [metric({ provider: { prometheus: { address: 'http://127.0.0.1:9090', query } } })],
    });
    await literal.create();
    await literal.reconcile();
    assert.match(
      literal.current()?.status?.message ?? '',
      /^invalid analysis: metric error-rate: query: arg "window": "5m\]\)\) or .*" cannot go into the query outside a string literal/,
    );
    assert.equal(literal.metrics.queries.length, 0);

    // A value from a Secret is refused at measurement time, without echoing it.
    const secret = setup({
      args: [
        { name: 'window', valueFrom: { secretKeyRef: { name: 'prom', key: 'w' } } },
        { name: 'limit', value: '1' },
      ],
      metrics: [metric({ provider: { prometheus: { address: 'http://127.0.0.1:9090', query } } })],
    });
    await secret.kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'prom', namespace: NS, labels: { 'sluice.dev/allow-analysis': 'true' } },
      data: { w: Buffer.from('1m] or up[1m').toString('base64') },
    });
    await secret.create();
    await secret.reconcile();
    const m = secret.current()?.status?.metricResults?.[0]?.measurements?.[0];
    assert.equal(m?.phase, 'Error');
    assert.match(m?.message ?? '', /^query: arg "window" \(from a Secret\) cannot go into the query outside a string literal/);
    assert.ok(!JSON.stringify(secret.current()).includes('up[1m'), 'the Secret value is not echoed');
    assert.equal(secret.metrics.queries.length, 0);
  });

  test('terminate stops measuring: a run measuring until terminated ends Successful', async () => {
    const s = setup({ metrics: [metric({ interval: '30s' })] });
    await s.create();
    await s.reconcile();
    await s.kube.patch(kinds.analysisRun, NS, 'run', { spec: { terminate: true } }, { type: 'merge' });
    s.clock.advance(30_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
    assert.equal(s.metrics.queries.length, 1, 'no measurement after terminate');
    assert.match(s.current()?.status?.message ?? '', /^terminated: metric error-rate: terminated after 1 measurement/);
  });

  test('initialDelay: nothing measured before it, requeue at its end', async () => {
    const s = setup({ metrics: [metric({ initialDelay: '1m' })] });
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, requeueAfterMs: 60_000, phase: 'Pending' });
    assert.equal(s.current()?.status?.startedAt, '2030-01-01T00:00:00.000Z');
    assert.equal(s.metrics.queries.length, 0);
    s.clock.advance(60_000);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
  });

  test('an object that is not a valid AnalysisRun: Error, no throw', async () => {
    const s = setup({ metrics: [] });
    await s.create({ spec: { metrics: 'nope' } } as never);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Error' });
    assert.match(s.current()?.status?.message ?? '', /^invalid AnalysisRun: spec.metrics: /);
    assert.deepEqual(await reconcileAnalysisRun({ metadata: {} }, s.deps), { statusChanged: false });
  });

  test('the provider cannot be made (e.g. auth Secret missing): an error measurement', async () => {
    const s = setup({ metrics: [metric()] });
    s.metrics.factoryResult = { ok: false, error: { kind: 'config', message: 'authentication.bearer.token: Secret shop/prom not found' } };
    await s.create();
    await s.reconcile();
    assert.equal(s.current()?.status?.metricResults?.[0]?.measurements?.[0]?.message, 'cannot query: authentication.bearer.token: Secret shop/prom not found');
  });

  test('args are substituted in the address and header values too', async () => {
    const s = setup({
      args: [
        { name: 'service', value: 'web' },
        { name: 'tenant', value: 't1' },
      ],
      metrics: [
        metric({
          provider: {
            prometheus: { address: 'http://{{args.service}}-prom:9090', query: 'up', headers: [{ key: 'X-Scope-OrgID', value: '{{args.tenant}}' }] },
          },
        }),
      ],
    });
    await s.create();
    await s.reconcile();
    assert.deepEqual(s.metrics.providers[0], {
      prometheus: { address: 'http://web-prom:9090', query: 'up', headers: [{ key: 'X-Scope-OrgID', value: 't1' }] },
    });
  });

  test('a provider that throws is an error measurement, not a crash', async () => {
    const s = setup({ metrics: [metric()] }, () => {
      throw new Error('boom');
    });
    await s.create();
    assert.equal((await s.reconcile()).phase, 'Running');
    assert.equal(s.current()?.status?.metricResults?.[0]?.measurements?.[0]?.message, 'internal error: boom');
  });

  test('metrics are measured in parallel and written in one patch', { timeout: 5000 }, async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const s = setup({ metrics: [metric(), metric({ name: 'latency', successCondition: 'result[0] < 1' })] }, async () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      if (inFlight === 2) release();
      await gate;
      inFlight--;
      return vector(0.01);
    });
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
    assert.equal(maxInFlight, 2);
    assert.equal(s.statusPatches(), 1);
  });

  test('a failed status write rejects, so the queue backs off and retries', async () => {
    const s = setup({ metrics: [metric()] });
    await s.create();
    s.kube.failNext.push({ verb: 'patch', plural: 'analysisruns', status: 500 });
    await assert.rejects(s.reconcile(), /injected 500/);
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
  });

  test('a stale copy cannot overwrite a newer verdict: the write conflicts and the run is looked at again at once', async () => {
    const s = setup({ metrics: [metric({ interval: '30s', count: 5 })] }, () => vector(0.23));
    await s.create();
    const stale = s.current() as KubeObject;
    assert.equal((await s.reconcile()).phase, 'Failed');
    s.metrics.next = () => vector(0.01);
    assert.deepEqual(await reconcileAnalysisRun(stale, s.deps), { statusChanged: false, requeueAfterMs: 0 });
    assert.equal(s.current()?.status?.phase, 'Failed');
    assert.deepEqual(await s.reconcile(), { statusChanged: false, phase: 'Failed' });
  });
});
