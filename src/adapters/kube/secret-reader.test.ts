import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { kinds } from '../../ports/kube.ts';
import { KubeSecretReader } from './secret-reader.ts';

test('reads Secrets as the API returns them (stringData folded into data on write); missing is undefined; API errors name the Secret', async () => {
  const kube = new FakeKube();
  await kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'a', namespace: 'ns' }, stringData: { token: 't0ken' } });
  const reader = new KubeSecretReader(kube);
  assert.deepEqual(await reader.read('ns', 'a'), { token: 't0ken' });
  assert.equal(await reader.read('ns', 'missing'), undefined);
  const all = await reader.readAll('ns', ['a', 'missing', 'a']);
  assert.ok(all.ok);
  assert.deepEqual(
    [...all.value.entries()],
    [
      ['a', { token: 't0ken' }],
      ['missing', undefined],
    ],
  );
  kube.failNext.push({ verb: 'get', plural: 'secrets', status: 403 });
  assert.deepEqual(await reader.readAll('ns', ['a']), { ok: false, error: 'cannot read Secret ns/a: injected 403 on get secrets' });
});
