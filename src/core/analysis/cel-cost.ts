// The static cost estimate of a CEL condition: an upper bound of one evaluation's work from the
// size of every literal and a `result` of MAX_RESULT_ELEMENTS (see cel.ts for the budget). Pure.
import type { parse } from '@bufbuild/cel';
import type { JsonValue } from './json-path.ts';

type Expr = ReturnType<typeof parse>['expr'];

/** The estimated work of one evaluation: cost units (about one interpreter step each) and comprehension steps. */
export interface ConditionCost {
  cost: number;
  iterations: number;
}

/** Cost units of one call or operator: the interpreter dispatching it. */
const DISPATCH = 10;
/** The functions cel.ts adds to the environment: an in-place append (map/filter) and the step counter. */
export const APPEND = '@sluice_append';
export const TICK = '@sluice_tick';

// The static cost estimate

/**
 * An upper bound of a value's size: `len` its length as a list or map, `text` its length as a
 * string or bytes, `total` the work of walking it whole (1 + the totals of its elements),
 * `chain` how deep lists concatenated with `+` nest (walking costs that much per element),
 * `elem` the bound of its elements (for a map: keys and values). A value that may be one of
 * several types (a `?:`) has the largest of each.
 */
interface Shape {
  len: number;
  text: number;
  total: number;
  chain: number;
  elem?: Shape;
}
const SCALAR: Shape = { len: 0, text: 0, total: 1, chain: 1 };
const textShape = (n: number): Shape => ({ len: 0, text: n, total: n + 1, chain: 1 });

function join(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (!a) return b;
  if (!b) return a;
  const elem = join(a.elem, b.elem);
  return {
    len: Math.max(a.len, b.len),
    text: Math.max(a.text, b.text),
    total: Math.max(a.total, b.total),
    chain: Math.max(a.chain, b.chain),
    ...(elem ? { elem } : {}),
  };
}

interface Estimate {
  shape: Shape;
  cost: number;
  iterations: number;
}

/** The work of one evaluation of `expr` (as rewritten by `bounded`) with a result of `resultLength` elements: an upper bound. */
export function estimateCost(expr: Expr, resultLength: number): ConditionCost {
  return estimateCostForShape(expr, { len: resultLength, text: 0, total: resultLength + 1, chain: 1, elem: SCALAR });
}

/**
 * The work of one evaluation with `result` bound to this very value (a web metric's JSON): its
 * shape is measured rather than assumed, so the bound holds for nested lists, maps and strings.
 */
export function estimateCostForValue(expr: Expr, value: JsonValue): ConditionCost {
  return estimateCostForShape(expr, shapeOfJson(value, 0));
}

function estimateCostForShape(expr: Expr, result: Shape): ConditionCost {
  const e = estimate(expr, new Map([['result', result]]));
  return { cost: e.cost, iterations: e.iterations };
}

/** Deeper than this, a value counts as too large to estimate (the web provider refuses such replies before). */
const MAX_SHAPE_DEPTH = 128;
const UNBOUNDED: Shape = { len: Infinity, text: Infinity, total: Infinity, chain: 1 };

/**
 * The shape of a JSON value: its own length or text, the work of walking it, and for a list or
 * map the bound of its elements (a map's keys and values) joined over all of them.
 */
function shapeOfJson(value: JsonValue, depth: number): Shape {
  if (typeof value === 'string') return textShape(value.length);
  if (value === null || typeof value !== 'object') return SCALAR;
  if (depth > MAX_SHAPE_DEPTH) return UNBOUNDED;
  let elem: Shape | undefined;
  let total = 1;
  const add = (s: Shape) => {
    total += s.total;
    elem = join(elem, s);
  };
  if (Array.isArray(value)) {
    for (const v of value) add(shapeOfJson(v, depth + 1));
    return { len: value.length, text: 0, total, chain: 1, elem: elem ?? SCALAR };
  }
  const keys = Object.keys(value);
  for (const k of keys) {
    add(textShape(k.length));
    add(shapeOfJson(value[k] as JsonValue, depth + 1));
  }
  return { len: keys.length, text: 0, total, chain: 1, elem: elem ?? SCALAR };
}

