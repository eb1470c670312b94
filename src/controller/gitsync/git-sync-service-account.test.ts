// A GitSync applies as a ServiceAccount of its namespace (impersonation), never with the
// controller's rights: over the fake (which records impersonated requests and can refuse
// them) and real git.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { condition, configMap, configMapKind, services, world, type Cluster, type World } from '../../../test/helpers/git-sync-world.ts';
import { kinds } from '../../ports/kube.ts';
import { reconcileGitSyncByKey } from './git-sync-reconciler.ts';

describe('GitSync runs as a ServiceAccount of its namespace (impersonation), never as the controller', () => {
  const objectsOf = (w: World) => w.kube.impersonated.filter((r) => !/ (gitsyncs|events) /.test(r));

  test('every request about objects, and the credentials Secret, is made as the ServiceAccount; default sluice-gitsync', async () => {
    const w = await world({ secretRef: { name: 'creds' }, url: 'http://127.0.0.1:9/unused.git' });
    try {
      await w.kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'team' }, data: { password: 'cHc=' } });
      await w.reconcile(); // the fetch fails (nothing listens on port 9); the Secret was read as the ServiceAccount first
      assert.deepEqual(objectsOf(w), ['system:serviceaccount:team:sluice-gitsync get secrets team/creds']);
      assert.equal(w.status().lastError?.reason, 'Unreachable');
    } finally {
      await w.cleanup();
    }
    const v = await world({ serviceAccountName: 'deployer' });
    try {
      await v.repo.commit({ 'deploy/config.yaml': configMap('a'), 'deploy/services.yaml': services });
      await v.reconcile();
      assert.equal(v.status().lastError, undefined, v.status().lastError?.message);
      const requests = objectsOf(v);
      assert.ok(requests.length >= 6, requests.join('\n'));
      assert.ok(
        requests.every((r) => r.startsWith('system:serviceaccount:team:deployer ')),
        requests.join('\n'),
      );
      for (const verb of ['get configmaps team/settings', 'dry-run configmaps team/settings', 'patch configmaps team/settings', 'patch services team/web']) {
        assert.ok(
          requests.some((r) => r.endsWith(verb)),
          `${verb} in ${requests.join(', ')}`,
        );
      }
      assert.ok(!v.kube.impersonated.some((r) => / (gitsyncs|events) /.test(r)), "the GitSync's own status and Events are the controller's");
    } finally {
      await v.cleanup();
    }
  });

  test('a ServiceAccount without rights to a kind: a clear Forbidden failure, Stalled, nothing applied; with the rights it syncs', async () => {
    const w = await world({ interval: '10m' });
    try {
      w.kube.authorize = (_user, _verb, kind) => kind.plural !== 'services';
      await w.repo.commit({ 'deploy/config.yaml': configMap('a'), 'deploy/services.yaml': services });
      const result = await w.reconcile();
      const s = w.status();
      assert.equal(s.lastError?.reason, 'Forbidden');
      assert.match(
        s.lastError?.message ?? '',
        /^The sync runs as ServiceAccount team\/sluice-gitsync, which may not get Service team\/web: .*forbidden.*set spec\.serviceAccountName\)$/,
      );
      assert.equal(condition(s, 'Stalled')?.status, 'True', 'retrying cannot help until the rights change');
      assert.equal(result.requeueAfterMs, 600_000, 'a permanent failure waits for the normal interval, not the 60s retry');
      assert.equal(w.get(configMapKind, 'settings'), undefined, 'nothing applied, not even the kinds it may apply');
      assert.equal(w.events().at(-1)?.reason, 'Forbidden');

      w.kube.authorize = () => true; // a RoleBinding is added
      w.clock.advance(600_000);
      await w.reconcile();
      assert.equal(w.status().lastError, undefined, w.status().lastError?.message);
      assert.ok(w.get(kinds.service, 'web') && w.get(configMapKind, 'settings'));
    } finally {
      await w.cleanup();
    }
  });

  test('a client that cannot impersonate never syncs with the controller’s own rights', async () => {
    const w = await world();
    try {
      await w.repo.commit({ 'deploy/config.yaml': configMap('a') });
      const plain = Object.assign(Object.create(w.kube) as Cluster, { impersonate: undefined });
      await reconcileGitSyncByKey('team', 'apps', { ...w.deps, kube: plain });
      assert.equal(w.status().lastError?.reason, 'Forbidden');
      assert.match(w.status().lastError?.message ?? '', /cannot impersonate/);
      assert.equal(w.get(configMapKind, 'settings'), undefined);
    } finally {
      await w.cleanup();
    }
  });
});
