import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { loadKubeConfig } from './client.ts';

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
      assert.equal(loadKubeConfig().getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    });
    withEnv({ KUBECONFIG: join(dir, 'missing'), KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.throws(() => loadKubeConfig(), /none of the files in KUBECONFIG exist/);
    });
    withEnv({ KUBECONFIG: undefined, HOME: dir, KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.throws(() => loadKubeConfig(), /no kubeconfig found: set KUBECONFIG or --kubeconfig/);
    });
    assert.throws(() => loadKubeConfig(join(dir, 'nope')), /cannot read kubeconfig .*nope/);
    assert.equal(loadKubeConfig(file).getCurrentCluster()?.server, 'https://127.0.0.1:6443');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kubeconfig: --context picks another context of the file, and an unknown one is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-kc-'));
  try {
    const file = join(dir, 'config');
    writeFileSync(file, KUBECONFIG);
    const kc = loadKubeConfig(file, { context: 'y' });
    assert.equal(kc.getCurrentCluster()?.server, 'https://127.0.0.2:6443');
    assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'team-y');
    assert.equal(loadKubeConfig(file).getCurrentCluster()?.server, 'https://127.0.0.1:6443');
    assert.throws(() => loadKubeConfig(file, { context: 'z' }), /context "z" not found in the kubeconfig \(contexts: x, y\)/);
    withEnv({ KUBECONFIG: file, KUBERNETES_SERVICE_HOST: undefined }, () => {
      assert.equal(loadKubeConfig(undefined, { context: 'y' }).getCurrentCluster()?.server, 'https://127.0.0.2:6443');
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
