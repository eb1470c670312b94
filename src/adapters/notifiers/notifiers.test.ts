import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Notification } from '../../api/notification-policy.ts';
import type { ChannelConfig, Delivery } from '../../ports/notifier.ts';
import { createNotifierFactory } from './factory.ts';
import { SIGNATURE_HEADER } from './webhook.ts';

interface Got {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

const n: Notification = {
  id: 'web.0123456789abcdef',
  trigger: 'rollout-aborted',
  triggers: ['rollout-aborted'],
  severity: 'critical',
  reason: 'RolloutAborted',
  message: 'Rollout aborted',
  at: '2026-01-01T00:00:01.000Z',
  object: { kind: 'Rollout', namespace: 'shop', name: 'web' },
  actions: [],
};
const delivery = (kind: Delivery['kind'] = 'notify'): Delivery => ({
  notification: n,
  key: 'web.0123456789abcdef/hook',
  kind,
  enqueuedAt: new Date('2026-01-01T00:05:00Z'),
  now: new Date('2026-01-01T00:05:01Z'),
});

describe('notifiers over HTTP (a receiver on 127.0.0.1)', () => {
  let server: Server;
  let base = '';
  const got: Got[] = [];
  /** path -> status to answer (or 'hang' to never answer). */
  const answers = new Map<string, number | 'hang'>();
  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        got.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const answer = answers.get(path) ?? 200;
        if (answer === 'hang') return;
        res.writeHead(answer, { 'content-type': 'text/plain' });
        res.end(answer === 500 ? `internal error at ${base}${path}` : 'ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  const factory = createNotifierFactory({ alertLifetimeMs: 4 * 3_600_000, apiServerURL: 'https://api.example:6443' });
  const make = (c: Partial<ChannelConfig>) => {
    const made = factory.create({ name: 'hook', type: 'webhook', url: `${base}/hook`, timeoutMs: 2000, ...c });
    assert.ok(made.ok, made.ok ? '' : made.error);
    return made.value;
  };
  const last = () => got.at(-1)!;

  test('webhook: JSON body, Idempotency-Key, HMAC-SHA256 over the exact body', async () => {
    const r = await make({ signingSecret: 's3cret-key' }).send(delivery());
    assert.deepEqual(r, { ok: true, status: 200 });
    const g = last();
    assert.equal(g.headers['idempotency-key'], 'web.0123456789abcdef/hook');
    assert.equal(g.headers['content-type'], 'application/json');
    const expected = `sha256=${createHmac('sha256', 's3cret-key').update(g.body).digest('hex')}`;
    assert.equal(g.headers[SIGNATURE_HEADER.toLowerCase()], expected);
    assert.equal(JSON.parse(g.body).schemaVersion, 'sluice.dev/notification/v1');
    assert.ok(!g.body.includes('s3cret-key'), 'the key is never in the body');
  });

  test('webhook: no signature header without a secret; a bearer token when set', async () => {
    await make({ token: 'tok-123456' }).send(delivery());
    assert.equal(last().headers[SIGNATURE_HEADER.toLowerCase()], undefined);
    assert.equal(last().headers.authorization, 'Bearer tok-123456');
  });

  test('5xx, 429 and 408 are retried; other 4xx are refused for good', async () => {
    for (const [status, retryable] of [
      [500, true],
      [503, true],
      [429, true],
      [408, true],
      [400, false],
      [404, false],
    ] as const) {
      answers.set(`/s${status}`, status);
      const r = await make({ url: `${base}/s${status}` }).send(delivery());
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.retryable, retryable, `HTTP ${status}`);
      assert.equal(!r.ok && r.status, status);
    }
  });

  test('a receiver that does not answer in time is a retryable timeout', async () => {
    answers.set('/hang', 'hang');
    const started = Date.now();
    const r = await make({ url: `${base}/hang`, timeoutMs: 300 }).send(delivery());
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.retryable);
    assert.match(!r.ok ? r.error : '', /no answer within 300ms/);
    assert.ok(Date.now() - started < 2000, 'the deadline holds');
  });

  test('nothing listening: retryable; the error names the origin only', async () => {
    const r = await make({ url: 'http://127.0.0.1:1/services/T0/SECRETPATH' }).send(delivery());
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.retryable);
    assert.ok(!r.ok && !r.error.includes('SECRETPATH'), !r.ok ? r.error : '');
  });

  test('a secret URL echoed back by the receiver is masked in the error', async () => {
    answers.set('/services/T0/B0/XYZSECRET', 500);
    const r = await make({ type: 'slack', url: `${base}/services/T0/B0/XYZSECRET` }).send(delivery());
    assert.ok(!r.ok && !r.error.includes('XYZSECRET'), !r.ok ? r.error : '');
  });

  test('slack: Block Kit body', async () => {
    await make({ type: 'slack', url: `${base}/slack` }).send(delivery());
    const body = JSON.parse(last().body);
    assert.equal(body.blocks[0].type, 'header');
    assert.match(body.text, /Rollout shop\/web aborted/);
  });

  test('alertmanager: POST /api/v2/alerts; endsAt ahead while firing, the close time when resolved', async () => {
    const am = make({ type: 'alertmanager', url: `${base}/am/` });
    await am.send(delivery());
    assert.equal(last().path, '/am/api/v2/alerts');
    const [firing] = JSON.parse(last().body);
    assert.equal(firing.endsAt, '2026-01-01T04:05:01.000Z');
    assert.equal(firing.generatorURL, 'https://api.example:6443/apis/sluice.dev/v1alpha1/namespaces/shop/rollouts/web');
    await am.send(delivery('resolve'));
    const [resolved] = JSON.parse(last().body);
    assert.equal(resolved.endsAt, '2026-01-01T00:05:00.000Z');
    assert.deepEqual(resolved.labels, firing.labels, 'the same alert');
  });

  test('webhook and slack do not post resolves or refreshes (Alertmanager only)', async () => {
    const before = got.length;
    assert.deepEqual(await make({}).send(delivery('resolve')), { ok: true, status: 204 });
    assert.equal(got.length, before);
  });

  test('factory: an unknown type, a non-http URL or credentials in the URL are errors, never a fallback', () => {
    const bad = (c: Partial<ChannelConfig>) => factory.create({ name: 'x', type: 'webhook', url: 'http://127.0.0.1:9/x', timeoutMs: 1000, ...c });
    assert.match((bad({ type: 'pagerduty' }) as { error: string }).error, /unknown type "pagerduty"/);
    assert.match((bad({ url: 'file:///etc/passwd' }) as { error: string }).error, /http or https/);
    assert.match((bad({ url: 'not a url' }) as { error: string }).error, /not a valid URL/);
    assert.match((bad({ url: 'http://user:pw@127.0.0.1/' }) as { error: string }).error, /credentials in the URL/);
  });
});
