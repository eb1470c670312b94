// The Prometheus adapter against a fake Prometheus HTTP API on 127.0.0.1 (every server is
// closed after its test), then against the real Debian prometheus when it is installed.
import { parseAddressPolicy } from '../../core/analysis/address-policy.ts';
import { test, describe, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { setTimeout as setTimeoutPromise } from 'node:timers/promises';
import { MAX_QUERY_TIMEOUT_MS } from '../../core/analysis/defaults.ts';
import { MAX_REPLY_BYTES, PrometheusProvider, parsePrometheusNumber } from './prometheus.ts';
import { KubeSecretReader } from '../../controller/runtime/secret-reader.ts';
import { createMetricsProviderFactory } from './factory.ts';
import type { MetricQueryOutcome, MetricsQuery } from '../../ports/metrics.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

interface FakeProm {
  address: string;
  requests: Array<{ path: string; params: URLSearchParams; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

async function fakeProm(handler: Handler, prefix = ''): Promise<FakeProm> {
  const requests: FakeProm['requests'] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ path: url.pathname, params: url.searchParams, headers: req.headers });
    handler(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `http://127.0.0.1:${port}${prefix}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const json =
  (status: number, body: unknown): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
const success = (data: unknown) => json(200, { status: 'success', data });
const NOW = new Date('2030-01-01T00:00:00Z');
const instant = (query = 'q', timeoutMs = 2000): MetricsQuery => ({ kind: 'instant', query, timeoutMs, time: NOW });

async function withServer(handler: Handler, run: (p: FakeProm) => Promise<void>, prefix = ''): Promise<void> {
  const server = await fakeProm(handler, prefix);
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

async function queryOnce(handler: Handler, q: MetricsQuery = instant()): Promise<{ outcome: MetricQueryOutcome; server: FakeProm }> {
  let outcome: MetricQueryOutcome | undefined;
  let seen: FakeProm | undefined;
  await withServer(handler, async (server) => {
    seen = server;
    outcome = await new PrometheusProvider({ address: server.address }).query(q);
  });
  return { outcome: outcome as MetricQueryOutcome, server: seen as FakeProm };
}

function expectError(outcome: MetricQueryOutcome, kind: string, message: RegExp): void {
  assert.equal(outcome.ok, false, `expected an error, got ${JSON.stringify(outcome)}`);
  if (!outcome.ok) {
    assert.equal(outcome.error.kind, kind, outcome.error.message);
    assert.match(outcome.error.message, message);
  }
}

describe('PrometheusProvider over a fake Prometheus API', () => {
  test('vector: one value per series, labels kept; query, time and timeout sent', async () => {
    const { outcome, server } = await queryOnce(
      success({
        resultType: 'vector',
        result: [
          { metric: { pod: 'a' }, value: [1893456000, '0.23'] },
          { metric: { pod: 'b' }, value: [1893456000, '1e-3'] },
        ],
      }),
      instant('sum(rate(x[1m]))', 1500),
    );
    assert.deepEqual(outcome, {
      ok: true,
      result: {
        type: 'vector',
        series: [
          { labels: { pod: 'a' }, value: 0.23 },
          { labels: { pod: 'b' }, value: 0.001 },
        ],
      },
    });
    const req = server.requests[0];
    assert.equal(req?.path, '/api/v1/query');
    assert.equal(req?.params.get('query'), 'sum(rate(x[1m]))');
    assert.equal(req?.params.get('time'), String(NOW.getTime() / 1000));
    assert.equal(req?.params.get('timeout'), '2s');
  });

  test('scalar', async () => {
    const { outcome } = await queryOnce(success({ resultType: 'scalar', result: [1893456000, '42'] }));
    assert.deepEqual(outcome, { ok: true, result: { type: 'scalar', value: 42 } });
  });

  test('NaN, +Inf and -Inf are numbers, not errors', async () => {
    const { outcome } = await queryOnce(
      success({ resultType: 'vector', result: ['NaN', '+Inf', '-Inf'].map((v, i) => ({ metric: { i: String(i) }, value: [1, v] })) }),
    );
    assert.ok(outcome.ok);
    assert.equal(outcome.result.type, 'vector');
    if (outcome.result.type === 'vector') {
      const [a, b, c] = outcome.result.series.map((s) => s.value);
      assert.ok(Number.isNaN(a));
      assert.equal(b, Infinity);
      assert.equal(c, -Infinity);
    }
  });

  test('empty vector is a result (no data is judged by the core, not hidden here)', async () => {
    const { outcome } = await queryOnce(success({ resultType: 'vector', result: [] }));
    assert.deepEqual(outcome, { ok: true, result: { type: 'vector', series: [] } });
  });

  test('range query: matrix, with start, end and step sent', async () => {
    const { outcome, server } = await queryOnce(
      success({
        resultType: 'matrix',
        result: [
          {
            metric: {},
            values: [
              [1, '0.1'],
              [2, '0.2'],
            ],
          },
        ],
      }),
      {
        kind: 'range',
        query: 'x',
        timeoutMs: 2000,
        time: NOW,
        range: { start: new Date(NOW.getTime() - 600_000), end: NOW, stepMs: 60_000 },
      },
    );
    assert.deepEqual(outcome, { ok: true, result: { type: 'matrix', series: [{ labels: {}, values: [0.1, 0.2] }] } });
    const req = server.requests[0];
    assert.equal(req?.path, '/api/v1/query_range');
    assert.equal(req?.params.get('start'), String(NOW.getTime() / 1000 - 600));
    assert.equal(req?.params.get('end'), String(NOW.getTime() / 1000));
    assert.equal(req?.params.get('step'), '60');
  });

  test('a matrix where an instant vector is expected', async () => {
    const { outcome } = await queryOnce(success({ resultType: 'matrix', result: [{ metric: {}, values: [[1, '1']] }] }));
    expectError(outcome, 'badResponse', /range vector \(matrix\) where an instant vector or scalar was expected/);
  });

  test('a string result', async () => {
    const { outcome } = await queryOnce(success({ resultType: 'string', result: [1, 'hello'] }));
    expectError(outcome, 'badResponse', /returned a string/);
  });

  test('a sample that is not a number', async () => {
    const { outcome } = await queryOnce(success({ resultType: 'vector', result: [{ metric: {}, value: [1, 'abc'] }] }));
    expectError(outcome, 'badResponse', /"abc" is not a number/);
  });

  test('HTML with 200 (a UI or a login page)', async () => {
    const { outcome } = await queryOnce((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><html><head><title>Grafana</title></head></html>');
    });
    expectError(
      outcome,
      'badResponse',
      /^expected JSON from the Prometheus API, got an HTML page \(text\/html, 63 bytes\): is the address the Prometheus server/,
    );
  });

  test('JSON that is not the Prometheus API', async () => {
    const { outcome } = await queryOnce(json(200, { hello: 'world' }));
    expectError(outcome, 'badResponse', /not a Prometheus API reply: status: /);
  });

  test('500 with an HTML error page', async () => {
    const { outcome } = await queryOnce((_req, res) => {
      res.writeHead(500, { 'content-type': 'text/html' });
      res.end('<html><body>Internal Server Error</body></html>');
    });
    expectError(outcome, 'http', /^HTTP 500 Internal Server Error: an HTML page/);
  });

  test('PromQL syntax error: Prometheus message kept', async () => {
    const { outcome } = await queryOnce(json(400, { status: 'error', errorType: 'bad_data', error: '1:5: parse error: unclosed left parenthesis' }));
    expectError(outcome, 'queryError', /^bad_data: 1:5: parse error: unclosed left parenthesis$/);
  });

  test('execution error (422)', async () => {
    const { outcome } = await queryOnce(json(422, { status: 'error', errorType: 'execution', error: 'many-to-many matching not allowed' }));
    expectError(outcome, 'queryError', /^execution: many-to-many matching not allowed$/);
  });

  test('Prometheus-side query timeout', async () => {
    const { outcome } = await queryOnce(json(503, { status: 'error', errorType: 'timeout', error: 'query timed out in expression evaluation' }));
    expectError(outcome, 'timeout', /Prometheus gave up: query timed out/);
  });

  test('401 says to check the authentication', async () => {
    const { outcome } = await queryOnce((_req, res) => {
      res.writeHead(401, { 'content-type': 'text/plain' });
      res.end('Unauthorized');
    });
    expectError(outcome, 'http', /^HTTP 401 Unauthorized: a text\/plain body of 12 bytes \(check provider.prometheus.authentication/);
  });

  test('slow server: timeout error after timeoutMs', async () => {
    let arrived!: () => void;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    await withServer(
      () => arrived(), // never answers; the connection is closed with the server
      async (server) => {
        const started = Date.now();
        const outcome = await new PrometheusProvider({ address: server.address }).query(instant('q', 300));
        await requestArrived;
        expectError(outcome, 'timeout', new RegExp(`no answer from ${server.address.replace(/[.]/g, '\\.')} within 300ms`));
        assert.ok(Date.now() - started >= 290, 'did not give up early');
      },
    );
  });

  test('a server that starts answering but never finishes also times out', async () => {
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"status":"success","data":{"resultType":"vector","result":[');
      },
      async (server) => {
        const outcome = await new PrometheusProvider({ address: server.address }).query(instant('q', 300));
        expectError(outcome, 'timeout', /within 300ms/);
      },
    );
  });

  test('connection refused: unreachable', async () => {
    const server = await fakeProm(() => undefined);
    const address = server.address;
    await server.close();
    const outcome = await new PrometheusProvider({ address }).query(instant());
    expectError(outcome, 'unreachable', /ECONNREFUSED/);
  });

  test('invalid address: config error', async () => {
    expectError(
      await new PrometheusProvider({ address: 'ftp://127.0.0.1' }).query(instant()),
      'config',
      /invalid address "ftp:\/\/127.0.0.1": unsupported scheme ftp:/,
    );
    expectError(await new PrometheusProvider({ address: 'not a url' }).query(instant()), 'config', /invalid address/);
  });

  test('a path prefix in the address is kept; configured and per-query headers are sent', async () => {
    await withServer(
      success({ resultType: 'scalar', result: [1, '1'] }),
      async (server) => {
        const outcome = await new PrometheusProvider({ address: `${server.address}/`, headers: { 'X-Scope-OrgID': 'team-a' } }).query({
          ...instant(),
          headers: { 'X-Extra': '1' },
        });
        assert.ok(outcome.ok);
        assert.equal(server.requests[0]?.path, '/prometheus/api/v1/query');
        assert.equal(server.requests[0]?.headers['x-scope-orgid'], 'team-a');
        assert.equal(server.requests[0]?.headers['x-extra'], '1');
      },
      '/prometheus',
    );
  });

  test('warnings are passed on', async () => {
    const { outcome } = await queryOnce(
      json(200, { status: 'success', data: { resultType: 'scalar', result: [1, '1'] }, warnings: ['PromQL info: metric might not be a counter'] }),
    );
    assert.deepEqual(outcome, { ok: true, result: { type: 'scalar', value: 1 }, warnings: ['PromQL info: metric might not be a counter'] });
  });

  test('a reply that is not a Prometheus answer is described, never echoed', async () => {
    const cases: Array<[Handler, string, RegExp]> = [
      [
        (_req, res) => {
          res.writeHead(200, { 'content-type': 'text/html' });
          res.end('<html><title>Admin</title><body>token=INTERNAL-SECRET</body></html>');
        },
        'badResponse',
        /^expected JSON from the Prometheus API, got an HTML page \(text\/html, \d+ bytes\): is the address/,
      ],
      [
        (_req, res) => {
          res.writeHead(401, { 'content-type': 'text/plain' });
          res.end('denied for INTERNAL-SECRET');
        },
        'http',
        /^HTTP 401 Unauthorized: a text\/plain body of \d+ bytes \(check provider.prometheus.authentication/,
      ],
      [json(200, { INTERNAL: 'SECRET', rows: [1, 2] }), 'badResponse', /^not a Prometheus API reply/],
      [json(500, { status: 'error', error: 'INTERNAL-SECRET' }), 'http', /^HTTP 500 Internal Server Error$/],
      [json(200, { status: 'success', data: { resultType: 'vector', result: [{ value: [1, 'INTERNAL-SECRET'.repeat(10)] }] } }), 'badResponse', /not a number/],
    ];
    for (const [handler, kind, message] of cases) {
      const { outcome } = await queryOnce(handler);
      expectError(outcome, kind, message);
      assert.ok(
        !JSON.stringify(outcome).includes('INTERNAL-SECRET'.repeat(2)) && !JSON.stringify(outcome).includes('INTERNAL-SECRET<'),
        JSON.stringify(outcome),
      );
      if (kind !== 'badResponse' || !/not a number/.test(message.source)) assert.ok(!JSON.stringify(outcome).includes('SECRET'), JSON.stringify(outcome));
    }
  });

  test('userinfo in the address never appears in a message', async () => {
    const server = await fakeProm(() => undefined);
    const port = new URL(server.address).port;
    await server.close();
    const refused = await new PrometheusProvider({ address: `http://user:S3CRET@127.0.0.1:${port}` }).query(instant());
    expectError(refused, 'unreachable', /^http:\/\/\*\*\*@127\.0\.0\.1:\d+: .*ECONNREFUSED/);
    const bad = await new PrometheusProvider({ address: 'ftp://user:S3CRET@127.0.0.1' }).query(instant());
    expectError(bad, 'config', /^invalid address "ftp:\/\/\*\*\*@127\.0\.0\.1"/);
    await withServer(
      () => undefined,
      async (s) => {
        const slow = await new PrometheusProvider({ address: s.address.replace('http://', 'http:///S3CRET@') }).query(instant('q', 200));
        expectError(slow, 'timeout', /^no answer from http:\/\/\/\*\*\*@127\.0\.0\.1:\d+ within 200ms/);
      },
    );
    for (const o of [refused, bad]) assert.ok(!JSON.stringify(o).includes('S3CRET'));
  });

  test('the timeout is capped at MAX_QUERY_TIMEOUT_MS, also the one sent to Prometheus', async () => {
    const { server } = await queryOnce(success({ resultType: 'scalar', result: [1, '1'] }), instant('q', 3_600_000));
    assert.equal(server.requests[0]?.params.get('timeout'), `${MAX_QUERY_TIMEOUT_MS / 1000}s`);
  });

  test('a reply larger than MAX_REPLY_BYTES is refused while it arrives', async () => {
    let sent = 0;
    const { outcome } = await queryOnce(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"status":"success","data":{"resultType":"vector","result":[');
        const chunk = `{"metric":{"a":"${'x'.repeat(1000)}"},"value":[1,"1"]},`;
        const more = () => {
          while (sent < MAX_REPLY_BYTES + 1_000_000) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end('{"metric":{},"value":[1,"1"]}]}}');
        };
        res.on('error', () => undefined);
        more();
      },
      instant('q', 20_000),
    );
    expectError(outcome, 'badResponse', new RegExp(`^reply larger than ${MAX_REPLY_BYTES} bytes`));
  });

  test('a redirect is not followed (it could lead outside the address policy, with the headers): an http error naming it', async () => {
    await withServer(success({ resultType: 'scalar', result: [1, '1'] }), async (elsewhere) => {
      const redirect: Handler = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.address}/api/v1/query` });
        res.end();
      };
      await withServer(redirect, async (server) => {
        const outcome = await new PrometheusProvider({ address: server.address, headers: { 'X-Api-Key': 'secret-key' } }).query(instant());
        expectError(outcome, 'http', /HTTP 302.*redirect.*not followed/i);
        assert.equal(elsewhere.requests.length, 0, 'nothing was sent where the redirect pointed');
      });
    });
  });

  test('parsePrometheusNumber', () => {
    assert.equal(parsePrometheusNumber('1.5e-3'), 0.0015);
    assert.equal(parsePrometheusNumber('+Inf'), Infinity);
    assert.equal(parsePrometheusNumber(''), undefined);
    assert.equal(parsePrometheusNumber('0x10'), undefined);
  });
});

describe('metrics provider factory', () => {
  const secret = (name: string, data: Record<string, string>): KubeObject => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'ns', labels: { 'sluice.dev/allow-analysis': 'true' } },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  const kube = (secrets: KubeObject[]) => ({
    get: async <T extends KubeObject>(kind: { plural: string }, ns: string | undefined, name: string) => {
      assert.equal(kind.plural, kinds.secret.plural);
      return secrets.find((s) => s.metadata?.name === name && ns === 'ns') as T | undefined;
    },
  });

  test('unknown provider type is an error, never a fallback', async () => {
    const f = createMetricsProviderFactory({ secrets: new KubeSecretReader(kube([])) });
    const r = await f.forMetric({ datadog: { query: 'x' } } as never, 'ns');
    assert.deepEqual(r, { ok: false, error: { kind: 'config', message: 'unknown metrics provider "datadog"; supported: prometheus, web' } });
    const none = await f.forMetric({}, 'ns');
    assert.deepEqual(none, { ok: false, error: { kind: 'config', message: 'no provider set; supported: prometheus, web' } });
  });

  test('basic auth from a Secret (trailing newline dropped), custom header from a Secret', async () => {
    await withServer(success({ resultType: 'scalar', result: [1, '1'] }), async (server) => {
      const f = createMetricsProviderFactory({
        secrets: new KubeSecretReader(kube([secret('prom', { user: 'sluice', password: 'pa:ss\n', tenant: 'team-a' })])),
      });
      const made = await f.forMetric(
        {
          prometheus: {
            address: server.address,
            query: 'q',
            headers: [
              { key: 'X-Scope-OrgID', valueFrom: { secretKeyRef: { name: 'prom', key: 'tenant' } } },
              { key: 'X-Plain', value: 'p' },
            ],
            authentication: {
              basic: { username: { secretKeyRef: { name: 'prom', key: 'user' } }, password: { secretKeyRef: { name: 'prom', key: 'password' } } },
            },
          },
        },
        'ns',
      );
      assert.ok(made.ok);
      assert.ok((await made.provider.query(instant())).ok);
      const headers = server.requests[0]?.headers ?? {};
      assert.equal(headers.authorization, `Basic ${Buffer.from('sluice:pa:ss').toString('base64')}`);
      assert.equal(headers['x-scope-orgid'], 'team-a');
      assert.equal(headers['x-plain'], 'p');
    });
  });

  test('bearer token from a Secret', async () => {
    await withServer(success({ resultType: 'scalar', result: [1, '1'] }), async (server) => {
      const f = createMetricsProviderFactory({ secrets: new KubeSecretReader(kube([secret('prom', { token: 'abc123' })])) });
      const made = await f.forMetric(
        { prometheus: { address: server.address, query: 'q', authentication: { bearer: { token: { secretKeyRef: { name: 'prom', key: 'token' } } } } } },
        'ns',
      );
      assert.ok(made.ok);
      await made.provider.query(instant());
      assert.equal(server.requests[0]?.headers.authorization, 'Bearer abc123');
    });
  });

  test('missing Secret or key: a config error naming it', async () => {
    const f = createMetricsProviderFactory({ secrets: new KubeSecretReader(kube([secret('prom', { token: 'abc' })])) });
    const gone = await f.forMetric(
      { prometheus: { address: 'http://127.0.0.1:1', query: 'q', authentication: { bearer: { token: { secretKeyRef: { name: 'nope', key: 'token' } } } } } },
      'ns',
    );
    assert.deepEqual(gone, { ok: false, error: { kind: 'config', message: 'authentication.bearer.token: Secret ns/nope not found' } });
    const key = await f.forMetric(
      { prometheus: { address: 'http://127.0.0.1:1', query: 'q', headers: [{ key: 'X-A', valueFrom: { secretKeyRef: { name: 'prom', key: 'tenant' } } }] } },
      'ns',
    );
    assert.deepEqual(key, { ok: false, error: { kind: 'config', message: 'header X-A: Secret ns/prom has no key "tenant"' } });
  });

  test('a Secret that has not opted in to analysis is never read for it: a config error naming the label', async () => {
    const plain: KubeObject = { ...secret('prom', { token: 'abc' }), metadata: { name: 'prom', namespace: 'ns' } };
    const f = createMetricsProviderFactory({ secrets: new KubeSecretReader(kube([plain])) });
    const r = await f.forMetric(
      { prometheus: { address: 'http://127.0.0.1:1', query: 'q', authentication: { bearer: { token: { secretKeyRef: { name: 'prom', key: 'token' } } } } } },
      'ns',
    );
    assert.equal(r.ok, false);
    assert.match(r.ok ? '' : r.error.message, /Secret ns\/prom is not allowed for analysis: a Secret opts in with the label sluice\.dev\/allow-analysis=true/);
  });

  test('an address outside the controller policy is refused before any Secret is read', async () => {
    let reads = 0;
    const counting = { get: async () => (reads++, undefined) };
    const policy = parseAddressPolicy(['prometheus.monitoring:9090']);
    assert.ok(policy.ok);
    const f = createMetricsProviderFactory({ secrets: new KubeSecretReader(counting), allowedAddresses: policy.value });
    const auth = { bearer: { token: { secretKeyRef: { name: 'prom', key: 'token' } } } };
    const refused = await f.forMetric({ prometheus: { address: 'http://user:pw@collector.evil.example/', query: 'q', authentication: auth } }, 'ns');
    assert.deepEqual(refused, {
      ok: false,
      error: {
        kind: 'config',
        message: "address http://***@collector.evil.example/ is not allowed by this controller's policy (--analysis-allowed-addresses)",
      },
    });
    assert.equal(reads, 0);
    const allowed = await f.forMetric({ prometheus: { address: 'http://prometheus.monitoring:9090', query: 'q' } }, 'ns');
    assert.equal(allowed.ok, true);
  });

  test('API errors reading a Secret are config errors, not crashes', async () => {
    const f = createMetricsProviderFactory({
      secrets: new KubeSecretReader({
        get: async () => {
          throw new Error('forbidden');
        },
      }),
    });
    const r = await f.forMetric(
      { prometheus: { address: 'http://x', query: 'q', authentication: { bearer: { token: { secretKeyRef: { name: 's', key: 'k' } } } } } },
      'ns',
    );
    assert.deepEqual(r, { ok: false, error: { kind: 'config', message: 'cannot read Secret ns/s: forbidden' } });
  });
});

// --- The real Prometheus (Debian's package), when installed

const promBin = spawnSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).stdout.trim();

describe(
  'PrometheusProvider against the real prometheus',
  { skip: promBin ? false : 'prometheus is not installed (apt-get install prometheus); skipped' },
  () => {
    let child: ChildProcess | undefined;
    let dir = '';
    let address = '';
    let output = '';

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sluice-prom-'));
      writeFileSync(join(dir, 'prometheus.yml'), 'global:\n  scrape_interval: 1s\nscrape_configs: []\n');
      const port = await new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const p = (s.address() as AddressInfo).port;
          s.close(() => resolve(p));
        });
      });
      address = `http://127.0.0.1:${port}`;
      child = spawn(
        promBin,
        [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      // Poll readiness until a deadline; fail at once with the log if prometheus exits.
      const deadline = Date.now() + 30_000;
      const proc = child;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`prometheus exited ${proc.exitCode}:\n${output.slice(-2000)}`);
        const ready = await fetch(`${address}/-/ready`, { signal: AbortSignal.timeout(1000) }).then(
          (r) => r.ok,
          () => false,
        );
        if (ready) break;
        if (Date.now() > deadline) throw new Error(`prometheus not ready within 30s:\n${output.slice(-2000)}`);
        await setTimeoutPromise(100);
      }
    });

    after(async () => {
      if (child && child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child?.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child?.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const q = (query: string, kind: 'instant' | 'range' = 'instant') =>
      new PrometheusProvider({ address }).query({
        kind,
        query,
        timeoutMs: 5000,
        time: new Date(),
        ...(kind === 'range' ? { range: { start: new Date(Date.now() - 60_000), end: new Date(), stepMs: 10_000 } } : {}),
      });

    test('vector', async () => assert.deepEqual(await q('vector(0.5)'), { ok: true, result: { type: 'vector', series: [{ labels: {}, value: 0.5 }] } }));
    test('scalar +Inf and NaN', async () => {
      assert.deepEqual(await q('scalar(vector(1)) / 0'), { ok: true, result: { type: 'scalar', value: Infinity } });
      const nan = await q('scalar(vector(0)) / 0');
      assert.ok(nan.ok && nan.result.type === 'scalar' && Number.isNaN(nan.result.value));
    });
    test('empty vector', async () => assert.deepEqual(await q('no_such_metric_sluice_test'), { ok: true, result: { type: 'vector', series: [] } }));
    test('syntax error from Prometheus', async () => expectError(await q('sum(rate(x[1m])'), 'queryError', /^bad_data: .*parse error/));
    test('subquery (matrix) for an instant query', async () => expectError(await q('vector(1)[1m:10s]'), 'badResponse', /range vector \(matrix\)/));
    test('range query', async () => {
      const r = await q('vector(2)', 'range');
      assert.ok(r.ok && r.result.type === 'matrix');
      if (r.ok && r.result.type === 'matrix') assert.ok(r.result.series[0]?.values.every((v) => v === 2) && (r.result.series[0]?.values.length ?? 0) >= 6);
    });
  },
);
