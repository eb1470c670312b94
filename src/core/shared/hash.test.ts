import assert from 'node:assert/strict';
import { test } from 'node:test';
import { podTemplateHash } from './hash.ts';

const deepFreeze = <T>(v: T): T => {
  if (v && typeof v === 'object') {
    Object.freeze(v);
    Object.values(v).forEach(deepFreeze);
  }
  return v;
};

test('the hash ignores key order and is the same for a frozen template as for an equal live one', () => {
  const a = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'app', image: 'v1' }] } };
  const b = { spec: { containers: [{ image: 'v1', name: 'app' }] }, metadata: { labels: { app: 'x' } } };
  assert.equal(podTemplateHash(a), podTemplateHash(b));
  assert.equal(podTemplateHash(deepFreeze(structuredClone(a))), podTemplateHash(a));
  assert.match(podTemplateHash(a), /^[bcdfghjklmnpqrstvwxz2456789]{10}$/);
});

test('a template edited after it was hashed hashes anew (only frozen ones are remembered)', () => {
  const t = { metadata: {}, spec: { containers: [{ name: 'app', image: 'v1' }] } };
  const before = podTemplateHash(t);
  t.spec.containers[0]!.image = 'v2';
  assert.notEqual(podTemplateHash(t), before);
  const frozen = deepFreeze({ metadata: {}, spec: { containers: [{ name: 'app', image: 'v2' }] } });
  assert.equal(podTemplateHash(frozen), podTemplateHash(t));
  assert.equal(podTemplateHash(frozen), podTemplateHash(frozen));
});
