// Web metrics in the pure core: checking and compiling them, their args, and the verdict on a
// JSON reply (Argo Rollouts' webmetric test cases, with conditions in CEL).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Metric, WebProvider } from '../../api/analysis.ts';
import { MASK } from '../shared/mask.ts';
import type { ArgValue } from './args.ts';
import { compileMetrics, type CompiledMetric } from './compile.ts';
import type { JsonValue } from './json-path.ts';
import type { MetricQueryOutcome } from './metric-query.ts';
import { assessMeasurement } from './verdicts.ts';
import { substituteWeb } from './web-request.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const ctx = { query: 'GET http://127.0.0.1:1/x', startedAt: T0, finishedAt: new Date(T0.getTime() + 5) };

function webMetric(web: Partial<WebProvider> = {}, over: Partial<Metric> = {}): Metric {
  return { name: 'webmetric', successCondition: 'result == true', provider: { web: { url: 'http://127.0.0.1:1/x', ...web } }, ...over };
}

type Args = Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }>;

function compiled(metrics: Metric[], args: Args = []) {
  const literal = new Map(args.flatMap((a) => (a.value !== undefined ? [[a.name, { value: a.value, secret: false }] as const] : [])));
  return compileMetrics({ metrics, args }, literal);
}

function compileOne(m: Metric, args: Args = []): CompiledMetric {
  const r = compiled([m], args);
  if (!r.ok) throw new Error(r.error);
  return r.value[0] as CompiledMetric;
}

const json = (document: JsonValue): MetricQueryOutcome => ({ ok: true, result: { type: 'json', document } });

