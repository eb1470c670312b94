import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mergePatchBetween } from './merge-patch.ts';

/** RFC 7386 applied, to check the diff against. */
function apply(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = apply(out[k], v);
  }
  return out;
}

test('unchanged documents give no patch', () => {
  assert.equal(mergePatchBetween({ a: 1, b: { c: [1] } }, { b: { c: [1] }, a: 1 }), undefined);
});

test('removed keys become null, at any depth; arrays are replaced whole', () => {
  assert.deepEqual(mergePatchBetween({ a: 1, b: { c: 1, d: 2 }, e: [1, 2] }, { b: { c: 1 }, e: [2] }), { a: null, b: { d: null }, e: [2] });
});

test('applying the patch to the old document gives the new one', () => {
  const json = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, fc.integer(), fc.string(), fc.boolean(), fc.array(tie('value'), { maxLength: 3 }), tie('object')),
    object: fc.dictionary(fc.constantFrom('a', 'b', 'c', 'd'), tie('value'), { maxKeys: 4, noNullPrototype: true }),
  }));
  fc.assert(
    fc.property(json.object, json.object, (from, to) => {
      const patch = mergePatchBetween(from, to);
      assert.deepEqual(patch === undefined ? from : apply(from, patch), to);
    }),
    { seed: 7, numRuns: 300 },
  );
});
