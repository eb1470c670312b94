// The web metrics provider against HTTP servers on 127.0.0.1 (each closed after its test): the
// request it sends, the replies it accepts and refuses, and whole measurements through the
// provider factory and the analysis core (the address policy, Secrets in headers, conditions).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metric, WebProvider } from '../../api/analysis.ts';
import { parseAddressPolicy } from '../../core/analysis/address-policy.ts';
import { compileMetrics, type CompiledMetric } from '../../core/analysis/compile.ts';
import { assessMeasurement } from '../../core/analysis/verdicts.ts';
import { KubeSecretReader } from '../../controller/runtime/secret-reader.ts';
import type { MetricQueryOutcome, MetricsQuery } from '../../ports/metrics.ts';
import type { KubeObject } from '../../ports/kube.ts';
import { createMetricsProviderFactory, type MetricsFactoryDeps } from '../prometheus/factory.ts';
import { MAX_JSON_DEPTH, MAX_WEB_REPLY_BYTES, WebMetricProvider } from './web.ts';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;

interface Fake {
  url: string;
  requests: Array<{ method: string; path: string; headers: IncomingMessage['headers']; body: string }>;
  close(): Promise<void>;
}

async function serve(
  handler: Handler,
  make: (l: (req: IncomingMessage, res: ServerResponse) => void) => Server = createServer,
  scheme = 'http',
): Promise<Fake> {
  const requests: Fake['requests'] = [];
  const server = make((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${scheme}://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function withServer(handler: Handler, run: (s: Fake) => Promise<void>): Promise<void> {
  const s = await serve(handler);
  try {
    await run(s);
  } finally {
    await s.close();
  }
}

const reply =
  (status: number, body: unknown, type = 'application/json'): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': type });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
const query = (timeoutMs = 2000): MetricsQuery => ({ kind: 'instant', query: 'GET', timeoutMs, time: new Date('2030-01-01T00:00:00Z') });

async function fetchOnce(url: string, opts: Partial<ConstructorParameters<typeof WebMetricProvider>[0]> = {}, timeoutMs = 2000): Promise<MetricQueryOutcome> {
  return new WebMetricProvider({ url, ...opts }).query(query(timeoutMs));
}

function expectError(outcome: MetricQueryOutcome, kind: string, message: RegExp): string {
  assert.equal(outcome.ok, false, `expected an error, got ${JSON.stringify(outcome)}`);
  if (outcome.ok) return '';
  assert.equal(outcome.error.kind, kind, outcome.error.message);
  assert.match(outcome.error.message, message);
  return outcome.error.message;
}

// Secrets and a factory as the controller builds them.
const secret = (name: string, data: Record<string, string>, labelled = true): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: 'ns', ...(labelled ? { labels: { 'sluice.dev/allow-analysis': 'true' } } : {}) },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});
function factory(secrets: KubeObject[] = [], extra: Partial<MetricsFactoryDeps> = {}) {
  let reads = 0;
  const kube = {
    get: async <T extends KubeObject>(_kind: { plural: string }, ns: string | undefined, name: string) => {
      reads++;
      return secrets.find((s) => s.metadata?.name === name && ns === 'ns') as T | undefined;
    },
  };
  return { factory: createMetricsProviderFactory({ secrets: new KubeSecretReader(kube), ...extra }), reads: () => reads };
}

function compile(metric: Metric): CompiledMetric {
  const r = compileMetrics({ metrics: [metric] }, new Map());
  if (!r.ok) throw new Error(r.error);
  return r.value[0] as CompiledMetric;
}

/** One whole measurement: the factory builds the provider, the core judges its outcome. */
async function measure(web: WebProvider, conditions: Partial<Metric>, f = factory().factory) {
  const metric = { name: 'webmetric', ...conditions, provider: { web } } as Metric;
  const made = await f.forMetric({ web }, 'ns');
  if (!made.ok) return { phase: 'Error', message: made.error.message, value: undefined };
  const outcome = await made.provider.query(query());
  const now = new Date();
  return assessMeasurement(compile(metric), outcome, { query: `GET ${web.url}`, startedAt: now, finishedAt: now });
}