const walk = (s: Shape) => s.total * s.chain;

function estimate(expr: Expr | undefined, scope: ReadonlyMap<string, Shape>): Estimate {
  if (!expr) return { shape: SCALAR, cost: 1, iterations: 0 };
  const kind = expr.exprKind;
  switch (kind.case) {
    case 'constExpr': {
      const v = kind.value.constantKind.value;
      return { shape: typeof v === 'string' || v instanceof Uint8Array ? textShape(v.length) : SCALAR, cost: 1, iterations: 0 };
    }
    case 'identExpr':
      return { shape: scope.get(kind.value.name) ?? SCALAR, cost: 1, iterations: 0 };
    case 'selectExpr': {
      const operand = estimate(kind.value.operand, scope);
      return { shape: kind.value.testOnly ? SCALAR : (operand.shape.elem ?? SCALAR), cost: operand.cost + 1, iterations: operand.iterations };
    }
    case 'listExpr':
    case 'structExpr': {
      const parts =
        kind.case === 'listExpr'
          ? kind.value.elements.map((e) => [e])
          : kind.value.entries.map((en) => [en.keyKind.case === 'mapKey' ? en.keyKind.value : undefined, en.value]);
      let cost = 1;
      let iterations = 0;
      let total = 1;
      let elem: Shape | undefined;
      for (const part of parts) {
        for (const sub of part) {
          if (!sub) continue;
          const e = estimate(sub, scope);
          cost += e.cost + 1;
          iterations += e.iterations;
          total += e.shape.total;
          elem = join(elem, e.shape);
        }
      }
      return { shape: { len: parts.length, text: 0, total, chain: 1, elem: elem ?? SCALAR }, cost, iterations };
    }
    case 'callExpr':
      return estimateCall(kind.value.function, [...(kind.value.target ? [kind.value.target] : []), ...kind.value.args], scope);
    case 'comprehensionExpr': {
      const c = kind.value;
      const range = estimate(c.iterRange, scope);
      const init = estimate(c.accuInit, scope);
      const n = range.shape.len;
      const inner = new Map(scope);
      inner.set(c.iterVar, range.shape.elem ?? SCALAR);
      if (c.iterVar2) inner.set(c.iterVar2, range.shape.elem ?? SCALAR);
      // The accumulator grows by the same amount each step (the macros' steps add to it, the
      // condition cannot refer to it): one step from its initial value gives the slope.
      inner.set(c.accuVar, init.shape);
      const first = estimate(c.loopStep, inner).shape;
      const grow = (key: 'len' | 'text' | 'total' | 'chain') => init.shape[key] + n * Math.max(0, first[key] - init.shape[key]);
      const elem = join(init.shape.elem, first.elem);
      inner.set(c.accuVar, { len: grow('len'), text: grow('text'), total: grow('total'), chain: grow('chain'), ...(elem ? { elem } : {}) });
      const cond = estimate(c.loopCondition, inner);
      const step = estimate(c.loopStep, inner);
      const res = estimate(c.result, inner);
      return {
        shape: res.shape,
        // Iterating materialises the range's elements (each one `chain` deep), then runs condition and step per element.
        cost: range.cost + n * range.shape.chain + init.cost + n * (cond.cost + step.cost + 1) + res.cost,
        iterations: range.iterations + init.iterations + n * (1 + cond.iterations + step.iterations) + res.iterations,
      };
    }
    default:
      return { shape: SCALAR, cost: 1, iterations: 0 };
  }
}

