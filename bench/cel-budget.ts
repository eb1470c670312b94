// Benchmark (prints figures; not a test): how long CEL conditions hold the event loop under
// the cost budget of src/core/analysis/cel.ts. For typical conditions and for adversarial ones
// built to sit just under the budget it prints the estimated cost, the median and worst of a
// few evaluations, and the time per cost unit; then the compile time of the longest conditions.
//   node bench/cel-budget.ts [runs]     (default: 7)
import { performance } from 'node:perf_hooks';
import { COST_BUDGET, MAX_CONDITION_LENGTH, MAX_RESULT_ELEMENTS, compileCondition, evaluateCondition } from '../src/core/analysis/cel.ts';

const runs = Number(process.argv[2] ?? 7);
const list = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(',')}]`;
const result = Array.from({ length: MAX_RESULT_ELEMENTS }, (_, i) => i / MAX_RESULT_ELEMENTS);

/** The widest list literal for which `levels` nested all() still fit the budget. */
function nestedAtBudget(levels: number): string {
  const build = (n: number) => {
    let body = 'true';
    for (let i = levels; i > 0; i--) body = `${list(n)}.all(v${i}, ${body})`;
    return body;
  };
  let n = 1;
  while (compileCondition(build(n + 1)).ok && build(n + 1).length <= MAX_CONDITION_LENGTH) n++;
  return build(n);
}

const conditions = [
  'result[0] < 0.05',
  'result.all(x, x < 2.0)',
  'result.map(x, x * 100.0).all(y, y < 500.0)',
  'size(result.filter(x, x > 0.5)) > 3 && result.all(x, x < 2.0)',
  nestedAtBudget(2),
  nestedAtBudget(3),
  nestedAtBudget(4),
  `${list(150)}.map(a, ${list(150)}) == ${list(150)}.map(a, ${list(150)})`,
  `"${'a'.repeat(1200)}".matches("(a|aa)*b")`,
];

console.log(`budget ${COST_BUDGET} units, result of ${MAX_RESULT_ELEMENTS} elements, ${runs} runs each`);
console.log('estimate    median ms   worst ms   ns/unit  condition');
for (const source of conditions) {
  const c = compileCondition(source);
  if (!c.ok) {
    console.log(`refused: ${c.error.slice(0, 100)}  (${source.slice(0, 50)})`);
    continue;
  }
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    evaluateCondition(c.value, result);
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)] ?? 0;
  const worst = times[times.length - 1] ?? 0;
  const text = source.length > 60 ? `${source.slice(0, 57)}...` : source;
  console.log(
    `${String(Math.round(c.value.cost.cost)).padStart(8)} ${median.toFixed(1).padStart(11)} ` +
      `${worst.toFixed(1).padStart(10)} ${((median * 1e6) / c.value.cost.cost).toFixed(0).padStart(9)}  ${text}`,
  );
}

for (const [what, source] of [
  ['a list literal', list(Math.floor(MAX_CONDITION_LENGTH / 5))],
  ['an || chain', `result[0] > 1.0${' || result[0] > 1.0'.repeat(Math.floor(MAX_CONDITION_LENGTH / 20) - 1)}`],
  ['a string literal', `"${'a'.repeat(MAX_CONDITION_LENGTH - 10)}" != ""`],
] as const) {
  const t = performance.now();
  const c = compileCondition(source);
  console.log(`compile ${what} of ${source.length} characters: ${(performance.now() - t).toFixed(1)} ms (${c.ok ? 'ok' : c.error.slice(0, 60)})`);
}
