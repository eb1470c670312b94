import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSecret } from './secrets.ts';

describe('decodeSecret', () => {
  test('data is base64; stringData is write-only (a read never returns it), so it is not read', () => {
    assert.deepEqual(decodeSecret({ data: { a: Buffer.from('x:y').toString('base64') }, stringData: { b: 'z' } }), { ok: true, value: { a: 'x:y' } });
    assert.deepEqual(decodeSecret({ metadata: {} }), { ok: true, value: {} });
  });
  test('not a Secret', () => assert.equal(decodeSecret({ data: { a: 1 } }).ok, false));
});
