// Fuzz: CEL conditions from a grammar of everything a condition may hold (operators, macros,
// literals of any size, nesting): compile and evaluate never throw, and no evaluation takes
// more comprehension steps than the static estimate allows (the estimate is an upper bound),
// nor more than the budget; for a JSON result (a web metric), than the estimate for that value.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { COST_BUDGET, compileCondition, evaluateCondition, explainCondition, lastEvaluationSteps } from '../../src/core/analysis/cel.ts';
import { estimateCost, estimateCostForValue } from '../../src/core/analysis/cel-cost.ts';
import type { JsonValue } from '../../src/core/analysis/json-path.ts';
import { fuzzOptions } from '../helpers/fuzz.ts';

const VARS = ['a', 'b', 'c'];

const literalList = (element: fc.Arbitrary<string>) => fc.array(element, { maxLength: 40 }).map((xs) => `[${xs.join(', ')}]`);
const number = fc.oneof(
  fc.integer({ min: -5, max: 50 }).map(String),
  fc.double({ min: -10, max: 10, noNaN: true }).map((d) => d.toFixed(2)),
);
const text = fc.string({ unit: fc.constantFrom('a', 'b', '.', '*', '+', '(', ')', '|', '0', '?'), maxLength: 30 }).map((s) => JSON.stringify(s));

const { expr } = fc.letrec<{ expr: string; atom: string }>((tie) => ({
  atom: fc.oneof(
    fc.constant('result'),
    number,
    text,
    fc.constantFrom('true', 'false', 'null', '[]', '{}'),
    fc.constantFrom(...VARS),
    literalList(number),
    literalList(fc.constantFrom('[1, 2]', '"x"', '[]', 'result')),
  ),
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('atom'),
    fc
      .tuple(tie('expr'), fc.constantFrom('+', '-', '*', '/', '%', '<', '<=', '>', '>=', '==', '!=', '&&', '||', 'in'), tie('expr'))
      .map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(fc.constantFrom('!', '-'), tie('expr')).map(([op, e]) => `${op}(${e})`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, t, e]) => `(${c} ? ${t} : ${e})`),
    fc.tuple(tie('expr'), tie('expr')).map(([l, i]) => `${l}[${i}]`),
    fc.tuple(fc.constantFrom('size', 'string', 'double', 'int', 'type', 'dyn'), tie('expr')).map(([f, e]) => `${f}(${e})`),
    fc.tuple(tie('expr'), fc.constantFrom('matches', 'contains', 'startsWith'), tie('expr')).map(([t, f, a]) => `${t}.${f}(${a})`),
    fc
      .tuple(tie('expr'), fc.constantFrom('all', 'exists', 'exists_one', 'map', 'filter'), fc.constantFrom(...VARS), tie('expr'))
      .map(([range, macro, v, body]) => `${range}.${macro}(${v}, ${body})`),
    fc.tuple(tie('expr'), fc.constantFrom(...VARS), tie('expr'), tie('expr')).map(([range, v, test, body]) => `${range}.map(${v}, ${test}, ${body})`),
  ),
}));

const input = fc.oneof(fc.array(fc.double({ noNaN: false }), { maxLength: 60 }), fc.double());

describe('fuzz: CEL conditions', () => {
  test('compile and evaluate never throw; evaluation stays within the estimate and the budget', () => {
    let compiled = 0;
    fc.assert(
      fc.property(expr, input, (source, result) => {
        const c = compileCondition(source);
        if (!c.ok) {
          assert.equal(typeof c.error, 'string');
          return;
        }
        compiled++;
        assert.ok(c.value.cost.cost <= COST_BUDGET, 'a compiled condition fits the budget');
        const r = evaluateCondition(c.value, result);
        const steps = lastEvaluationSteps();
        const bound = estimateCost(c.value.ast, Array.isArray(result) ? result.length : 0);
        assert.ok(steps <= bound.iterations, `${source} with ${JSON.stringify(result)}: ${steps} steps, estimated at most ${bound.iterations}`);
        assert.ok(steps <= COST_BUDGET);
        if (r.ok) assert.equal(typeof explainCondition(c.value, result, r.value), 'string');
        else assert.doesNotMatch(r.error, /budget/, `${source}: an estimate that fits never runs out of budget`);
      }),
      fuzzOptions(2),
    );
    assert.ok(compiled > 0, 'some generated conditions compile');
  });

  test('nesting and long literals: compiled conditions stay under the estimate', () => {
    const wide = fc.integer({ min: 0, max: 300 }).map((n) => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`);
    const nested = fc
      .tuple(
        fc.array(fc.tuple(fc.oneof(wide, fc.constant('result')), fc.constantFrom('all', 'exists', 'map', 'filter', 'exists_one')), {
          minLength: 1,
          maxLength: 5,
        }),
        expr,
      )
      .map(([levels, body]) => {
        let out = `(${body}) == true`;
        levels.forEach(([range, macro], i) => {
          out = `${range}.${macro}(v${i}, ${out})`;
          if (macro === 'map' || macro === 'filter') out = `size(${out}) > 0`;
        });
        return out.replace(/\b[abc]\b/g, 'v0');
      });
    fc.assert(
      fc.property(nested, fc.array(fc.double({ min: 0, max: 1 }), { maxLength: 200 }), (source, result) => {
        const c = compileCondition(source);
        if (!c.ok) return;
        evaluateCondition(c.value, result);
        const steps = lastEvaluationSteps();
        assert.ok(steps <= estimateCost(c.value.ast, result.length).iterations, source);
      }),
      fuzzOptions(1),
    );
  });

  test('JSON results: evaluation stays within the estimate made for the value, and never throws', () => {
    const json = fc.letrec<{ value: JsonValue }>((tie) => ({
      value: fc.oneof(
        { depthSize: 'small' },
        fc.constant(null),
        fc.boolean(),
        fc.double({ noNaN: true }),
        fc.string({ unit: fc.constantFrom('a', 'b', 'x', '.', '*'), maxLength: 40 }),
        fc.array(tie('value'), { maxLength: 30 }),
        fc.dictionary(fc.constantFrom('a', 'b', 'c', 'ok'), tie('value'), { maxKeys: 4 }),
      ),
    })).value;
    const access = fc.constantFrom('result', 'result.a', 'result.b', 'result.a.b', 'result["ok"]', 'result.a[0]');
    const source = fc.tuple(expr, access).map(([e, r]) => e.replace(/\bresult\b/g, r));
    fc.assert(
      fc.property(source, json, (text, result) => {
        const c = compileCondition(text);
        if (!c.ok) return;
        const r = evaluateCondition(c.value, result);
        const steps = lastEvaluationSteps();
        if (!r.ok && /^too expensive for this result/.test(r.error)) return; // refused before it ran
        const bound = estimateCostForValue(c.value.ast, result);
        assert.ok(steps <= bound.iterations, `${text} with ${JSON.stringify(result)}: ${steps} steps, estimated at most ${bound.iterations}`);
        assert.ok(steps <= COST_BUDGET);
        if (r.ok) assert.equal(typeof explainCondition(c.value, result, r.value), 'string');
      }),
      fuzzOptions(2),
    );
  });
});
