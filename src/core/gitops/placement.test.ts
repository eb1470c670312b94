import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLLOUT, SCOPE, SERVICE, kindOf, manifest } from '../../../test/helpers/manifests.ts';
import { namespaceScope, placeManifests, refKey } from './placement.ts';

describe('namespaces and policy', () => {
  test('namespaceScope: own namespace by default; more only when the controller allows it', () => {
    assert.deepEqual(namespaceScope('team', {}, {}), { defaultNamespace: 'team', allowed: ['team'], clusterScoped: false });
    const refused = namespaceScope('team', { targetNamespace: 'prod' }, {});
    assert.ok('reason' in refused && refused.reason === 'NamespaceNotAllowed' && /only its own namespace \(team\); spec asks for prod/.test(refused.message));
    assert.deepEqual(namespaceScope('team', { targetNamespace: 'prod', allowedNamespaces: ['prod', 'team'] }, { allowCrossNamespace: true }), {
      defaultNamespace: 'prod',
      allowed: ['prod', 'team'],
      clusterScoped: false,
    });
    const notListed = namespaceScope('team', { targetNamespace: 'prod', allowedNamespaces: ['team'] }, { allowCrossNamespace: true });
    assert.ok('reason' in notListed && /not in spec.allowedNamespaces/.test(notListed.message));
  });

  test('placeManifests fills in namespaces and refuses what the GitSync may not touch', () => {
    const ok = placeManifests([manifest(SERVICE), manifest(ROLLOUT, 'apps/r.yaml')], kindOf, SCOPE);
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(
      ok.objects.map((o) => [refKey(o.ref), o.object.metadata.namespace]),
      [
        ['/Service/team/web', 'team'],
        ['sluice.dev/Rollout/team/web', 'team'],
      ],
    );
    const cases: Array<[string, string]> = [
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n', 'NamespaceNotAllowed'],
      ['apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n', 'ClusterScopedNotAllowed'],
      ['apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n', 'UnknownKind'],
    ];
    for (const [content, reason] of cases) {
      const { objects, problems } = placeManifests([manifest(content)], kindOf, SCOPE);
      assert.equal(objects.length, 0);
      assert.equal(problems[0]?.reason, reason);
      assert.equal(problems[0]?.file, 'apps/web.yaml');
    }
    const cluster = placeManifests([manifest('apiVersion: v1\nkind: Namespace\nmetadata: {name: x, namespace: ignored}\n')], kindOf, {
      ...SCOPE,
      clusterScoped: true,
    });
    assert.deepEqual(cluster.objects[0]?.ref, { apiVersion: 'v1', kind: 'Namespace', name: 'x' });
    assert.equal(cluster.objects[0]?.object.metadata.namespace, undefined);
  });

  test('the same object twice is refused, naming both places', () => {
    const { problems } = placeManifests(
      [manifest(SERVICE, 'a.yaml'), manifest(SERVICE.replace('name: web', 'name: web\n  namespace: team'), 'b.yaml')],
      kindOf,
      SCOPE,
    );
    assert.equal(problems[0]?.reason, 'DuplicateObject');
    assert.equal(problems[0]?.message, 'b.yaml:4:9: Service "web": Service team/web is also defined at a.yaml:1:1; each object may appear once');
  });
});
