// Success and failure conditions in CEL, through @bufbuild/cel (never eval). Pure.
// A condition sees one variable, `result`: a double for a scalar, a list of doubles otherwise.
// Compiling checks the syntax and the variables up front (admission cannot compile CEL held
// in a string field), and `explainCondition` turns an outcome into words such as `0.23 > 0.05`.
import type { Result } from '../shared/result.ts';
import { celEnv, isCelError, isCelList, parse, plan, unparse, type CelValue } from '@bufbuild/cel';

type Expr = ReturnType<typeof parse>['expr'];
type Program = (bindings: { result: number | number[] }) => unknown;

/** What `result` is bound to when a condition runs. */
export type ConditionInput = number | number[];

export interface CompiledCondition {
  readonly source: string;
  readonly ast: Expr;
  readonly program: Program;
}

const env = celEnv();

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
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    return { ok: false, error: `syntax error: ${messageOf(err)}` };
  }
  const unknown = [...freeIdentifiers(parsed.expr)].filter((name) => name !== 'result' && !TYPE_NAMES.has(name));
  if (unknown.length > 0) {
    return { ok: false, error: `unknown variable ${unknown.map((n) => `"${n}"`).join(', ')}: a condition can only use "result"` };
  }
  let program: Program;
  try {
    program = plan(env, parsed) as unknown as Program;
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
  return { ok: true, value: { source, ast: parsed.expr, program } };
}

/** Runs a condition; anything but true or false is an error the caller turns into an error measurement. */
export function evaluateCondition(condition: CompiledCondition, input: ConditionInput): Result<boolean> {
  const value = runExpr(condition.program, input);
  if (!value.ok) return value;
  if (typeof value.value !== 'boolean') {
    return { ok: false, error: `returned ${formatCel(value.value)} (${celTypeName(value.value)}), expected true or false` };
  }
  return { ok: true, value: value.value };
}

function runExpr(program: Program, input: ConditionInput): Result<unknown> {
  try {
    const value = program({ result: input });
    if (isCelError(value)) return { ok: false, error: value.message };
    return { ok: true, value };
  } catch (err) {
    return { ok: false, error: messageOf(err) };
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
    return explain(condition.ast, input, outcome) ?? `${condition.source} is ${outcome}`;
  } catch {
    return `${condition.source} is ${outcome}`;
  }
}

function explain(expr: Expr, input: ConditionInput, outcome: boolean): string | undefined {
  if (expr.exprKind.case !== 'callExpr') return fallback(expr, outcome);
  const call = expr.exprKind.value;
  const fn = call.function;
  const [left, right] = call.args;
  if (AS_WRITTEN[fn] && left && right && call.args.length === 2) {
    const l = evalSub(left, input);
    const r = evalSub(right, input);
    if (!l.ok || !r.ok) return fallback(expr, outcome);
    const op = outcome ? AS_WRITTEN[fn] : NEGATED[fn];
    return `${describeSide(left, l.value)} ${op} ${describeSide(right, r.value)}`;
  }
  if ((fn === '_&&_' || fn === '_||_') && call.args.length === 2) {
    // && is decided by a false part, || by a true part; otherwise every part counts.
    const decidingValue = fn === '_&&_' ? false : true;
    if (outcome === decidingValue) {
      for (const arg of call.args) {
        const v = evalSub(arg, input);
        if (v.ok && v.value === decidingValue) return explain(arg, input, decidingValue);
      }
      return fallback(expr, outcome);
    }
    const parts = call.args.map((arg) => explain(arg, input, outcome));
    return parts.every((p) => p !== undefined) ? parts.join(' and ') : fallback(expr, outcome);
  }
  if (fn === '!_' && left && call.args.length === 1) return explain(left, input, !outcome);
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

function evalSub(expr: Expr, input: ConditionInput): Result<unknown> {
  let program: Program;
  try {
    program = plan(env, expr) as unknown as Program;
  } catch (err) {
    return { ok: false, error: messageOf(err) };
  }
  return runExpr(program, input);
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

/** Numbers as Prometheus writes them (+Inf, -Inf, NaN), lists as [a, b]. */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

export function formatCel(value: unknown): string {
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'bigint' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return `[${value.map(formatCel).join(', ')}]`;
  if (isCelList(value)) return `[${[...(value as Iterable<CelValue>)].map(formatCel).join(', ')}]`;
  return String(value);
}

function celTypeName(value: unknown): string {
  if (typeof value === 'number') return 'double';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'string') return 'string';
  if (value === null) return 'null';
  if (Array.isArray(value) || isCelList(value)) return 'list';
  return typeof value;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
