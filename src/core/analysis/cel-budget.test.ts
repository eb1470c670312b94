// Conditions run under a cost budget: refused at compile time when they could hold the event
// loop, never evaluated unbounded.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileCondition, evaluateCondition } from './cel.ts';

const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(', ')}]`;
const nested = (levels: number, n: number) => {
  let body = 'true';
  for (let i = levels; i > 0; i--) body = `${list(n)}.all(v${i}, ${body})`;
  return body;
};
const values = (n: number) => Array.from({ length: n }, (_, i) => i / n);

describe('CEL cost budget', () => {
  test('nested comprehensions over list literals are refused at compile time, with the estimate', () => {
    // Six levels of ten: a million steps, seconds of a blocked event loop.
    for (const source of [nested(6, 10), nested(3, 100), `${list(200)}.all(a, ${list(200)}.exists(b, a == b))`]) {
      const c = compileCondition(source);
      assert.equal(c.ok, false, source.slice(0, 60));
      if (!c.ok) assert.match(c.error, /^too expensive: evaluating it may take about [\d,]+ steps .*more than the budget of [\d,]+/);
    }
  });

  test('loops inside loops over result are refused; one loop over result fits', () => {
    assert.equal(compileCondition('result.all(x, result.all(y, x <= y || x > y))').ok, false);
    assert.equal(compileCondition('result.exists(x, x in result.map(y, y * 2.0))').ok, false);
    for (const source of [
      'result[0] < 0.05',
      'size(result) == 0 || result[0] < 0.05',
      'result.all(x, x < 0.05)',
      'result.exists(x, x > 0.5)',
      'result.exists_one(x, x == 0.0)',
      'result.map(x, x * 100.0).all(y, y < 5.0)',
      'size(result.filter(x, x > 0.5)) <= 3',
      'result.all(x, x >= 0.0) && result.exists(x, x > 0.9)',
    ]) {
      assert.ok(compileCondition(source).ok, source);
    }
  });

  test('a result longer than the limit is an error, not evaluated', () => {
    const c = compileCondition('result.all(x, x >= 0.0)');
    assert.ok(c.ok);
    const r = evaluateCondition(c.value, values(10_001));
    assert.deepEqual(r, {
      ok: false,
      error: 'the result has 10001 elements; a condition looks at 10000 at most (aggregate the query, e.g. with max(), sum() or topk())',
    });
    assert.deepEqual(evaluateCondition(c.value, values(10_000)), { ok: true, value: true });
  });

  test('map and filter over the largest result evaluate (no n^2 chain of lists, no stack overflow)', () => {
    for (const source of [
      'result.map(x, x * 2.0).all(y, y >= 0.0)',
      'result.filter(x, x >= 0.0).exists(y, y < 0.0) == false',
      'result.map(x, x)[9999] >= 0.0',
    ]) {
      const c = compileCondition(source);
      assert.ok(c.ok, source);
      assert.deepEqual(evaluateCondition(c.value, values(10_000)), { ok: true, value: true }, source);
    }
  });

  test('too deep or too long is refused with a clear message', () => {
    assert.ok(compileCondition(`${'('.repeat(200)}result[0] > 1.0${')'.repeat(200)}`).ok, 'parentheses alone do not nest expressions');
    const d = compileCondition(`size(${'['.repeat(60)}1${']'.repeat(60)}) == 1`);
    assert.equal(d.ok, false);
    if (!d.ok) assert.match(d.error, /^nested 63 levels deep, more than 50$/);
    const long = compileCondition(`result[0] > 1.0${' || result[0] > 1.0'.repeat(250)}`);
    assert.equal(long.ok, false);
    if (!long.ok) assert.match(long.error, /^the condition is \d+ characters long, more than 4096$/);
  });
});
