import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { kinds, type KubeObject } from '../../ports/kube.ts';
import { controllerOwnerUid, OwnerIndex } from './owner-index.ts';

const owned = (name: string, owner: string | undefined): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    namespace: 'ns',
    ownerReferences: owner ? [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: owner, uid: `uid-${owner}`, controller: true }] : [],
  },
});
const names = (objs: KubeObject[]) => objs.map((o) => o.metadata?.name).sort();

test('objects are found by their controller owner, through adds, owner changes and deletes', async () => {
  const kube = new FakeKube();
  const pods = kube.informer(kinds.pod);
  await kube.create(kinds.pod, owned('before-start', 'a'));
  await pods.start();
  const index = new OwnerIndex(pods, (p) => controllerOwnerUid(p, 'ReplicaSet'));
  assert.deepEqual(names(index.get('uid-a')), ['before-start'], 'built from the cache on first use');
  await kube.create(kinds.pod, owned('p1', 'a'));
  await kube.create(kinds.pod, owned('p2', 'b'));
  await kube.create(kinds.pod, owned('orphan', undefined));
  assert.deepEqual(names(index.get('uid-a')), ['before-start', 'p1']);
  assert.deepEqual(names(index.get('uid-b')), ['p2']);
  await kube.patch(kinds.pod, 'ns', 'p1', { metadata: { ownerReferences: owned('p1', 'b').metadata?.ownerReferences } }, { type: 'merge' });
  assert.deepEqual(names(index.get('uid-a')), ['before-start']);
  assert.deepEqual(names(index.get('uid-b')), ['p1', 'p2']);
  await kube.delete(kinds.pod, 'ns', 'p2');
  assert.deepEqual(names(index.get('uid-b')), ['p1']);
  assert.deepEqual(index.get('uid-nobody'), []);
});
