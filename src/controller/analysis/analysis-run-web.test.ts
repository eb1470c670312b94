// The AnalysisRun reconciler with web metrics: over a scripted metrics port (what it hands the
// provider, what it records), and over the real provider factory against an HTTP server on
// 127.0.0.1 (a whole run, from the reply to the verdict in the status).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import type { MetricQueryError, MetricQueryOutcome, MetricsProviderFactory, MetricsQuery, ProviderResult } from '../../ports/metrics.ts';
import type { AnalysisRun, AnalysisRunStatus, Metric, MetricProvider } from '../../api/analysis.ts';
import { parseAddressPolicy } from '../../core/analysis/address-policy.ts';
import { createMetricsProviderFactory } from '../../adapters/prometheus/factory.ts';
import { KubeSecretReader } from '../runtime/secret-reader.ts';
import { StatusWriter } from '../runtime/status-writer.ts';
import { reconcileAnalysisRun, type AnalysisRunDeps } from './analysis-run-reconciler.ts';

const NS = 'shop';

class ScriptedWeb implements MetricsProviderFactory {
  readonly providers: MetricProvider[] = [];
  readonly queries: MetricsQuery[] = [];
  refuse?: (p: MetricProvider) => MetricQueryError | undefined;
  next: () => MetricQueryOutcome;
  constructor(next: () => MetricQueryOutcome) {
    this.next = next;
  }
  checkAddress(provider: MetricProvider): MetricQueryError | undefined {
    return this.refuse?.(provider);
  }
  async forMetric(provider: MetricProvider): Promise<ProviderResult> {
    this.providers.push(provider);
    return {
      ok: true,
      provider: {
        type: 'web',
        query: async (q) => {
          this.queries.push(q);
          return this.next();
        },
      },
    };
  }
}

const json = (document: unknown): MetricQueryOutcome => ({ ok: true, result: { type: 'json', document: document as never } });

function webMetric(over: Partial<Metric> = {}): Metric {
  return {
    name: 'webmetric',
    successCondition: 'result.ok && result.successPercent >= 0.90',
    provider: {
      web: {
        url: 'http://metrics.shop:8080/api/v1/measurement?service={{args.service}}&key={{args.api-key}}',
        headers: [{ key: 'Authorization', value: 'Bearer {{args.api-key}}' }],
        jsonPath: '{$.data}',
      },
    },
    ...over,
  };
}

const ARGS = [
  { name: 'service', value: 'checkout' },
  { name: 'api-key', valueFrom: { secretKeyRef: { name: 'metrics-api', key: 'token' } } },
];

function setup(metricsOf: MetricsProviderFactory | ((kube: FakeKube) => MetricsProviderFactory), spec: Partial<AnalysisRun['spec']> & { metrics: Metric[] }) {
  const clock = new FakeClock(Date.parse('2030-01-01T00:00:00Z'));
  const kube = new FakeKube({ now: () => clock.now() });
  const metrics = typeof metricsOf === 'function' ? metricsOf(kube) : metricsOf;
  let secretReads = 0;
  const counting = {
    get: async <T extends KubeObject>(kind: Parameters<FakeKube['get']>[0], ns: string | undefined, name: string) => {
      if (kind.plural === 'secrets') secretReads++;
      return kube.get<T>(kind, ns, name);
    },
  };
  const deps: AnalysisRunDeps = {
    status: new StatusWriter(kube, () => clock.now()),
    secrets: new KubeSecretReader(counting),
    metrics,
    clock,
    logger: pino({ level: 'silent' }),
  };
  const addSecret = () =>
    kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'metrics-api', namespace: NS, labels: { 'sluice.dev/allow-analysis': 'true' } },
      data: { token: Buffer.from('tok-3456-secret').toString('base64') },
    });
  const create = () =>
    kube.create(kinds.analysisRun, {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'AnalysisRun',
      metadata: { name: 'run', namespace: NS },
      spec: { args: ARGS, ...spec },
    });
  const current = () => kube.peek<KubeObject & { status?: AnalysisRunStatus }>(kinds.analysisRun, NS, 'run');
  const reconcile = () => reconcileAnalysisRun(current() as KubeObject, deps);
  const last = () => current()?.status?.metricResults?.[0]?.measurements?.at(-1);
  return { clock, kube, deps, addSecret, create, current, reconcile, last, secretReads: () => secretReads };
}

