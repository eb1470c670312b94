import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compileCondition, evaluateCondition, explainCondition, type ConditionInput } from './cel.ts';
import { formatCel, formatJson } from './cel-format.ts';

function evaluate(source: string, input: ConditionInput) {
  const c = compileCondition(source);
  if (!c.ok) throw new Error(c.error);
  const r = evaluateCondition(c.value, input);
  return r.ok ? { value: r.value, why: explainCondition(c.value, input, r.value) } : { error: r.error };
}

describe('CEL conditions', () => {
  const table: Array<[string, ConditionInput, boolean, string]> = [
    ['result[0] >= 0.95', [0.97], true, '0.97 >= 0.95'],
    ['result[0] >= 0.95', [0.5], false, '0.5 < 0.95'],
    ['result[0] >= 1', [1], true, '1 >= 1'], // double vs int literal
    ['result == 2', 2, true, '2 == 2'],
    ['result != 2', 2, false, '2 == 2'],
    ['result < 1', 3, false, '3 >= 1'],
    ['size(result) == 0 || result[0] < 0.05', [], true, 'size(result) (0) == 0'],
    ['size(result) == 0 || result[0] < 0.05', [0.23], false, 'size(result) (1) != 0 and 0.23 >= 0.05'],
    ['result[0] > 1 && result[1] > 1', [2, 3], true, '2 > 1 and 3 > 1'],
    ['!(result[0] > 1)', [3], false, '3 > 1'],
    ['result.exists(x, x > 1.5)', [1, 2], true, 'result.exists(x, x > 1.5) is true'],
    ['result.all(x, x < 1)', [0.1, 0.2], true, 'result.all(x, x < 1) is true'],
  ];
  for (const [source, input, value, why] of table) {
    test(`${source} with ${formatCel(input)}`, () => assert.deepEqual(evaluate(source, input), { value, why }));
  }

  test('errors at evaluation', () => {
    assert.deepEqual(evaluate('result[0] >= 0.95', []), { error: 'index 0 out of bounds [0, -1)' });
    assert.match((evaluate('result > 1', [1]) as { error: string }).error, /no matching overload/);
    assert.deepEqual(evaluate('result[0]', [1]), { error: 'returned 1 (double), expected true or false' });
  });

  test('compile errors say what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      ['result[0] >=', /^syntax error: <input>:1:\d+: /],
      ['result[0] > 1 &&', /^syntax error: /],
      ['foo > 1', /^unknown variable "foo": a condition can only use "result"$/],
      ['result.all(x, y > 1)', /^unknown variable "y"/],
      ['', /^the condition is empty$/],
    ];
    for (const [source, expected] of cases) {
      const c = compileCondition(source);
      assert.equal(c.ok, false, source);
      if (!c.ok) assert.match(c.error, expected);
    }
    assert.ok(compileCondition('result.all(x, x > 0) && type(result) == list').ok, 'comprehension variables and type names are fine');
  });

  test('formatCel', () => {
    assert.equal(formatCel([Infinity, -Infinity, NaN, 0.5]), '[+Inf, -Inf, NaN, 0.5]');
    assert.equal(formatCel(3n), '3');
    assert.equal(formatCel('a'), '"a"');
  });

  // A web metric's result is any JSON value: what Argo Rollouts' webmetric tests feed their
  // conditions, written in CEL (Argo's `asInt(result)` is CEL's `int(result)`).
  test('JSON results: numbers as doubles, strings, bools, null, lists and maps', () => {
    const table: Array<[string, ConditionInput, boolean]> = [
      ['result.a > 0 && result.b && result.c.all(x, x < 5) && result.d == null', { a: 1, b: true, c: [1, 2, 3, 4], d: null }, true],
      ['result.a >= 2 && result.b', { a: 1, b: true }, false],
      ['int(result) > 0', '1', true],
      ['int(result) <= 0', '0', true],
      ['double(result) > 1.1', '1.2', true],
      ['result > 0', 1, true],
      ['result > 0', -1.1, false],
      ['result == "true"', 'true', true],
      ['result == true', true, true],
      ['result == true', false, false],
      ['result.exists(x, x > 5)', [1, 2, 3, 4, 5, 6], true],
      ['result.num > 1.1 && result.bool && result.mapfield.foo == "bar"', { num: 1.2, bool: true, mapfield: { foo: 'bar' } }, true],
      ["result.major == '1'", { major: '1', minor: '31' }, true],
      ['result.Status == 999', { Status: 0 }, false],
      ['result.Status == 0', { Status: 0 }, true], // a JSON number is a double; CEL compares it with an int literal
      ['result == {"a": 1, "b": [true]}', { b: [true], a: 1 }, true],
      ['"b" in result && !("z" in result)', { b: 1 }, true],
      ['result.constructor == 1 && result.toString == "x"', { constructor: 1, toString: 'x' }, true],
      ['size(result.items.filter(i, i.ready)) == 2', { items: [{ ready: true }, { ready: false }, { ready: true }] }, true],
    ];
    for (const [source, input, expected] of table) assert.deepEqual(evaluate(source, input).value, expected, `${source} with ${JSON.stringify(input)}`);
  });

  test('JSON results are explained with the values compared', () => {
    assert.deepEqual(evaluate('result.ok && result.successPercent >= 0.90', { ok: true, successPercent: 0.85 }), {
      value: false,
      why: 'result.successPercent (0.85) < 0.9',
    });
    assert.deepEqual(evaluate('result.data.ok == true', { data: { ok: false } }), { value: false, why: 'result.data.ok (false) != true' });
    assert.match((evaluate('result.missing > 1', { a: 1 }) as { error: string }).error, /no such key|not found/);
    assert.match((evaluate('result.a > 1', { a: 'x' }) as { error: string }).error, /no matching overload/);
  });

  test('a JSON result is costed as it is: a condition fine at compile time but too expensive for this value is an error', () => {
    const source = 'result.a.all(x, result.a.all(y, x <= y || x > y))';
    assert.ok(compileCondition(source).ok, 'result.a has no assumed size at compile time');
    assert.deepEqual(evaluate(source, { a: [1, 2, 3] }).value, true);
    const big = { a: Array.from({ length: 3000 }, (_, i) => i) };
    assert.match(
      (evaluate(source, big) as { error: string }).error,
      /^too expensive for this result: evaluating it may take about [\d,]+ steps, more than the budget/,
    );
    // a long string costs its length in every string operation
    const text = { s: 'x'.repeat(200_000) };
    assert.match(
      (evaluate('[1, 2, 3, 4, 5, 6, 7, 8, 9, 10].all(i, result.s.matches("y+z"))', text) as { error: string }).error,
      /^too expensive for this result/,
    );
    assert.equal(evaluate('result.s.startsWith("x")', text).value, true);
  });

  test('formatCel of maps, formatJson as Argo Rollouts records a value (compact, keys sorted)', () => {
    assert.equal(formatCel({ a: 1, b: 'x' }), '{"a": 1, "b": "x"}');
    assert.equal(formatJson({ num: 1.2, bool: true, mapfield: { foo: 'bar' } }), '{"bool":true,"mapfield":{"foo":"bar"},"num":1.2}');
    assert.equal(formatJson([1, 2, 3]), '[1,2,3]');
    assert.equal(formatJson('1'), '"1"');
    assert.equal(formatJson(null), 'null');
  });
});