describe('web metrics: checked before anything is measured', () => {
  test('a valid metric compiles: provider web, the default timeout (10s, as Argo), the default jsonPath {$}', () => {
    const c = compileOne(webMetric());
    assert.equal(c.provider, 'web');
    assert.equal(c.kind, 'instant');
    assert.equal(c.timeoutMs, 10_000);
    assert.equal(c.jsonPath?.source, '{$}');
    assert.equal(compileOne(webMetric({ timeoutSeconds: 20, jsonPath: '{$.data.ok}' })).timeoutMs, 20_000);
    assert.equal(compileOne(webMetric({ timeoutSeconds: 0 })).timeoutMs, 10_000, '0 is the default, as Argo');
  });

  const problems = (metrics: Metric[], args: Args = []) => {
    const r = compiled(metrics, args);
    return r.ok ? '' : r.error;
  };
  const table: Array<[string, Metric[], RegExp, Args?]> = [
    ['a timeout over the maximum', [webMetric({ timeoutSeconds: 300 })], /^metric webmetric: timeoutSeconds 300 is longer than the maximum of 120$/],
    ['a body with GET', [webMetric({ body: 'x' })], /body and jsonBody need method POST or PUT/],
    ['both bodies', [webMetric({ method: 'POST', body: 'x', jsonBody: { a: 1 } })], /set body or jsonBody, not both/],
    ['oauth2', [webMetric({ authentication: { oauth2: { tokenUrl: 'https://t' } } })], /web authentication \(oauth2\) is not supported yet/],
    ['a jsonPath that does not parse', [webMetric({ jsonPath: '{$.items[?(@.ok)]}' })], /^metric webmetric: jsonPath "\{\$\.items\[\?\(@\.ok\)\]\}": filters/],
    ['an undeclared arg in the url', [webMetric({ url: 'http://h/{{args.svc}}' })], /url uses \{\{args\.svc\}\}, which is not an arg of the analysis/],
    [
      'an undeclared arg in a header and in jsonBody',
      [webMetric({ method: 'POST', headers: [{ key: 'X-A', value: '{{args.a}}' }], jsonBody: { k: ['{{args.b}}'] } })],
      /header X-A uses \{\{args\.a\}\}, jsonBody uses \{\{args\.b\}\}, which is not an arg/,
    ],
    [
      'an arg from a Secret in jsonPath',
      [webMetric({ jsonPath: '{$.{{args.field}}}' })],
      /jsonPath uses an arg without a literal value/,
      [{ name: 'field', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    ],
    [
      'a url that is not http(s)',
      [webMetric({ url: 'ftp://files.example/x' })],
      /url ftp:\/\/files\.example\/x: only http and https URLs can be called, not ftp:/,
    ],
    ['a url that does not parse', [webMetric({ url: 'http://exa mple.com/health' })], /url http:\/\/exa mple\.com\/health: not a URL/],
    [
      'both providers',
      [{ ...webMetric(), provider: { web: { url: 'http://h' }, prometheus: { address: 'http://p', query: 'up' } } }],
      /more than one provider set \(web, prometheus\)/,
    ],
  ];
  for (const [name, metrics, expected, args] of table) test(name, () => assert.match(problems(metrics, args), expected));

  test('a url made by its args is checked when it is sent: an arg a Rollout passes may stand in for the whole url', () => {
    assert.equal(compileOne(webMetric({ url: '{{args.url-val}}' }), [{ name: 'url-val', value: '0' }]).provider, 'web');
    assert.equal(compileOne(webMetric({ url: 'https://h/{{args.p}}' }), [{ name: 'p', value: 'x y' }]).provider, 'web');
    assert.match(compiled([webMetric({ url: 'ftp://h/{{args.p}}' })], [{ name: 'p', value: 'x' }]).ok ? '' : 'refused', /refused/);
    const r = substituteWeb({ url: '{{args.base}}/health' }, new Map([['base', { value: 'not-a-url', secret: false }]]));
    assert.deepEqual(r, { ok: false, error: 'url not-a-url/health: not a URL (expected e.g. https://metrics.example/api/health)' });
  });

  test('literal args in jsonPath are substituted before it is parsed; args from Secrets may go into url, headers and body', () => {
    const c = compileOne(webMetric({ jsonPath: '{$.{{args.field}}}', url: 'http://h/?token={{args.token}}' }), [
      { name: 'field', value: 'ok' },
      { name: 'token', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ]);
    assert.deepEqual(c.jsonPath?.steps, [{ kind: 'field', name: 'ok' }]);
  });
});

describe('web metrics: args in the request', () => {
  const args = new Map<string, ArgValue>([
    ['service', { value: 'checkout', secret: false }],
    ['base', { value: 'https://metrics.example:8443/api', secret: false }],
    ['token', { value: 's3cr3t-value', secret: true }],
    ['query', { value: 'a b&c', secret: false }],
  ]);

  test('substituted as Argo does (values as they are), the secret masked in what is recorded', () => {
    const r = substituteWeb(
      {
        url: '{{args.base}}/v1/measure?service={{args.service}}&key={{args.token}}',
        method: 'POST',
        headers: [
          { key: 'Authorization', value: 'Bearer {{args.token}}' },
          { key: 'X-From', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
        ],
        jsonBody: { service: '{{args.service}}', nested: { list: ['{{args.service}}', 1, true, null] }, '{{args.service}}-key': 'v' },
      },
      args,
    );
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.value.web.url, 'https://metrics.example:8443/api/v1/measure?service=checkout&key=s3cr3t-value');
    assert.deepEqual(r.value.web.headers, [
      { key: 'Authorization', value: 'Bearer s3cr3t-value' },
      { key: 'X-From', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } },
    ]);
    assert.deepEqual(r.value.web.jsonBody, { service: 'checkout', nested: { list: ['checkout', 1, true, null] }, 'checkout-key': 'v' });
    assert.equal(r.value.display, `POST https://metrics.example:8443/api/v1/measure?service=checkout&key=${MASK}`);
    assert.ok(!JSON.stringify(r.value.display).includes('s3cr3t'));
  });

  test('characters a URL cannot hold are encoded by the URL parser later; & and = keep their meaning', () => {
    const r = substituteWeb({ url: 'http://h/q?x={{args.query}}' }, args);
    assert.ok(r.ok);
    assert.equal(r.value.web.url, 'http://h/q?x=a b&c');
    assert.equal(new URL(r.value.web.url).search, '?x=a%20b&c');
  });

  test('refused: a control character in the url, a line break in a header, a url that is not http(s), an unknown arg', () => {
    const withBreak = new Map<string, ArgValue>([['v', { value: 'a\r\nX-Injected: 1', secret: true }]]);
    const cases: Array<[WebProvider, Map<string, ArgValue>, RegExp]> = [
      [{ url: 'http://h/{{args.v}}' }, withBreak, /^url: contains a control character/],
      [{ url: 'http://h/', headers: [{ key: 'X-A', value: '{{args.v}}' }] }, withBreak, /^header X-A: the value contains a line break or NUL$/],
      [{ url: 'file:///etc/passwd' }, args, /^url file:\/\/\/etc\/passwd: only http and https URLs/],
      [{ url: 'http://h/{{args.nope}}' }, args, /^url: \{\{args\.nope\}\} not defined \(args: service, base, token, query\)$/],
    ];
    for (const [web, values, expected] of cases) {
      const r = substituteWeb(web, values);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.match(r.error, expected);
        assert.ok(!r.error.includes('X-Injected'), 'a value from a Secret is never quoted');
      }
    }
  });

  test('userinfo and token parameters written into the url are redacted in the recorded query', () => {
    const r = substituteWeb({ url: 'https://user:pw@h/x?access_token=abc&x=1' }, args);
    assert.ok(r.ok);
    assert.equal(r.value.display, 'GET https://***@h/x?access_token=***&x=1');
  });

  test('partial: args not given stay placeholders (the address is checked with literal values first)', () => {
    const r = substituteWeb({ url: '{{args.base}}/x?k={{args.token}}' }, new Map([['base', { value: 'http://h', secret: false }]]), { partial: true });
    assert.ok(r.ok);
    assert.equal(r.value.web.url, 'http://h/x?k={{args.token}}');
  });

  test('a jsonBody key "__proto__" stays a key', () => {
    const r = substituteWeb({ url: 'http://h', method: 'PUT', jsonBody: JSON.parse('{"__proto__": {"polluted": true}}') }, args);
    assert.ok(r.ok);
    assert.equal(JSON.stringify(r.value.web.jsonBody), '{"__proto__":{"polluted":true}}');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('web metrics: the verdict on a JSON reply', () => {
  // Argo Rollouts' metricproviders/webmetric tests: reply, jsonPath, conditions -> value and phase.
  const argo: Array<[string, JsonValue, string | undefined, string | undefined, string | undefined, string, string]> = [
    [
      'no jsonPath, matches',
      { a: 1, b: true, c: [1, 2, 3, 4], d: null },
      undefined,
      'result.a > 0 && result.b && result.c.all(x, x < 5) && result.d == null',
      undefined,
      '{"a":1,"b":true,"c":[1,2,3,4],"d":null}',
      'Successful',
    ],
    ['neither condition', { a: 1, b: true }, undefined, 'result.a >= 2 && result.b', 'result.a <= 0 && result.b', '{"a":1,"b":true}', 'Inconclusive'],
    ['int string', { key: [{ key2: { value: '1' } }] }, '{$.key[0].key2.value}', 'int(result) > 0', 'int(result) <= 0', '"1"', 'Successful'],
    ['int string, failing', { key: [{ key2: { value: '0' } }] }, '{$.key[0].key2.value}', 'int(result) > 0', 'int(result) <= 0', '"0"', 'Failed'],
    ['float string', { key: [{ key2: { value: '1.2' } }] }, '{$.key[0].key2.value}', 'double(result) > 1.1', 'double(result) < 1.3', '"1.2"', 'Failed'],
    ['number', { key: [{ key2: { value: 1 } }] }, '{$.key[0].key2.value}', 'result > 0', 'result <= 0', '1', 'Successful'],
    ['negative float', { key: [{ key2: { value: -1.1 } }] }, '{$.key[0].key2.value}', 'result > 0', 'result <= 0', '-1.1', 'Failed'],
    ['string', { key: [{ key2: { value: 'true' } }] }, '{$.key[0].key2.value}', 'result == "true"', 'result == "false"', '"true"', 'Successful'],
    ['bool', { key: [{ key2: { value: false } }] }, '{$.key[0].key2.value}', 'result == true', 'result == false', 'false', 'Failed'],
    ['list', { key: [1, 2, 3, 4, 5, 6] }, '{$.key}', 'result.exists(x, x > 6)', undefined, '[1,2,3,4,5,6]', 'Failed'],
    [
      'map',
      { key: { num: 1.2, bool: true, mapfield: { foo: 'bar' } } },
      '{$.key}',
      'result.num > 1.1 && result.bool && result.mapfield.foo == "bar"',
      undefined,
      '{"bool":true,"mapfield":{"foo":"bar"},"num":1.2}',
      'Successful',
    ],
  ];
  for (const [name, document, jsonPath, success, failure, value, phase] of argo) {
    test(name, () => {
      const c = compileOne(
        webMetric(jsonPath ? { jsonPath } : {}, {
          successCondition: success,
          ...(failure ? { failureCondition: failure } : {}),
        } as Partial<Metric>),
      );
      const m = assessMeasurement(c, json(document), ctx);
      assert.equal(m.phase, phase, m.message);
      assert.equal(m.value, value);
      assert.equal(m.query, ctx.query);
    });
  }

  test('the explanation names the compared value', () => {
    const c = compileOne(webMetric({ jsonPath: '{$.data}' }, { successCondition: 'result.ok && result.successPercent >= 0.90' }));
    const m = assessMeasurement(c, json({ data: { ok: true, successPercent: 0.85 } }), ctx);
    assert.deepEqual(
      [m.phase, m.message, m.condition],
      ['Failed', 'result.successPercent (0.85) < 0.9', 'successCondition: result.ok && result.successPercent >= 0.90'],
    );
  });

  test('a path that selects nothing is an error measurement saying where, never a success', () => {
    const c = compileOne(webMetric({ jsonPath: '{$.data.ok}' }, { successCondition: undefined, failureCondition: 'result == false' } as Partial<Metric>));
    const m = assessMeasurement(c, json({ data: { okay: true } }), ctx);
    assert.equal(m.phase, 'Error');
    assert.equal(m.message, 'bad response: jsonPath {$.data.ok}: .ok not found in $.data (an object with key okay)');
    assert.equal(m.value, undefined);
  });

  test('a selected null is no data: the noDataPolicy decides, Evaluate hands null to the conditions', () => {
    const failureOnly = { successCondition: undefined, failureCondition: 'result == false' } as Partial<Metric>;
    const d = assessMeasurement(compileOne(webMetric({ jsonPath: '{$.ok}' }, failureOnly)), json({ ok: null }), ctx);
    assert.deepEqual([d.phase, d.noData, d.value, d.message], ['Inconclusive', true, 'null', 'no data (null): noDataPolicy Inconclusive']);
    const e = assessMeasurement(compileOne(webMetric({ jsonPath: '{$.ok}' }, { ...failureOnly, noDataPolicy: 'Evaluate' })), json({ ok: null }), ctx);
    assert.equal(e.phase, 'Successful', e.message);
  });

  test('transport errors name no Prometheus', () => {
    const c = compileOne(webMetric());
    const unreachable = assessMeasurement(c, { ok: false, error: { kind: 'unreachable', message: 'http://127.0.0.1:1: connect ECONNREFUSED' } }, ctx);
    assert.equal(unreachable.message, 'unreachable: http://127.0.0.1:1: connect ECONNREFUSED');
    const slow = assessMeasurement(c, { ok: false, error: { kind: 'timeout', message: 'no answer within 10ms' } }, ctx);
    assert.equal(slow.message, 'request timed out: no answer within 10ms');
  });
});
