// RestKubeClient.impersonate against a stand-in API server on 127.0.0.1: every request of the
// impersonating client carries the headers, the controller's own client carries none.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { kinds, serviceAccountUser } from '../../ports/kube.ts';
import { RestKubeClient } from './client.ts';
import { kubeconfigFromText } from './kubeconfig.ts';

test('impersonate: Impersonate-User (and groups) on every request of that client only', async () => {
  const seen: Array<{ method: string; url: string; headers: IncomingHttpHeaders }> = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'team' }, items: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const config = kubeconfigFromText(
      `{clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}], users: [{name: u, user: {token: controller-token}}],
        contexts: [{name: x, context: {cluster: c, user: u}}], current-context: x}`,
      tmpdir(),
    );
    const controller = new RestKubeClient(config);
    const user = serviceAccountUser('team', 'deployer');
    const asDeployer = controller.impersonate(user);
    assert.equal(controller.impersonate(user), asDeployer, 'one client per identity');
    await asDeployer.get(kinds.secret, 'team', 'creds');
    await asDeployer.patch(kinds.service, 'team', 'web', { spec: {} }, { type: 'apply', fieldManager: 'sluice-gitsync', force: true, dryRun: true });
    await asDeployer.list(kinds.service, 'team');
    await controller.get(kinds.gitSync, 'team', 'apps');
    await controller.impersonate('someone', ['team-a', 'team-b']).delete(kinds.service, 'team', 'web');

    assert.equal(seen.length, 5);
    for (const r of seen.slice(0, 3)) {
      assert.equal(r.headers['impersonate-user'], 'system:serviceaccount:team:deployer', `${r.method} ${r.url}`);
      assert.equal(r.headers['impersonate-group'], undefined, 'a ServiceAccount gets its groups from the API server');
      assert.equal(r.headers.authorization, 'Bearer controller-token', 'authenticated as the controller, authorized as the ServiceAccount');
    }
    assert.equal(seen[3]?.headers['impersonate-user'], undefined, "the controller's own client does not impersonate");
    assert.equal(seen[4]?.headers['impersonate-user'], 'someone');
    assert.equal(seen[4]?.headers['impersonate-group'], 'team-a, team-b');
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("impersonate: an impersonating client's informer lists and watches as that identity", async () => {
  const seen: Array<{ url: string; user: string | string[] | undefined }> = [];
  const server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', user: req.headers['impersonate-user'] });
    res.setHeader('content-type', 'application/json');
    if (req.url?.includes('watch=true')) {
      res.write(''); // an open watch with nothing to say yet
      return;
    }
    res.end(JSON.stringify({ kind: 'ServiceList', metadata: { resourceVersion: '7' }, items: [] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const config = kubeconfigFromText(
    `{clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}], users: [{name: u, user: {token: t}}],
      contexts: [{name: x, context: {cluster: c, user: u}}], current-context: x}`,
    tmpdir(),
  );
  const informer = new RestKubeClient(config).impersonate(serviceAccountUser('team', 'deployer')).informer(kinds.service, { namespace: 'team' });
  try {
    await informer.start();
    const deadline = Date.now() + 5000;
    while (!seen.some((r) => r.url.includes('watch=true'))) {
      if (Date.now() > deadline) throw new Error('no watch request in 5 s');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(seen.length >= 2);
    for (const r of seen) assert.equal(r.user, 'system:serviceaccount:team:deployer', r.url);
  } finally {
    await informer.stop();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