describe('web metrics provider', () => {
  test('GET: the JSON reply is the document; default headers; the configured ones sent', async () => {
    await withServer(reply(200, { data: { ok: true, successPercent: 0.95 } }), async (s) => {
      const outcome = await fetchOnce(`${s.url}/api/v1/measurement?service=checkout`, { headers: { 'X-Scope': 'team-a' } });
      assert.deepEqual(outcome, { ok: true, result: { type: 'json', document: { data: { ok: true, successPercent: 0.95 } } } });
      const r = s.requests[0];
      assert.equal(r?.method, 'GET');
      assert.equal(r?.path, '/api/v1/measurement?service=checkout');
      assert.equal(r?.headers['x-scope'], 'team-a');
      assert.equal(r?.headers['user-agent'], 'sluice-analysis');
      assert.match(String(r?.headers.accept), /application\/json/);
    });
  });

  test('success and failure conditions over the reply (whole measurements)', async () => {
    let percent = 0.95;
    await withServer(
      (_req, res) => reply(200, { data: { ok: true, successPercent: percent } })(_req, res, ''),
      async (s) => {
        const web: WebProvider = { url: `${s.url}/m`, jsonPath: '{$.data}' };
        const conditions = { successCondition: 'result.ok && result.successPercent >= 0.90' };
        const good = await measure(web, conditions);
        assert.deepEqual(
          [good.phase, good.value, good.message],
          ['Successful', '{"ok":true,"successPercent":0.95}', 'result.ok is true and result.successPercent (0.95) >= 0.9'],
        );
        percent = 0.5;
        const bad = await measure(web, conditions);
        assert.deepEqual([bad.phase, bad.message], ['Failed', 'result.successPercent (0.5) < 0.9']);
        const failure = await measure({ ...web, jsonPath: '{$.data.successPercent}' }, { failureCondition: 'result < 0.9' });
        assert.deepEqual([failure.phase, failure.value, failure.message], ['Failed', '0.5', '0.5 < 0.9']);
      },
    );
  });

  test('POST with a body, PUT with a jsonBody (Content-Type set, as Argo Rollouts)', async () => {
    await withServer(reply(200, { ok: true }), async (s) => {
      const { factory: f } = factory();
      const post = await f.forMetric(
        { web: { url: `${s.url}/p`, method: 'POST', body: 'string value', headers: [{ key: 'Content-Type', value: 'text/plain' }] } },
        'ns',
      );
      assert.ok(post.ok);
      assert.ok((await post.provider.query(query())).ok);
      const put = await f.forMetric(
        {
          web: {
            url: `${s.url}/q`,
            method: 'PUT',
            jsonBody: { key1: 'value_1', key2: { nested: [1, true] } },
            headers: [{ key: 'content-type', value: 'text/plain' }],
          },
        },
        'ns',
      );
      assert.ok(put.ok);
      assert.ok((await put.provider.query(query())).ok);
      assert.deepEqual(
        s.requests.map((r) => [r.method, r.headers['content-type'], r.body]),
        [
          ['POST', 'text/plain', 'string value'],
          ['PUT', 'application/json', '{"key1":"value_1","key2":{"nested":[1,true]}}'],
        ],
      );
    });
  });

  test('a reply that is not JSON is an error measurement, described with at most a short snippet; never a success', async () => {
    const cases: Array<[Handler, RegExp]> = [
      [
        reply(200, 'I am OK', 'text/plain'),
        /^expected JSON from http:\/\/127\.0\.0\.1:\d+, got a body of 7 bytes \(text\/plain\) starting "I am OK": a web metric's conditions see JSON only/,
      ],
      [reply(200, `<html><body>${'INTERNAL '.repeat(20)}</body></html>`, 'text/html'), /got an HTML page \(text\/html, \d+ bytes\)/],
      [reply(200, ''), /got an empty body \(application\/json\)/],
      [reply(200, `{"truncated": ${'1'.repeat(100)}`), /got a body of \d+ bytes \(application\/json\) starting "\{\\"truncated\\": 1+…"/],
    ];
    for (const [handler, expected] of cases) {
      await withServer(handler, async (s) => {
        const text = expectError(await fetchOnce(s.url), 'badResponse', expected);
        assert.ok(!text.includes('INTERNAL'), text);
      });
    }
    // whatever the conditions: a failureCondition that plain text would not meet still does not pass
    await withServer(reply(200, 'I am OK', 'text/plain'), async (s) => {
      const m = await measure({ url: s.url }, { failureCondition: 'result == "FAIL"' });
      assert.equal(m.phase, 'Error');
    });
  });

  test('non-2xx is an HTTP error (as Argo Rollouts), with a hint for 401/403/404', async () => {
    await withServer(reply(503, 'down for maintenance', 'text/plain'), async (s) => {
      expectError(
        await fetchOnce(s.url),
        'http',
        /^HTTP 503 Service Unavailable from http:\/\/127\.0\.0\.1:\d+: a body of 20 bytes \(text\/plain\) starting "down for maintenance"$/,
      );
    });
    await withServer(reply(401, { error: 'no' }), async (s) => {
      expectError(await fetchOnce(s.url), 'http', /^HTTP 401 Unauthorized .*\(check the headers and the Secrets they come from\)$/);
    });
    await withServer(reply(404, ''), async (s) => {
      expectError(await fetchOnce(`${s.url}/no/such/path?x=1`), 'http', /\(check the path of the url: http:\/\/127\.0\.0\.1:\d+\/no\/such\/path\)$/);
    });
  });

  test('a request that takes longer than its timeout is a timeout error, by the deadline', async () => {
    await withServer(
      () => undefined, // never answers
      async (s) => {
        const started = Date.now();
        expectError(await fetchOnce(s.url, {}, 300), 'timeout', /^no answer from http:\/\/127\.0\.0\.1:\d+ within 300ms$/);
        const took = Date.now() - started;
        assert.ok(took >= 290 && took < 2000, `${took}ms`);
      },
    );
    // headers on time, the body never finished: the same deadline
    await withServer(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":');
      },
      async (s) => {
        expectError(await fetchOnce(s.url, {}, 300), 'timeout', /within 300ms/);
      },
    );
  });

  test('a redirect is not followed: an HTTP error naming where it points; nothing is sent there', async () => {
    await withServer(reply(200, { ok: true }), async (elsewhere) => {
      const redirect: Handler = (_req, res) => {
        res.writeHead(302, { location: `${elsewhere.url}/steal?token=abc` });
        res.end();
      };
      await withServer(redirect, async (s) => {
        const text = expectError(
          await fetchOnce(`${s.url}/m`, { headers: { Authorization: 'Bearer secret-token' } }),
          'http',
          new RegExp(
            '^HTTP 302 Found from http://127\\.0\\.0\\.1:\\d+: a redirect to http://127\\.0\\.0\\.1:\\d+, not followed ' +
              '\\(it could leave the addresses this controller allows and would carry the request headers\\): set url to the address it points at$',
          ),
        );
        assert.ok(!text.includes('token=abc'), 'only the origin of the target is named');
        assert.equal(elsewhere.requests.length, 0);
      });
    });
  });

  test('a reply larger than MAX_WEB_REPLY_BYTES is refused while it arrives (declared or not)', async () => {
    const big =
      (declare: boolean): Handler =>
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json', ...(declare ? { 'content-length': String(MAX_WEB_REPLY_BYTES + 10) } : {}) });
        res.on('error', () => undefined);
        const chunk = `"${'x'.repeat(64 * 1024)}",`;
        res.write('[');
        let sent = 0;
        const more = () => {
          while (sent < MAX_WEB_REPLY_BYTES + 256 * 1024) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', more);
          }
          res.end('1]');
        };
        more();
      };
    for (const declare of [true, false]) {
      await withServer(big(declare), async (s) => {
        expectError(
          await fetchOnce(s.url, {}, 10_000),
          'badResponse',
          new RegExp(`^reply from http://127\\.0\\.0\\.1:\\d+ larger than ${MAX_WEB_REPLY_BYTES} bytes$`),
        );
      });
    }
  });

  test('JSON nested deeper than MAX_JSON_DEPTH is refused', async () => {
    const deep = `${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`;
    await withServer(reply(200, deep), async (s) => {
      expectError(await fetchOnce(s.url), 'badResponse', /nested more than 64 levels deep/);
    });
    const ok = `${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`;
    await withServer(reply(200, ok), async (s) => assert.ok((await fetchOnce(s.url)).ok));
  });

  test('unreachable, an invalid url, userinfo: messages name the origin only', async () => {
    const s = await serve(reply(200, {}));
    const port = new URL(s.url).port;
    await s.close();
    const text = expectError(
      await fetchOnce(`http://user:S3CRET@127.0.0.1:${port}/path?token=T0KEN`),
      'unreachable',
      /^http:\/\/127\.0\.0\.1:\d+: connect ECONNREFUSED/,
    );
    assert.ok(!text.includes('S3CRET') && !text.includes('T0KEN'));
    expectError(await fetchOnce('ftp://127.0.0.1/x'), 'config', /^invalid url: only http and https/);
  });

  test('secret header values are masked in messages, even when the server echoes them', async () => {
    const echo: Handler = (req, res) => reply(500, `bad key ${String(req.headers['x-api-key'])}`, 'text/plain')(req, res, '');
    await withServer(echo, async (s) => {
      const { factory: f } = factory([secret('api', { key: 'k3y-from-secret\n' })]);
      const made = await f.forMetric({ web: { url: s.url, headers: [{ key: 'X-Api-Key', valueFrom: { secretKeyRef: { name: 'api', key: 'key' } } }] } }, 'ns');
      assert.ok(made.ok);
      assert.ok(made.secrets?.includes('k3y-from-secret'), 'the factory tells the caller what to mask');
      const outcome = await made.provider.query(query());
      const text = expectError(outcome, 'http', /^HTTP 500 Internal Server Error from .*starting "bad key \*\*\*\*\*"$/);
      assert.equal(s.requests[0]?.headers['x-api-key'], 'k3y-from-secret', 'the trailing newline of the Secret value dropped');
      assert.ok(!text.includes('k3y'));
    });
  });

  test('a Secret without the opt-in label is never read for a header: a config error naming the label', async () => {
    const { factory: f } = factory([secret('api', { key: 'x' }, false)]);
    const made = await f.forMetric(
      { web: { url: 'http://127.0.0.1:1', headers: [{ key: 'X-Api-Key', valueFrom: { secretKeyRef: { name: 'api', key: 'key' } } }] } },
      'ns',
    );
    assert.equal(made.ok, false);
    assert.match(made.ok ? '' : made.error.message, /not allowed for analysis: a Secret opts in with the label sluice\.dev\/allow-analysis=true/);
  });

  test('the address policy: a url outside it is refused before any Secret is read, by checkAddress and by forMetric', async () => {
    const policy = parseAddressPolicy(['metrics.internal:8443', '127.0.0.1']);
    assert.ok(policy.ok);
    const { factory: f, reads } = factory([secret('api', { key: 'x' })], { allowedAddresses: policy.value });
    const web: WebProvider = {
      url: 'https://user:pw@collector.evil.example/x',
      headers: [{ key: 'X-Api-Key', valueFrom: { secretKeyRef: { name: 'api', key: 'key' } } }],
    };
    const expected = {
      kind: 'config',
      message: "url https://***@collector.evil.example/x is not allowed by this controller's policy (--analysis-allowed-addresses)",
    };
    assert.deepEqual(f.checkAddress?.({ web }), expected);
    assert.deepEqual(await f.forMetric({ web }, 'ns'), { ok: false, error: expected });
    assert.equal(reads(), 0, 'no Secret read for a refused url');
    assert.equal(f.checkAddress?.({ web: { url: 'https://metrics.internal:8443/m' } }), undefined);
    await withServer(reply(200, true), async (s) => {
      const m = await measure({ url: `${s.url}/ok` }, { successCondition: 'result == true' }, f);
      assert.equal(m.phase, 'Successful', m.message);
    });
  });

  describe('https', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sluice-web-tls-'));
    const made = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { encoding: 'utf8' },
    );
    const skip = made.status === 0 ? false : 'openssl is not installed';
    let server: Fake | undefined;
    before(async () => {
      if (skip) return;
      const options = { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
      server = await serve(reply(200, { major: '1', minor: '33' }), (l) => createTlsServer(options, l), 'https');
    });
    after(async () => {
      await server?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a self-signed certificate is refused unless insecure: true (as Argo Rollouts)', { skip }, async () => {
      const url = `${server?.url}/version`;
      expectError(await fetchOnce(url), 'unreachable', /^https:\/\/127\.0\.0\.1:\d+: TLS: .*self-signed.*insecure: true skips the certificate check$/);
      const m = await measure({ url, insecure: true }, { successCondition: "result.major == '1'" });
      assert.deepEqual([m.phase, m.value], ['Successful', '{"major":"1","minor":"33"}']);
    });
  });
});
