// The webhook receiver over real HTTP on 127.0.0.1.
import { KubeSecretReader } from '../../controller/runtime/secret-reader.ts';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { kinds } from '../../ports/kube.ts';
import { parseWebhookPath, startWebhookServer, verifyWebhook, webhookSecretResolver, type WebhookServer } from './webhook-server.ts';

const SECRET = 'hook-secret-0123456789';
const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

describe('webhook receiver', () => {
  let server: WebhookServer;
  const triggered: string[] = [];
  const resolved: string[] = [];
  const { logger, lines } = capturingLogger();

  before(async () => {
    server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      logger,
      maxBodyBytes: 4096,
      resolveSecret: async (ns, name) => {
        resolved.push(`${ns}/${name}`);
        return ns === 'team' && name === 'app' ? SECRET : undefined;
      },
      trigger: (ns, name) => {
        triggered.push(`${ns}/${name}`);
      },
    });
  });
  after(() => server.close());
  beforeEach(() => {
    triggered.length = 0;
    resolved.length = 0;
  });

  const post = async (path: string, body: string, headers: Record<string, string>, method = 'POST') => {
    const res = await fetch(`${server.url}${path}`, { method, body: method === 'GET' ? null : body, headers });
    return { status: res.status, body: (await res.json()) as { message: string } };
  };
  const push = JSON.stringify({ ref: 'refs/heads/main', after: 'abc' });

  test('GitHub: a signed push triggers a sync of that GitSync', async () => {
    const res = await post('/hooks/gitsync/team/app', push, {
      'x-github-event': 'push',
      'x-hub-signature-256': sign(push),
      'content-type': 'application/json',
    });
    assert.equal(res.status, 202);
    assert.deepEqual(triggered, ['team/app']);
  });

  test('GitHub: ping answers without a sync; other events are ignored', async () => {
    assert.equal((await post('/hooks/gitsync/team/app', '{}', { 'x-github-event': 'ping', 'x-hub-signature-256': sign('{}') })).status, 200);
    assert.equal((await post('/hooks/gitsync/team/app', '{}', { 'x-github-event': 'issues', 'x-hub-signature-256': sign('{}') })).status, 202);
    assert.deepEqual(triggered, []);
  });

  test('GitHub: a bad signature, a signature by another secret, or of another body is 401', async () => {
    for (const signature of ['sha256=00', sign(push, 'other-secret'), sign(`${push} `), sign(push).toUpperCase().replace('SHA256', 'sha1')]) {
      const res = await post('/hooks/gitsync/team/app', push, { 'x-github-event': 'push', 'x-hub-signature-256': signature });
      assert.equal(res.status, 401, signature);
    }
    assert.deepEqual(triggered, []);
  });

  test('GitLab: the right token triggers a push; a wrong token is 401; other events ignored', async () => {
    assert.equal((await post('/hooks/gitsync/team/app', push, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET })).status, 202);
    assert.equal((await post('/hooks/gitsync/team/app', push, { 'x-gitlab-event': 'Tag Push Hook', 'x-gitlab-token': SECRET })).status, 202);
    assert.equal((await post('/hooks/gitsync/team/app', push, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': `${SECRET}x` })).status, 401);
    assert.equal((await post('/hooks/gitsync/team/app', push, { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': '' })).status, 401);
    assert.equal((await post('/hooks/gitsync/team/app', push, { 'x-gitlab-event': 'Merge Request Hook', 'x-gitlab-token': SECRET })).status, 202);
    assert.deepEqual(triggered, ['team/app', 'team/app']);
  });

  test('generic: X-Sluice-Signature-256 over the raw body', async () => {
    assert.equal((await post('/hooks/gitsync/team/app', 'deploy please', { 'x-sluice-signature-256': sign('deploy please') })).status, 202);
    assert.equal((await post('/hooks/gitsync/team/app', 'deploy please', { 'x-sluice-signature-256': sign('deploy now') })).status, 401);
    assert.deepEqual(triggered, ['team/app']);
  });

  test('unsigned requests are 401 without even looking the GitSync up', async () => {
    const res = await post('/hooks/gitsync/team/app', push, { 'x-github-event': 'push' });
    assert.equal(res.status, 401);
    assert.match(res.body.message, /unsigned/);
    assert.deepEqual(resolved, []);
    assert.deepEqual(triggered, []);
  });

  test('unknown GitSyncs are 404, bad paths 404, other methods 405', async () => {
    assert.equal((await post('/hooks/gitsync/team/other', push, { 'x-github-event': 'push', 'x-hub-signature-256': sign(push) })).status, 404);
    assert.equal((await post('/hooks/gitsync/Team/../app', push, { 'x-hub-signature-256': sign(push) })).status, 404);
    assert.equal((await post('/elsewhere', push, { 'x-hub-signature-256': sign(push) })).status, 404);
    assert.equal((await post('/hooks/gitsync/team/app', '', {}, 'GET')).status, 405);
    assert.deepEqual(triggered, []);
  });

  test('bodies over the limit are 413 and trigger nothing', async () => {
    const big = 'x'.repeat(10_000);
    const declared = await post('/hooks/gitsync/team/app', big, { 'x-github-event': 'push', 'x-hub-signature-256': sign(big) });
    assert.equal(declared.status, 413);
    // Chunked (no Content-Length): counted while streaming.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        `${server.url}/hooks/gitsync/team/app`,
        { method: 'POST', headers: { 'x-github-event': 'push', 'x-hub-signature-256': sign(big), 'transfer-encoding': 'chunked' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(big.slice(0, 1000));
      req.end();
    });
    assert.equal(status, 413);
    assert.deepEqual(triggered, []);
  });

  test('neither the secret nor signatures appear in the logs', () => {
    const text = lines.join('');
    assert.ok(text.includes('Webhook received'), 'the logger captured the requests');
    assert.ok(!text.includes(SECRET));
    assert.ok(!text.includes(sign(push).slice(7, 30)));
  });
});

describe('webhook pieces', () => {
  test('verifyWebhook without any signature header', () => {
    assert.deepEqual(verifyWebhook({}, Buffer.from(''), SECRET).ok, false);
  });

  test('parseWebhookPath accepts namespace/name only', () => {
    assert.deepEqual(parseWebhookPath('/hooks/gitsync/team/app'), { namespace: 'team', name: 'app' });
    assert.deepEqual(parseWebhookPath('/hooks/gitsync/team/app/?x=1'), { namespace: 'team', name: 'app' });
    assert.equal(parseWebhookPath('/hooks/gitsync/team'), undefined);
    assert.equal(parseWebhookPath('/hooks/gitsync/team/app/extra'), undefined);
    assert.equal(parseWebhookPath('/hooks/gitsync/TEAM/app'), undefined);
  });

  test('webhookSecretResolver reads the key of the Secret named by spec.webhook', async () => {
    const kube = new FakeKube();
    const gitSync = (name: string, webhook?: unknown) => ({
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name, namespace: 'team' },
      spec: { url: 'https://example.com/r.git', ...(webhook ? { webhook } : {}) },
    });
    await kube.create(kinds.gitSync, gitSync('with-hook', { secretRef: { name: 'hook' } }));
    await kube.create(kinds.gitSync, gitSync('custom-key', { secretRef: { name: 'hook', key: 'other' } }));
    await kube.create(kinds.gitSync, gitSync('no-hook'));
    await kube.create(kinds.gitSync, gitSync('missing-secret', { secretRef: { name: 'nope' } }));
    await kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'hook', namespace: 'team' },
      data: { token: Buffer.from(`${SECRET}\n`).toString('base64'), other: Buffer.from('o').toString('base64') },
    });
    const resolve = webhookSecretResolver(new KubeSecretReader(kube), (ns, name) => kube.get(kinds.gitSync, ns, name));
    assert.equal(await resolve('team', 'with-hook'), SECRET);
    assert.equal(await resolve('team', 'custom-key'), 'o');
    assert.equal(await resolve('team', 'no-hook'), undefined);
    assert.equal(await resolve('team', 'missing-secret'), undefined);
    assert.equal(await resolve('team', 'absent'), undefined);
  });
});
