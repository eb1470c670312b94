import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { kinds } from '../../ports/kube.ts';
import { KubeSecretReader } from './secret-reader.ts';

test('reads Secrets as the API returns them (stringData folded into data on write); missing is undefined; API errors name the Secret', async () => {
  const kube = new FakeKube();
  await kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'a', namespace: 'ns' }, stringData: { token: 't0ken' } });
  const reader = new KubeSecretReader(kube);
  assert.deepEqual(await reader.read('ns', 'a', 'git'), { token: 't0ken' });
  assert.equal(await reader.read('ns', 'missing', 'git'), undefined);
  const all = await reader.readAll('ns', ['a', 'missing', 'a'], 'git');
  assert.ok(all.ok);
  assert.deepEqual(
    [...all.value.entries()],
    [
      ['a', { token: 't0ken' }],
      ['missing', undefined],
    ],
  );
  kube.failNext.push({ verb: 'get', plural: 'secrets', status: 403 });
  assert.deepEqual(await reader.readAll('ns', ['a'], 'git'), { ok: false, error: 'cannot read Secret ns/a: injected 403 on get secrets' });
});

test('analysis and notifications may read only Secrets that opt in with a label; Git credentials and webhook secrets need none', async () => {
  const kube = new FakeKube();
  const secret = (name: string, labels: Record<string, string> = {}) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: 'ns', labels },
    stringData: { token: 't0ken' },
  });
  await kube.create(kinds.secret, secret('plain'));
  await kube.create(kinds.secret, secret('for-analysis', { 'sluice.dev/allow-analysis': 'true' }));
  await kube.create(kinds.secret, secret('for-notifications', { 'sluice.dev/allow-notifications': 'true' }));
  const reader = new KubeSecretReader(kube);
  await assert.rejects(
    reader.read('ns', 'plain', 'analysis'),
    /Secret ns\/plain is not allowed for analysis: a Secret opts in with the label sluice.dev\/allow-analysis=true/,
  );
  await assert.rejects(reader.read('ns', 'for-notifications', 'analysis'), /not allowed for analysis/);
  await assert.rejects(reader.read('ns', 'for-analysis', 'notifications'), /sluice.dev\/allow-notifications=true/);
  assert.deepEqual(await reader.read('ns', 'for-analysis', 'analysis'), { token: 't0ken' });
  assert.deepEqual(await reader.read('ns', 'for-notifications', 'notifications'), { token: 't0ken' });
  assert.deepEqual(await reader.read('ns', 'plain', 'git'), { token: 't0ken' });
  assert.deepEqual(await reader.read('ns', 'plain', 'webhook'), { token: 't0ken' });
  const all = await reader.readAll('ns', ['for-analysis', 'plain'], 'analysis');
  assert.equal(all.ok, false);
  assert.match(all.ok ? '' : all.error, /cannot read Secret ns\/plain: Secret ns\/plain is not allowed for analysis/);
});
