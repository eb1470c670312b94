// Success and failure conditions in CEL, through @bufbuild/cel (never eval). Pure.
// A condition sees one variable, `result`: from Prometheus a double for a scalar, a list of
// doubles otherwise; from a web metric the JSON value its jsonPath selected (numbers as doubles,
// strings, bools, null, lists and maps).
// Compiling checks the syntax and the variables up front (admission cannot compile CEL held
// in a string field), and `explainCondition` turns an outcome into words such as `0.23 > 0.05`.
//
// Cost budget. @bufbuild/cel has no cost or depth limits of its own (no checker cost model,
// no step counter), and nested comprehensions over list literals could hold the event loop
// for seconds per level. So conditions are bounded here, in three layers:
// 1. Compile time: the source length and the nesting depth are capped, and a static cost
//    estimate (an upper bound of the evaluation work, from the size of every literal and a
//    `result` of MAX_RESULT_ELEMENTS) must fit COST_BUDGET; a condition over it is refused
//    with the estimate, so lint and AnalysisRun validation catch it before it ever runs.
// 2. Evaluation: a result longer than MAX_RESULT_ELEMENTS is an error, never evaluated. A JSON
//    result (a web metric) has a shape no compile-time assumption covers (nested lists, maps,
//    long strings), so the estimate is made again with the shape of the value itself, and a
//    condition over the budget for that value is an error.
// 3. Every comprehension step counts against the budget (a call added to the loop
//    condition); an evaluation that went over is an error whatever it returned. With a sound
//    estimate this never triggers; the fuzz suite checks that the count stays within it.
// map() and filter() build their lists by appending in place (a rewrite of the macro's step):
// the library's `accu + [x]` makes a chain of n nested lists, whose iteration costs n^2 and
// overflows the stack for a few thousand elements.
import type { Result } from '../shared/result.ts';
import { APPEND, depthOf, estimateCost, estimateCostForValue, formatCount, TICK, type ConditionCost } from './cel-cost.ts';
import { celTypeName, formatCel } from './cel-format.ts';
import { isNumbers, toCelValue, type ConditionInput } from './cel-input.ts';
import { celEnv, celFunc, CelScalar, isCelError, parse, plan, unparse, celList, type CelValue } from '@bufbuild/cel';

export type { ConditionInput } from './cel-input.ts';

type Expr = ReturnType<typeof parse>['expr'];
type Program = (bindings: { result: CelValue }) => unknown;

export interface CompiledCondition {
  readonly source: string;
  readonly ast: Expr;
  readonly program: Program;
  /** Upper bound of one evaluation with a result of MAX_RESULT_ELEMENTS. */
  readonly cost: ConditionCost;
}

/** Longest condition text, after args are substituted (the CRD allows 4096 before). Parsing 4 KiB takes up to about 0.1 s. */
export const MAX_CONDITION_LENGTH = 4096;
/** Deepest nesting of expressions (parentheses, calls, comprehensions). */
export const MAX_NESTING_DEPTH = 50;
/** Most elements `result` may have (series of a vector, samples of a range query) for a condition to run. */
export const MAX_RESULT_ELEMENTS = 10_000;
/**
 * Cost units one evaluation may take. A unit is about one interpreter step (a library call
 * such as `<` is ten): 20-70 ns once warm on a busy core, so the budget holds an evaluation to
 * tens of milliseconds (bench/cel-budget.ts prints figures). `result.all(x, x < 0.05)` over
 * 10,000 elements estimates at about 240,000.
 */
export const COST_BUDGET = 1_000_000;

const ACCU = '@result';

// The step counter of the evaluation running now. Evaluation is synchronous, so one counter
// for the module is enough; evaluateCondition resets it before each run.
let ticks = 0;
let tickLimit = Infinity;
/** Lists map() and filter() are building, with their backing arrays. */
const building = new WeakMap<object, CelValue[]>();

const DYN = CelScalar.DYN;
const env = celEnv({
  funcs: [
    celFunc(TICK, [DYN], DYN, (cond: CelValue) => {
      if (++ticks > tickLimit) throw new Error(`the condition went over its evaluation budget of ${tickLimit} steps`);
      return cond;
    }),
    celFunc(APPEND, [DYN, DYN], DYN, (accu: CelValue, element: CelValue) => {
      const array = building.get(accu as object);
      if (array) {
        array.push(element);
        return accu;
      }
      const fresh = [...(accu as Iterable<CelValue>), element];
      const list = celList(fresh);
      building.set(list, fresh);
      return list;
    }),
  ],
});