describe('reconcileAnalysisRun: web metrics', () => {
  test('args go into url and headers (the Secret value sent, masked in what is recorded); the value as Argo shows it', async () => {
    const metrics = new ScriptedWeb(() => json({ data: { ok: true, successPercent: 0.97 }, other: 1 }));
    const s = setup(metrics, { metrics: [webMetric({ provider: { web: { ...webMetric().provider.web!, timeoutSeconds: 20 } } })] });
    await s.addSecret();
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Successful' });
    const sent = metrics.providers[0]?.web;
    assert.equal(sent?.url, 'http://metrics.shop:8080/api/v1/measurement?service=checkout&key=tok-3456-secret');
    assert.deepEqual(sent?.headers, [{ key: 'Authorization', value: 'Bearer tok-3456-secret' }]);
    assert.equal(metrics.queries[0]?.timeoutMs, 20_000);
    assert.deepEqual(s.last(), {
      phase: 'Successful',
      startedAt: '2030-01-01T00:00:00.000Z',
      finishedAt: '2030-01-01T00:00:00.000Z',
      query: 'GET http://metrics.shop:8080/api/v1/measurement?service=checkout&key=*****',
      value: '{"ok":true,"successPercent":0.97}',
      condition: 'successCondition: result.ok && result.successPercent >= 0.90',
      message: 'result.ok is true and result.successPercent (0.97) >= 0.9',
    });
    assert.equal(s.current()?.status?.message, 'metric webmetric: result.ok is true and result.successPercent (0.97) >= 0.9 (1 of 1 successful)');
    assert.ok(!JSON.stringify(s.current()).includes('tok-3456'), 'the Secret value is nowhere in the run');
  });

  test('a reply that echoes the Secret: the value is masked in the status (the condition saw the real one)', async () => {
    const metrics = new ScriptedWeb(() => json({ data: { ok: true, successPercent: 0.5, echo: 'Bearer tok-3456-secret' } }));
    const s = setup(metrics, { metrics: [webMetric()] });
    await s.addSecret();
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Failed' });
    assert.equal(s.last()?.value, '{"echo":"Bearer *****","ok":true,"successPercent":0.5}');
    assert.equal(s.current()?.status?.message, 'metric webmetric: result.successPercent (0.5) < 0.9 (failed 1 > failureLimit 0)');
  });

  test('a url the address policy refuses: an error measurement before any Secret is read, and nothing sent', async () => {
    const metrics = new ScriptedWeb(() => json({}));
    metrics.refuse = (p) =>
      p.web?.url.startsWith('http://metrics.shop')
        ? { kind: 'config', message: "url http://metrics.shop:8080/… is not allowed by this controller's policy" }
        : undefined;
    const s = setup(metrics, { metrics: [webMetric({ interval: '10s', count: 1 })] });
    await s.addSecret();
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, requeueAfterMs: 10_000, phase: 'Running' });
    assert.equal(s.secretReads(), 0, 'the arg Secret was not read');
    assert.equal(metrics.providers.length, 0, 'no provider built, nothing sent');
    assert.deepEqual(
      [s.last()?.phase, s.last()?.message, s.last()?.query],
      [
        'Error',
        "cannot query: url http://metrics.shop:8080/… is not allowed by this controller's policy",
        'GET http://metrics.shop:8080/api/v1/measurement?service=checkout&key={{args.api-key}}',
      ],
    );
  });

  test('a url that takes its host from a Secret arg is checked once the Secret is read (by the factory)', async () => {
    const metrics = new ScriptedWeb(() => json({ data: { ok: true, successPercent: 1 } }));
    let checked = 0;
    metrics.refuse = () => (checked++, undefined);
    const s = setup(metrics, {
      metrics: [webMetric({ provider: { web: { url: '{{args.api-key}}/x' } } })],
    });
    await s.create();
    await s.reconcile();
    assert.equal(checked, 0, 'not checked with a placeholder in the address');
    assert.match(s.last()?.message ?? '', /^cannot resolve args: arg "api-key": Secret shop\/metrics-api not found$/);
  });

  test('a jsonPath that selects nothing is an error measurement; retried, then Error', async () => {
    const metrics = new ScriptedWeb(() => json({ result: { ok: true } }));
    const s = setup(metrics, { metrics: [webMetric({ consecutiveErrorLimit: 0 })] });
    await s.addSecret();
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Error' });
    assert.equal(
      s.current()?.status?.message,
      'metric webmetric: bad response: jsonPath {$.data}: .data not found in $ (an object with key result) (1 consecutive errors > consecutiveErrorLimit 0)',
    );
  });

  test('an invalid web metric ends the run before anything is sent, naming the problem', async () => {
    const metrics = new ScriptedWeb(() => json({}));
    const s = setup(metrics, { metrics: [webMetric({ provider: { web: { url: 'http://h/', jsonPath: '{$..ok}' } } })] });
    await s.create();
    assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Error' });
    assert.match(s.current()?.status?.message ?? '', /^invalid analysis: metric webmetric: jsonPath "\{\$\.\.ok\}": recursive descent/);
    assert.equal(metrics.providers.length, 0);
  });
});

describe('reconcileAnalysisRun: web metrics over HTTP on 127.0.0.1', () => {
  test('a run measured against a live endpoint: passing, then failing, with the request the server saw', async () => {
    let percent = 0.97;
    const seen: Array<{ url: string; auth: string | undefined }> = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ data: { ok: true, successPercent: percent } }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const policy = parseAddressPolicy([`127.0.0.1:${port}`]);
      assert.ok(policy.ok);
      const factory = (kube: FakeKube) => createMetricsProviderFactory({ secrets: new KubeSecretReader(kube), allowedAddresses: policy.value });
      const metric = webMetric({
        interval: '10s',
        count: 3,
        provider: { web: { ...webMetric().provider.web!, url: `http://127.0.0.1:${port}/api/v1/measurement?service={{args.service}}` } },
      });
      const s = setup(factory, { metrics: [metric] });
      await s.addSecret();
      await s.create();
      assert.deepEqual(await s.reconcile(), { statusChanged: true, requeueAfterMs: 10_000, phase: 'Running' });
      assert.deepEqual(seen, [{ url: '/api/v1/measurement?service=checkout', auth: 'Bearer tok-3456-secret' }]);
      assert.equal(s.last()?.phase, 'Successful');
      percent = 0.42;
      s.clock.advance(10_000);
      assert.deepEqual(await s.reconcile(), { statusChanged: true, phase: 'Failed' });
      assert.equal(s.current()?.status?.message, 'metric webmetric: result.successPercent (0.42) < 0.9 (failed 1 > failureLimit 0)');
      assert.equal(seen.length, 2);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
