import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MASK, maskValues } from './mask.ts';

test('every occurrence of a secret value is masked, the longest value first', () => {
  assert.equal(maskValues('token abcd1234 and abcd1234; abcd', ['abcd', 'abcd1234']), `token ${MASK} and ${MASK}; ${MASK}`);
});

test('values too short to be told apart from ordinary text are left alone', () => {
  assert.equal(maskValues('a b c', ['a', 'bc']), 'a b c');
});