/** Identifiers a condition may use besides `result`: CEL's type names (as in `type(result) == list`). */
const TYPE_NAMES = new Set(['int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn']);

const cache = new Map<string, Result<CompiledCondition>>();
const CACHE_LIMIT = 500;

/** Parses and plans a condition; the error names the position and the problem. Memoised (the result only depends on the text). */
export function compileCondition(source: string): Result<CompiledCondition> {
  const hit = cache.get(source);
  if (hit) return hit;
  const compiled = compileUncached(source);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(source, compiled);
  return compiled;
}

function compileUncached(source: string): Result<CompiledCondition> {
  if (source.trim() === '') return { ok: false, error: 'the condition is empty' };
  if (source.length > MAX_CONDITION_LENGTH) return { ok: false, error: `the condition is ${source.length} characters long, more than ${MAX_CONDITION_LENGTH}` };
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    const message = messageOf(err);
    if (err instanceof RangeError) return { ok: false, error: `nested more than ${MAX_NESTING_DEPTH} levels deep` };
    return { ok: false, error: `syntax error: ${message}` };
  }
  const depth = depthOf(parsed.expr);
  if (depth > MAX_NESTING_DEPTH) return { ok: false, error: `nested ${depth} levels deep, more than ${MAX_NESTING_DEPTH}` };
  const unknown = [...freeIdentifiers(parsed.expr)].filter((name) => name !== 'result' && !TYPE_NAMES.has(name));
  if (unknown.length > 0) {
    return { ok: false, error: `unknown variable ${unknown.map((n) => `"${n}"`).join(', ')}: a condition can only use "result"` };
  }
  const ast = bounded(parsed.expr);
  const cost = estimateCost(ast, MAX_RESULT_ELEMENTS);
  if (cost.cost > COST_BUDGET) {
    return {
      ok: false,
      error:
        `too expensive: evaluating it may take about ${formatCount(cost.cost)} steps with a result of ${MAX_RESULT_ELEMENTS} elements, ` +
        `more than the budget of ${formatCount(COST_BUDGET)} (nested all/exists/map/filter multiply; loop over result once)`,
    };
  }
  let program: Program;
  try {
    program = plan(env, { ...parsed, expr: ast }) as unknown as Program;
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
  return { ok: true, value: { source, ast, program, cost } };
}

/** Runs a condition; anything but true or false is an error the caller turns into an error measurement. */
export function evaluateCondition(condition: CompiledCondition, input: ConditionInput): Result<boolean> {
  if (isNumbers(input)) {
    if (Array.isArray(input) && input.length > MAX_RESULT_ELEMENTS) {
      return {
        ok: false,
        error:
          `the result has ${input.length} elements; a condition looks at ${MAX_RESULT_ELEMENTS} at most (aggregate ` +
          `the query, e.g. with max(), sum() or topk())`,
      };
    }
  } else {
    const cost = estimateCostForValue(condition.ast, input);
    if (cost.cost > COST_BUDGET) {
      return {
        ok: false,
        error:
          `too expensive for this result: evaluating it may take about ${formatCount(cost.cost)} steps, more than the budget of ` +
          `${formatCount(COST_BUDGET)} (select less with jsonPath, or loop over the result once)`,
      };
    }
  }
  const value = runExpr(condition.program, input);
  if (!value.ok) return value;
  if (typeof value.value !== 'boolean') {
    return { ok: false, error: `returned ${formatCel(value.value)} (${celTypeName(value.value)}), expected true or false` };
  }
  return { ok: true, value: value.value };
}

/** Comprehension steps the last evaluation took (for tests). */
export function lastEvaluationSteps(): number {
  return ticks;
}

function runExpr(program: Program, input: ConditionInput, limit = COST_BUDGET): Result<unknown> {
  ticks = 0;
  tickLimit = limit;
  try {
    const value = program({ result: toCelValue(input) });
    if (ticks > tickLimit) return { ok: false, error: `the condition went over its evaluation budget of ${tickLimit} steps` };
    if (isCelError(value)) return { ok: false, error: value.message };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  } finally {
    tickLimit = Infinity;
  }
}

// ---------------------------------------------------------------------------------------
// The rewrite: a step counter in every loop, appends in place for map() and filter()

