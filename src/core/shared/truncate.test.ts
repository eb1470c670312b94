import { test } from 'node:test';
import assert from 'node:assert/strict';
import { truncate } from './truncate.ts';

test('truncate keeps short texts, cuts long ones saying how much is left out, never splits a surrogate pair', () => {
  assert.equal(truncate('abc', 3), 'abc');
  assert.equal(truncate('abcdef', 3), 'abc… 3 more');
  assert.equal(truncate('ab😀cd', 3), 'ab… 4 more');
  assert.equal(truncate('', 0), '');
});
