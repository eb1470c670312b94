import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { kinds } from '../../ports/kube.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { loadKubeConfig, RestKubeClient } from './client.ts';
import { kubeconfigFromText } from './kubeconfig.ts';

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:6443"}}, {name: d, cluster: {server: "https://127.0.0.2:6443"}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: x, context: {cluster: c, user: u}}, {name: y, context: {cluster: d, user: u, namespace: team-y}}]
current-context: x
`;

function withEnv(vars: Record<string, string | undefined>, fn: () => void): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  try {
    for (const [k, v] of Object.entries(vars)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

test('kubeconfig: missing files in KUBECONFIG are skipped; none at all is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kc-'));
  try {
    const file = join(dir, 'config');
    writeFileSync(file, KUBECONFIG);
    withEnv({ KUBECONFIG: [join(dir, 'missing'), file].join(delimiter), KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.equal(loadKubeConfig().server, 'https://127.0.0.1:6443');
    });
    withEnv({ KUBECONFIG: join(dir, 'missing'), KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.throws(() => loadKubeConfig(), /none of the files in KUBECONFIG exist/);
    });
    withEnv({ KUBECONFIG: undefined, HOME: dir, KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.throws(() => loadKubeConfig(), /no kubeconfig found: set KUBECONFIG or --kubeconfig/);
    });
    assert.throws(() => loadKubeConfig(join(dir, 'nope')), /cannot read kubeconfig .*nope/);
    assert.equal(loadKubeConfig(file).server, 'https://127.0.0.1:6443');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Polls a condition until it holds (a deadline of 5 s). */
async function waitUntil(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in 5 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A stand-in API server on 127.0.0.1: `handle` answers, every request is recorded. */
async function fakeApiServer(handle: (req: IncomingMessage, res: ServerResponse, url: URL) => void) {
  const requests: Array<{ at: number; method: string; url: URL; socket: unknown }> = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ at: Date.now(), method: req.method ?? '', url, socket: req.socket });
    handle(req, res, url);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const kc = kubeconfigFromText(
    `{clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}], users: [{name: u, user: {}}],
      contexts: [{name: x, context: {cluster: c, user: u}}], current-context: x}`,
    tmpdir(),
  );
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return { kc, requests, close };
}
const sendJson = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('RestKubeClient hardening', () => {
  test('requests reuse their connections (keep-alive), instead of a new connection (and TLS handshake) each', async () => {
    const api = await fakeApiServer((_req, res) => sendJson(res, 200, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'c', namespace: 'ns' } }));
    const sockets = new Set<unknown>();
    try {
      const client = new RestKubeClient(api.kc);
      for (let i = 0; i < 10; i++) await client.get(kinds.service, 'ns', 'c');
      for (const r of api.requests) sockets.add(r.socket);
      assert.equal(api.requests.length, 10);
      assert.equal(sockets.size, 1, `${sockets.size} connections for 10 requests one after the other`);
    } finally {
      await api.close();
    }
  });

  test('informers keep no managedFields, apply their trim, and watch with bookmarks', async () => {
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', namespace: 'ns', resourceVersion: '3', managedFields: [{ manager: 'kubectl', fieldsV1: { 'f:spec': {} } }] },
      spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] },
      status: { phase: 'Running' },
    };
    const api = await fakeApiServer((_req, res, url) => {
      if (url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' }); // held open: no events
        return;
      }
      sendJson(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '5' }, items: [pod] });
    });
    const client = new RestKubeClient(api.kc);
    const informer = client.informer(kinds.pod, {
      trim: (o) => {
        (o as { spec?: unknown }).spec = { nodeName: (o as { spec?: { nodeName?: string } }).spec?.nodeName };
      },
    });
    try {
      await informer.start();
      const cached = informer.get('ns', 'p') as { metadata?: { managedFields?: unknown }; spec?: unknown } | undefined;
      assert.ok(cached);
      assert.equal(cached.metadata?.managedFields, undefined);
      assert.deepEqual(cached.spec, { nodeName: 'n1' });
      await waitUntil(() => api.requests.some((r) => r.url.searchParams.get('watch') === 'true'));
      const watch = api.requests.find((r) => r.url.searchParams.get('watch') === 'true');
      assert.equal(watch?.url.searchParams.get('allowWatchBookmarks'), 'true');
    } finally {
      await informer.stop();
      await api.close();
    }
  });

  test('apiVersion and kind are validated before they go into a request path', async () => {
    const api = await fakeApiServer((_req, res) => sendJson(res, 404, { kind: 'Status', reason: 'NotFound', message: 'no' }));
    try {
      const client = new RestKubeClient(api.kc);
      for (const [apiVersion, kind] of [
        ['../../api/v1', 'Secret'],
        ['v1/../../apis', 'X'],
        ['example.com/v1?watch=1', 'Widget'],
        ['example.com/v1', 'Wid/get'],
        ['example.com/v1', '../secrets'],
        ['', 'Widget'],
        ['Example.com/v1', 'Widget'],
      ]) {
        assert.equal(await client.resolveKind(apiVersion as string, kind as string), undefined, `${apiVersion} ${kind}`);
      }
      assert.deepEqual(api.requests, [], 'nothing was sent for any of them');
      assert.throws(() => client.path({ apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true }, 'ns', '..'), /not a valid name/);
      assert.throws(() => client.path({ apiVersion: 'x/../../y', kind: 'X', plural: 'xs', namespaced: true }, 'ns', 'n'), /not a valid apiVersion/);
      assert.equal(
        client.path({ apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true }, 'ns', 'a b'),
        '/apis/apps/v1/namespaces/ns/deployments/a%20b',
      );
    } finally {
      await api.close();
    }
  });

  test('a kind that is not served yet is looked up again later (a CRD installed after the controller started)', async () => {
    let served = false;
    const api = await fakeApiServer((_req, res, url) => {
      if (url.pathname === '/apis/example.com/v1' && served) return sendJson(res, 200, { resources: [{ name: 'widgets', kind: 'Widget', namespaced: true }] });
      sendJson(res, 404, { kind: 'Status', reason: 'NotFound', message: 'the server could not find the requested resource' });
    });
    try {
      let now = 1_000_000;
      const client = new RestKubeClient(api.kc, { now: () => now });
      assert.equal(await client.resolveKind('example.com/v1', 'Widget'), undefined);
      served = true;
      assert.equal(await client.resolveKind('example.com/v1', 'Widget'), undefined, 'a miss is cached for a while');
      assert.equal(api.requests.length, 1);
      now += 60_000;
      assert.deepEqual(await client.resolveKind('example.com/v1', 'Widget'), {
        apiVersion: 'example.com/v1',
        kind: 'Widget',
        plural: 'widgets',
        namespaced: true,
      });
    } finally {
      await api.close();
    }
  });

  test('an informer backs off exponentially while its list or watch keeps failing', async () => {
    let broken = false;
    const api = await fakeApiServer((_req, res, url) => {
      if (url.searchParams.get('watch') === 'true') {
        // The watch says its resourceVersion is gone, so the informer must list again, which now fails.
        broken = true;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired' } })}\n`);
        return;
      }
      if (broken) return sendJson(res, 500, { kind: 'Status', reason: 'InternalError', message: 'etcd is down' });
      sendJson(res, 200, { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '5' }, items: [] });
    });
    const errors: unknown[] = [];
    const client = new RestKubeClient(api.kc, { onInformerError: (_k, err) => errors.push(err), informerBackoff: { baseMs: 100, maxMs: 1600 } });
    const informer = client.informer(kinds.service);
    try {
      await informer.start();
      const deadline = Date.now() + 8000;
      const lists = () => api.requests.filter((r) => r.method === 'GET' && r.url.searchParams.get('watch') !== 'true');
      while (lists().length < 6 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      const at = lists().map((r) => r.at);
      assert.ok(at.length >= 6, `lists: ${at.length}`);
      const gaps = at.slice(2).map((t, i) => t - (at[i + 1] as number));
      // 100, 200, 400, 800 ms (with jitter): each gap well above the one before.
      for (let i = 1; i < gaps.length; i++) assert.ok((gaps[i] as number) >= 1.4 * (gaps[i - 1] as number), `gaps ${gaps.join(', ')}`);
      assert.ok(errors.length >= 4);
    } finally {
      await informer.stop();
      await api.close();
    }
  });
});

test('kubeconfig: --context picks another context of the file, and an unknown one is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kc-'));
  try {
    const file = join(dir, 'config');
    writeFileSync(file, KUBECONFIG);
    const kc = loadKubeConfig(file, { context: 'y' });
    assert.equal(kc.server, 'https://127.0.0.2:6443');
    assert.equal(kc.namespace, 'team-y');
    assert.equal(loadKubeConfig(file).server, 'https://127.0.0.1:6443');
    assert.throws(() => loadKubeConfig(file, { context: 'z' }), /context "z" not found in the kubeconfig \(contexts: x, y\)/);
    withEnv({ KUBECONFIG: file, KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.equal(loadKubeConfig(undefined, { context: 'y' }).server, 'https://127.0.0.2:6443');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