function call(like: Expr, fn: string, args: Expr[]): Expr {
  return {
    ...like,
    exprKind: { case: 'callExpr', value: { $typeName: 'cel.expr.Expr.Call', function: fn, args } },
  } as Expr;
}

const isAccu = (e: Expr | undefined) => e?.exprKind.case === 'identExpr' && e.exprKind.value.name === ACCU;

/** `@result + [e]` becomes an append, in the step of map() and filter() (also under their `?:`). */
function appendInPlace(step: Expr): Expr {
  if (step.exprKind.case !== 'callExpr') return step;
  const c = step.exprKind.value;
  const [a, b, third] = c.args;
  if (c.function === '_+_' && c.args.length === 2 && isAccu(a) && b?.exprKind.case === 'listExpr' && b.exprKind.value.elements.length === 1) {
    return call(step, APPEND, [a as Expr, b.exprKind.value.elements[0] as Expr]);
  }
  if (c.function === '_?_:_' && a && b && third) return call(step, '_?_:_', [a, appendInPlace(b), appendInPlace(third)]);
  return step;
}

/** A copy of the tree with a step counter in every loop and map()/filter() appending in place. */
function bounded(expr: Expr): Expr {
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'selectExpr':
      return kind.value.operand
        ? ({ ...expr, exprKind: { case: 'selectExpr', value: { ...kind.value, operand: bounded(kind.value.operand) } } } as Expr)
        : expr;
    case 'callExpr':
      return {
        ...expr,
        exprKind: {
          case: 'callExpr',
          value: { ...kind.value, ...(kind.value.target ? { target: bounded(kind.value.target) } : {}), args: kind.value.args.map(bounded) },
        },
      } as Expr;
    case 'listExpr':
      return { ...expr, exprKind: { case: 'listExpr', value: { ...kind.value, elements: kind.value.elements.map(bounded) } } } as Expr;
    case 'structExpr':
      return {
        ...expr,
        exprKind: {
          case: 'structExpr',
          value: {
            ...kind.value,
            entries: kind.value.entries.map((entry) => ({
              ...entry,
              ...(entry.keyKind.case === 'mapKey' ? { keyKind: { case: 'mapKey' as const, value: bounded(entry.keyKind.value) } } : {}),
              ...(entry.value ? { value: bounded(entry.value) } : {}),
            })),
          },
        },
      } as Expr;
    case 'comprehensionExpr': {
      const c = kind.value;
      if (!c.iterRange || !c.accuInit || !c.loopCondition || !c.loopStep || !c.result) return expr;
      const listMacro = c.accuVar === ACCU && c.accuInit.exprKind.case === 'listExpr' && c.accuInit.exprKind.value.elements.length === 0;
      const step = bounded(c.loopStep);
      return {
        ...expr,
        exprKind: {
          case: 'comprehensionExpr',
          value: {
            ...c,
            iterRange: bounded(c.iterRange),
            accuInit: bounded(c.accuInit),
            loopCondition: call(c.loopCondition, TICK, [bounded(c.loopCondition)]),
            loopStep: listMacro ? appendInPlace(step) : step,
            result: bounded(c.result),
          },
        },
      } as Expr;
    }
    default:
      return expr;
  }
}

const NEGATED: Record<string, string> = { '_<_': '>=', '_<=_': '>', '_>_': '<=', '_>=_': '<', '_==_': '!=', '_!=_': '==' };
const AS_WRITTEN: Record<string, string> = { '_<_': '<', '_<=_': '<=', '_>_': '>', '_>=_': '>=', '_==_': '==', '_!=_': '!=' };

/**
 * Explains why a condition came out as `outcome`, with the values it compared: a false
 * `result[0] <= 0.05` with result [0.23] reads `0.23 > 0.05`. For && and || the deciding
 * part is explained; anything else falls back to `<expression> is <outcome>`.
 */
export function explainCondition(condition: CompiledCondition, input: ConditionInput, outcome: boolean): string {
  try {
    return explain(condition.ast, { input, spent: 0 }, outcome) ?? `${condition.source} is ${outcome}`;
  } catch {
    return `${condition.source} is ${outcome}`;
  }
}

