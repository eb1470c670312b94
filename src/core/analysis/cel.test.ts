import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compileCondition, evaluateCondition, explainCondition, type ConditionInput } from './cel.ts';
import { formatCel } from './cel-format.ts';

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
});