/** The cost of a call (its arguments, the dispatch, the work on the arguments) and the shape of what it returns. */
function estimateCall(fn: string, argExprs: Expr[], scope: ReadonlyMap<string, Shape>): Estimate {
  const args = argExprs.map((a) => estimate(a, scope));
  const sub = args.reduce((sum, a) => sum + a.cost, 0);
  const iterations = args.reduce((sum, a) => sum + a.iterations, 0);
  const [a = SCALAR, b = SCALAR, c = SCALAR] = args.map((x) => x.shape);
  // A library function (operators included) costs about ten steps to choose among its overloads.
  const done = (shape: Shape, work: number) => ({ shape, cost: DISPATCH + sub + work, iterations });
  // Evaluated by the planner itself, or one of ours: no dispatch.
  const internal = (shape: Shape) => ({ shape, cost: 2 + sub, iterations });
  switch (fn) {
    case '_+_': {
      // Numbers add; strings concatenate (as ropes); lists concatenate lazily, one level deeper.
      const elem = join(a.elem, b.elem);
      if (!elem && a.text + b.text === 0) return done(SCALAR, 1);
      return done(
        { len: a.len + b.len, text: a.text + b.text, total: a.total + b.total, chain: elem ? Math.max(a.chain, b.chain) + 1 : 1, ...(elem ? { elem } : {}) },
        1,
      );
    }
    case APPEND: {
      const elem = join(a.elem, b);
      return internal({ len: a.len + 1, text: 0, total: a.total + b.total, chain: a.chain, ...(elem ? { elem } : {}) });
    }
    case TICK:
      return internal(a);
    case '_&&_':
    case '_||_':
    case '@not_strictly_false':
      return internal(SCALAR);
    case '_?_:_': {
      // Planned as a branch: only one side runs.
      const [test, then, otherwise] = args;
      return {
        shape: join(b, c) ?? SCALAR,
        cost: 2 + (test?.cost ?? 0) + Math.max(then?.cost ?? 0, otherwise?.cost ?? 0),
        iterations: (test?.iterations ?? 0) + Math.max(then?.iterations ?? 0, otherwise?.iterations ?? 0),
      };
    }
    case 'dyn':
      return done(a, 1);
    case '_[_]':
    case '_[?_]':
      return done(a.elem ?? SCALAR, a.chain + walk(b));
    case '_==_':
    case '_!=_':
    case '@in':
      return done(SCALAR, walk(a) + walk(b));
    case 'matches':
      // RE2 matches in linear time, but the pattern is compiled on every call: about 200 units per pattern character.
      return done(SCALAR, (a.text + 201) * (b.text + 1));
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return done(SCALAR, (a.text + 1) * (b.text + 1));
    case 'size':
      return done(SCALAR, 1 + a.text); // a list's or map's size is kept; a string's is counted
    case 'string':
    case 'bytes': {
      const text = 4 * a.text + 40; // a number as text, or UTF-8 bytes of up to 4 per character
      return done(textShape(text), text);
    }
    default:
      // Arithmetic, comparisons, conversions, time functions: numbers out, at most one walk of the arguments.
      return done(
        SCALAR,
        args.reduce((sum, x) => sum + walk(x.shape), 0),
      );
  }
}

export function depthOf(root: Expr): number {
  let max = 0;
  const stack: Array<[Expr | undefined, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [expr, depth] = stack.pop() as [Expr | undefined, number];
    if (!expr) continue;
    max = Math.max(max, depth);
    const kind = expr.exprKind;
    const children: Array<Expr | undefined> =
      kind.case === 'selectExpr'
        ? [kind.value.operand]
        : kind.case === 'callExpr'
          ? [kind.value.target, ...kind.value.args]
          : kind.case === 'listExpr'
            ? kind.value.elements
            : kind.case === 'structExpr'
              ? kind.value.entries.flatMap((en) => [en.keyKind.case === 'mapKey' ? en.keyKind.value : undefined, en.value])
              : kind.case === 'comprehensionExpr'
                ? [kind.value.iterRange, kind.value.accuInit, kind.value.loopCondition, kind.value.loopStep, kind.value.result]
                : [];
    for (const child of children) stack.push([child, depth + 1]);
  }
  return max;
}

export function formatCount(n: number): string {
  if (!Number.isFinite(n) || n >= 1e15) return 'more than 10^15';
  return Math.round(n).toLocaleString('en-US');
}