function explain(expr: Expr, ctx: ExplainContext, outcome: boolean): string | undefined {
  if (expr.exprKind.case !== 'callExpr') return fallback(expr, outcome);
  const call = expr.exprKind.value;
  const fn = call.function;
  const [left, right] = call.args;
  if (AS_WRITTEN[fn] && left && right && call.args.length === 2) {
    const l = evalSub(left, ctx);
    const r = evalSub(right, ctx);
    if (!l.ok || !r.ok) return fallback(expr, outcome);
    const op = outcome ? AS_WRITTEN[fn] : NEGATED[fn];
    return `${describeSide(left, l.value)} ${op} ${describeSide(right, r.value)}`;
  }
  if ((fn === '_&&_' || fn === '_||_') && call.args.length === 2) {
    // && is decided by a false part, || by a true part; otherwise every part counts.
    const decidingValue = fn === '_&&_' ? false : true;
    if (outcome === decidingValue) {
      for (const arg of call.args) {
        const v = evalSub(arg, ctx);
        if (v.ok && v.value === decidingValue) return explain(arg, ctx, decidingValue);
      }
      return fallback(expr, outcome);
    }
    const parts = call.args.map((arg) => explain(arg, ctx, outcome));
    return parts.every((p) => p !== undefined) ? parts.join(' and ') : fallback(expr, outcome);
  }
  if (fn === '!_' && left && call.args.length === 1) return explain(left, ctx, !outcome);
  return fallback(expr, outcome);
}

function fallback(expr: Expr, outcome: boolean): string | undefined {
  const text = tryUnparse(expr);
  return text === undefined ? undefined : `${text} is ${outcome}`;
}

/** A literal reads as itself, `result` and `result[i]` as their value, anything else as `expr (value)`. */
function describeSide(expr: Expr, value: unknown): string {
  if (expr.exprKind.case === 'constExpr') return formatCel(value);
  if (isResultAccess(expr)) return formatCel(value);
  const text = tryUnparse(expr);
  return text === undefined ? formatCel(value) : `${text} (${formatCel(value)})`;
}

function isResultAccess(expr: Expr): boolean {
  if (expr.exprKind.case === 'identExpr') return expr.exprKind.value.name === 'result';
  if (expr.exprKind.case === 'callExpr') {
    const call = expr.exprKind.value;
    const [target, index] = call.args;
    return call.function === '_[_]' && !!target && !!index && isResultAccess(target) && index.exprKind.case === 'constExpr';
  }
  return false;
}

/** The input, and the comprehension steps the explanation's evaluations took so far (all of them share one budget). */
interface ExplainContext {
  input: ConditionInput;
  spent: number;
}

function evalSub(expr: Expr, ctx: ExplainContext): Result<unknown> {
  let program: Program;
  try {
    program = plan(env, expr) as unknown as Program;
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
  const value = runExpr(program, ctx.input, COST_BUDGET - ctx.spent);
  ctx.spent += ticks;
  if (ctx.spent > COST_BUDGET) throw new Error('explaining went over the budget'); // explainCondition falls back
  return value;
}

function tryUnparse(expr: Expr): string | undefined {
  try {
    return unparse(expr);
  } catch {
    return undefined; // comprehensions (all, exists, map, filter) cannot be unparsed
  }
}

/** Every identifier used but not bound by a comprehension (all, exists, map, filter). */
function freeIdentifiers(expr: Expr | undefined, bound: ReadonlySet<string> = new Set(), out = new Set<string>()): Set<string> {
  if (!expr) return out;
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'identExpr':
      if (!bound.has(kind.value.name)) out.add(kind.value.name);
      break;
    case 'selectExpr':
      freeIdentifiers(kind.value.operand, bound, out);
      break;
    case 'callExpr':
      freeIdentifiers(kind.value.target, bound, out);
      for (const arg of kind.value.args) freeIdentifiers(arg, bound, out);
      break;
    case 'listExpr':
      for (const element of kind.value.elements) freeIdentifiers(element, bound, out);
      break;
    case 'structExpr':
      for (const entry of kind.value.entries) {
        if (entry.keyKind.case === 'mapKey') freeIdentifiers(entry.keyKind.value, bound, out);
        freeIdentifiers(entry.value, bound, out);
      }
      break;
    case 'comprehensionExpr': {
      const c = kind.value;
      freeIdentifiers(c.iterRange, bound, out);
      freeIdentifiers(c.accuInit, bound, out);
      const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter((n) => n !== ''));
      freeIdentifiers(c.loopCondition, inner, out);
      freeIdentifiers(c.loopStep, inner, out);
      freeIdentifiers(c.result, inner, out);
      break;
    }
    default:
      break;
  }
  return out;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
