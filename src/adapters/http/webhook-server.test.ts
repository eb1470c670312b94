// The webhook receiver over real HTTP on 127.0.0.1.
import { KubeSecretReader } from '../../controller/runtime/secret-reader.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request } from 'node:http';
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { kinds } from '../../ports/kube.ts';
import { parseWebhookPath, startWebhookServer, webhookSecretResolver, type WebhookServer } from './webhook-server.ts';

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
      perClientBurst: 1000,
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
    assert.match(res.body.message, /^unauthorized: sign the body/);
    assert.deepEqual(resolved, []);
    assert.deepEqual(triggered, []);
  });

  test('unknown GitSyncs are 401 (as a bad signature), bad paths 404, other methods 405', async () => {
    assert.equal((await post('/hooks/gitsync/team/other', push, { 'x-github-event': 'push', 'x-hub-signature-256': sign(push) })).status, 401);
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
  test('parseWebhookPath accepts namespace/name only', () => {
    assert.deepEqual(parseWebhookPath('/hooks/gitsync/team/app'), { namespace: 'team', name: 'app' });
    assert.deepEqual(parseWebhookPath('/hooks/gitsync/team/app/?x=1'), { namespace: 'team', name: 'app' });
    assert.equal(parseWebhookPath('/hooks/gitsync/team'), undefined);
    assert.equal(parseWebhookPath('/hooks/gitsync/team/app/extra'), undefined);
    assert.equal(parseWebhookPath('/hooks/gitsync/TEAM/app'), undefined);
    assert.equal(parseWebhookPath('//['), undefined);
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

describe('webhook receiver hardening', () => {
  const push = JSON.stringify({ ref: 'refs/heads/main' });
  const started: WebhookServer[] = [];
  after(async () => {
    for (const s of started) await s.close();
  });
  async function start(extra: Partial<Parameters<typeof startWebhookServer>[0]> = {}) {
    const triggered: string[] = [];
    const server = await startWebhookServer({
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      maxBodyBytes: 4096,
      resolveSecret: async (ns, name) => (ns === 'team' && name === 'app' ? SECRET : undefined),
      trigger: (ns, name) => void triggered.push(`${ns}/${name}`),
      ...extra,
    });
    started.push(server);
    return { server, triggered };
  }
  /** Sends raw bytes; resolves with what came back once the server closes the connection or `ms` pass. */
  function raw(server: WebhookServer, data: string, ms = 3000): Promise<{ text: string; closed: boolean }> {
    return new Promise((resolve) => {
      const socket = connect(server.port, '127.0.0.1');
      let text = '';
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ text, closed: false });
      }, ms);
      socket.on('data', (d) => (text += String(d)));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve({ text, closed: true });
      });
      socket.on('error', () => undefined);
      socket.write(data);
    });
  }
  const answer = async (url: string, path: string, headers: Record<string, string>, body = push) => {
    const res = await fetch(`${url}${path}`, { method: 'POST', body, headers });
    return { status: res.status, body: await res.text() };
  };

  test('a request target no URL parser reads is 404, not 500', async () => {
    const { server } = await start();
    const { text } = await raw(server, 'POST //[ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.match(text, /^HTTP\/1\.1 404 /);
  });

  test('an unknown GitSync, one without a webhook, an unsigned request and a bad signature get the same answer', async () => {
    const { server, triggered } = await start();
    const answers = [
      await answer(server.url, '/hooks/gitsync/team/other', { 'x-github-event': 'push', 'x-hub-signature-256': sign(push) }),
      await answer(server.url, '/hooks/gitsync/team/plain', { 'x-github-event': 'push', 'x-hub-signature-256': sign(push) }),
      await answer(server.url, '/hooks/gitsync/team/app', { 'x-github-event': 'push', 'x-hub-signature-256': sign(push, 'guess') }),
      await answer(server.url, '/hooks/gitsync/team/app', { 'x-github-event': 'push' }),
      await answer(server.url, '/hooks/gitsync/nope/x', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'guess' }),
      await answer(server.url, '/hooks/gitsync/team/app', { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'guess' }),
    ];
    for (const a of answers) assert.deepEqual(a, answers[0]);
    assert.equal(answers[0]?.status, 401);
    assert.deepEqual(triggered, []);
  });

  test("GitLab's token is checked before the body is read: a wrong token is answered at once", async () => {
    const { server } = await start();
    const { text } = await raw(
      server,
      'POST /hooks/gitsync/team/app HTTP/1.1\r\nHost: x\r\nX-Gitlab-Event: Push Hook\r\nX-Gitlab-Token: guess\r\nContent-Length: 4000\r\n\r\n{"partial":',
      2000,
    );
    assert.match(text, /^HTTP\/1\.1 401 /, 'answered without waiting for the 4000 bytes announced');
  });

  test('a replayed delivery is acknowledged but triggers nothing; another delivery does', async () => {
    const { server, triggered } = await start();
    const headers = (id: string) => ({ 'x-github-event': 'push', 'x-hub-signature-256': sign(push), 'x-github-delivery': id });
    assert.equal((await answer(server.url, '/hooks/gitsync/team/app', headers('d-1'))).status, 202);
    const again = await answer(server.url, '/hooks/gitsync/team/app', headers('d-1'));
    assert.equal(again.status, 200);
    assert.match(again.body, /already handled/);
    assert.equal((await answer(server.url, '/hooks/gitsync/team/app', headers('d-2'))).status, 202);
    const gitlab = { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': SECRET, 'x-gitlab-event-uuid': 'u-1' };
    assert.equal((await answer(server.url, '/hooks/gitsync/team/app', gitlab)).status, 202);
    assert.equal((await answer(server.url, '/hooks/gitsync/team/app', gitlab)).status, 200);
    // A forged request reusing a delivery id (bad signature) neither triggers nor burns the id.
    assert.equal((await answer(server.url, '/hooks/gitsync/team/app', { ...headers('d-3'), 'x-hub-signature-256': sign('x') })).status, 401);
    assert.equal((await answer(server.url, '/hooks/gitsync/team/app', headers('d-3'))).status, 202);
    assert.deepEqual(triggered, ['team/app', 'team/app', 'team/app', 'team/app']);
  });

  test('more requests than a client may send are 429', async () => {
    const { server } = await start({ perClientBurst: 3, perClientPerSecond: 0.001 });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await answer(server.url, '/hooks/gitsync/team/app', { 'x-github-event': 'push', 'x-hub-signature-256': sign(push), 'x-github-delivery': `r${i}` }))
          .status,
      );
    assert.deepEqual(statuses, [202, 202, 202, 429, 429]);
  });

  test('connections over the cap are closed at once', async () => {
    const { server } = await start({ maxConnections: 2 });
    const held = [connect(server.port, '127.0.0.1'), connect(server.port, '127.0.0.1')];
    await Promise.all(held.map((s) => new Promise((resolve) => s.once('connect', resolve))));
    const third = await raw(server, 'POST /hooks/gitsync/team/app HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n', 2000);
    for (const s of held) s.destroy();
    assert.equal(third.closed, true);
    assert.equal(third.text, '', 'dropped without an answer');
  });

  test('a request that trickles in is cut off at the request deadline (slowloris)', async () => {
    const { server } = await start({ requestTimeoutMs: 300, headersTimeoutMs: 200 });
    const t = Date.now();
    const slowHeaders = await raw(server, 'POST /hooks/gitsync/team/app HTTP/1.1\r\nHost: x\r\n', 4000);
    assert.equal(slowHeaders.closed, true, 'headers that never end');
    const slowBody = await raw(
      server,
      `POST /hooks/gitsync/team/app HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: ${sign(push)}\r\nContent-Length: 100\r\n\r\n{`,
      4000,
    );
    assert.equal(slowBody.closed, true, 'a body that never ends');
    assert.ok(Date.now() - t < 6000);
  });

  test('a sender that goes away mid-body ends the request (nothing left waiting, nothing triggered)', async () => {
    const { logger, lines } = capturingLogger();
    const { server, triggered } = await start({ logger });
    const socket = connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST /hooks/gitsync/team/app HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: ${sign(push)}\r\nContent-Length: 100\r\n\r\n{"ref":`);
    await new Promise((resolve) => setTimeout(resolve, 50)).then(() => socket.destroy());
    const deadline = Date.now() + 3000;
    while (!lines.join('').includes('closed the connection before the end of the body') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.match(lines.join(''), /closed the connection before the end of the body/);
    assert.deepEqual(triggered, []);
  });

  test('webhook Secrets are read through a cache, not once per request', async () => {
    let reads = 0;
    const kube = new FakeKube();
    await kube.create(kinds.secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'hook', namespace: 'team' },
      data: { token: Buffer.from(SECRET).toString('base64') },
    });
    const reader = new KubeSecretReader(kube);
    const counting: SecretReader = { read: async (ns, name, use) => (reads++, reader.read(ns, name, use)), readAll: reader.readAll.bind(reader) };
    const gitSync = {
      apiVersion: 'sluice.dev/v1alpha1',
      kind: 'GitSync',
      metadata: { name: 'app', namespace: 'team' },
      spec: { url: 'https://example.com/r.git', webhook: { secretRef: { name: 'hook' } } },
    };
    const { server, triggered } = await start({
      resolveSecret: webhookSecretResolver(counting, (ns, name) => (ns === 'team' && name === 'app' ? gitSync : undefined)),
    });
    for (let i = 0; i < 10; i++)
      await answer(server.url, '/hooks/gitsync/team/app', { 'x-github-event': 'push', 'x-hub-signature-256': sign(push), 'x-github-delivery': `c${i}` });
    assert.equal(triggered.length, 10);
    assert.equal(reads, 1);
  });
});
