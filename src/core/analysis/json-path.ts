// The `jsonPath` of a web metric: the subset of Kubernetes JSONPath (the syntax of kubectl
// -o jsonpath, which Argo Rollouts uses for `provider.web.jsonPath`) that selects one value. Pure.
//
// Written here rather than taken from npm: the JSONPath libraries implement RFC 9535 or
// Goessner's syntax (no `{…}` braces, other rules for missing keys and filters) and some of them
// evaluate filter expressions with `eval`; what Argo users write is Kubernetes' dialect, and only
// the part of it that selects a value is needed.
//
// Supported: `$` or `@` (the document), `.field` (`\.` escapes a dot), `['field']` and
// `["field"]` (the whole text is the key), `[n]` (negative counts from the end), `[*]` and `.*`
// (every element, or every value of an object in key order), `[start:end]` and `[start:end:step]`.
// The braces are optional: `{$.data.ok}`, `$.data.ok` and `.data.ok` are the same path. Refused
// with a message: text outside the braces, several `{…}` groups, filters `[?(…)]`, recursive
// descent `..`, unions `[a,b]` and `range`/`end`.
//
// Evaluation follows Kubernetes: a field missing from every value it is looked up in is an error
// ("not found"), one missing from only some of them drops those; null values are skipped by the
// steps after them; an index out of range is an error. The value a metric sees is the first match,
// as Argo Rollouts takes it.
import type { Result } from '../shared/result.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

type Step =
  { kind: 'field'; name: string } | { kind: 'index'; index: number } | { kind: 'wildcard' } | { kind: 'slice'; start?: number; end?: number; step?: number };

export interface JsonPath {
  /** The path as written. */
  readonly source: string;
  readonly steps: readonly Step[];
}

/** The path when a metric sets none: the whole document. */
export const DEFAULT_JSON_PATH = '{$}';

const MAX_PATH_LENGTH = 1024;

/** Parses a path; the error says what is wrong and where. */
export function parseJsonPath(source: string): Result<JsonPath> {
  const fail = (why: string): Result<JsonPath> => ({ ok: false, error: `jsonPath ${JSON.stringify(source)}: ${why}` });
  if (source.length > MAX_PATH_LENGTH) return fail(`longer than ${MAX_PATH_LENGTH} characters`);
  let text = source.trim();
  if (text === '') text = DEFAULT_JSON_PATH;
  if (text.startsWith('{')) {
    const close = closingBrace(text);
    if (close < 0) return fail('a "{" is not closed');
    if (text.slice(close + 1).trim() !== '') {
      return fail('only one {…} expression is supported (text or a second expression after it would be part of the value in Kubernetes JSONPath)');
    }
    text = text.slice(1, close).trim();
  } else if (braceOutsideQuotes(text)) {
    return fail('text before the {…} expression is not supported: write only the path, e.g. {$.data.ok}');
  }
  if (text.startsWith('$') || text.startsWith('@')) text = text.slice(1);
  const steps: Step[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (text.startsWith('..', i)) return fail('recursive descent ".." is not supported: name the fields from the top');
    if (c === '.') {
      i++;
      let name = '';
      while (i < text.length && !isTerminator(text[i] as string)) {
        if (text[i] === '\\' && i + 1 < text.length) i++;
        name += text[i];
        i++;
      }
      if (name === '') {
        if (i >= text.length) break; // `$.` or `.`: the document itself, as Kubernetes reads it
        return fail(`a field name is missing at position ${i}`);
      }
      steps.push(name === '*' ? { kind: 'wildcard' } : { kind: 'field', name });
      continue;
    }
    if (c === '[') {
      const parsed = bracket(text, i);
      if (!parsed.ok) return fail(parsed.error);
      steps.push(parsed.value.step);
      i = parsed.value.next;
      continue;
    }
    if (c === '}' || c === '{') return fail(`unexpected "${c}" at position ${i}`);
    return fail(`unexpected ${JSON.stringify(c)} at position ${i}: a path starts with $ and continues with .field, ['field'] or [index], e.g. {$.data.ok}`);
  }
  return { ok: true, value: { source, steps } };
}

function braceOutsideQuotes(text: string): boolean {
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '{') return true;
  }
  return false;
}

function closingBrace(text: string): number {
  let quote: string | undefined;
  for (let i = 1; i < text.length; i++) {
    const c = text[i] as string;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === '}') return i;
  }
  return -1;
}

const isTerminator = (c: string) =>
  c === '.' || c === '[' || c === ']' || c === '{' || c === '}' || c === ',' || c === ' ' || c === '\t' || c === '$' || c === '@';

function bracket(text: string, open: number): Result<{ step: Step; next: number }> {
  if (text.startsWith('[?', open))
    return { ok: false, error: 'filters [?(…)] are not supported: select the list and filter it in the condition, e.g. result.exists(x, x.name == "a")' };
  const quote = text[open + 1];
  if (quote === "'" || quote === '"') {
    let name = '';
    let i = open + 2;
    for (; i < text.length && text[i] !== quote; i++) {
      if (text[i] === '\\' && i + 1 < text.length) i++;
      name += text[i];
    }
    if (i >= text.length) return { ok: false, error: `a quoted field name at position ${open} is not closed` };
    let j = i + 1;
    while (text[j] === ' ') j++;
    if (text[j] === ',') return { ok: false, error: 'unions [a,b] are not supported: select one value' };
    if (text[j] !== ']') return { ok: false, error: `expected "]" after the quoted field name at position ${j}` };
    return { ok: true, value: { step: { kind: 'field', name }, next: j + 1 } };
  }
  const close = text.indexOf(']', open);
  if (close < 0) return { ok: false, error: `a "[" at position ${open} is not closed` };
  const inner = text.slice(open + 1, close).trim();
  const next = close + 1;
  if (inner === '*') return { ok: true, value: { step: { kind: 'wildcard' }, next } };
  if (inner.includes(',')) return { ok: false, error: 'unions [a,b] are not supported: select one value' };
  if (/^-?\d+$/.test(inner)) return { ok: true, value: { step: { kind: 'index', index: Number(inner) }, next } };
  const slice = /^(-?\d*):(-?\d*)(?::(-?\d*))?$/.exec(inner);
  if (slice) {
    const num = (s: string | undefined) => (s === undefined || s === '' ? undefined : Number(s));
    const step = num(slice[3]);
    if (step !== undefined && step <= 0) return { ok: false, error: `the step of [${inner}] must be greater than 0` };
    const start = num(slice[1]);
    const end = num(slice[2]);
    return {
      ok: true,
      value: {
        step: { kind: 'slice', ...(start !== undefined ? { start } : {}), ...(end !== undefined ? { end } : {}), ...(step !== undefined ? { step } : {}) },
        next,
      },
    };
  }
  return { ok: false, error: `[${inner}] is not an index, a quoted field name, [*] or a slice` };
}

/** What a path selected: every match, in document order. */
export type JsonPathMatches = JsonValue[];

/** Applies a path to a document. No match at all is an error, like a missing field. */
export function selectJsonPath(path: JsonPath, document: JsonValue): Result<JsonPathMatches> {
  let current: JsonValue[] = [document];
  let at = '$';
  for (const step of path.steps) {
    const next: JsonValue[] = [];
    // Kubernetes skips null values: a step after one finds nothing there.
    const inputs = current.filter((v) => v !== null);
    switch (step.kind) {
      case 'field': {
        for (const v of inputs) {
          if (isObject(v) && Object.hasOwn(v, step.name)) next.push(v[step.name] as JsonValue);
        }
        if (next.length === 0 && current.length > 0) {
          return { ok: false, error: `${fieldText(step.name)} not found in ${at} (${describeAll(current)})` };
        }
        break;
      }
      case 'index': {
        for (const v of inputs) {
          if (!Array.isArray(v)) return { ok: false, error: `[${step.index}]: ${at} is ${describeJson(v)}, not a list` };
          const i = step.index < 0 ? v.length + step.index : step.index;
          if (i < 0 || i >= v.length)
            return { ok: false, error: `[${step.index}]: index out of range, ${at} has ${v.length} element${v.length === 1 ? '' : 's'}` };
          next.push(v[i] as JsonValue);
        }
        break;
      }
      case 'wildcard': {
        for (const v of inputs) {
          if (Array.isArray(v)) next.push(...v);
          else if (isObject(v))
            next.push(
              ...Object.keys(v)
                .sort()
                .map((k) => v[k] as JsonValue),
            );
        }
        break;
      }
      case 'slice': {
        for (const v of inputs) {
          if (!Array.isArray(v)) return { ok: false, error: `[${sliceText(step)}]: ${at} is ${describeJson(v)}, not a list` };
          const clamp = (n: number) => Math.min(v.length, Math.max(0, n < 0 ? v.length + n : n));
          const start = clamp(step.start ?? 0);
          const end = clamp(step.end ?? v.length);
          for (let i = start; i < end; i += step.step ?? 1) next.push(v[i] as JsonValue);
        }
        break;
      }
    }
    at += stepText(step);
    current = next;
  }
  if (current.length === 0) return { ok: false, error: `nothing matches ${at}` };
  return { ok: true, value: current };
}

/** The value a web metric sees: the first match, as Argo Rollouts takes it. */
export function selectFirst(path: JsonPath, document: JsonValue): Result<{ value: JsonValue; matches: number }> {
  const matches = selectJsonPath(path, document);
  if (!matches.ok) return { ok: false, error: `jsonPath ${path.source}: ${matches.error}` };
  return { ok: true, value: { value: matches.value[0] as JsonValue, matches: matches.value.length } };
}

const isObject = (v: JsonValue): v is { [key: string]: JsonValue } => typeof v === 'object' && v !== null && !Array.isArray(v);

const fieldText = (name: string) => (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`);
const sliceText = (s: { start?: number; end?: number; step?: number }) => `${s.start ?? ''}:${s.end ?? ''}${s.step !== undefined ? `:${s.step}` : ''}`;

function stepText(step: Step): string {
  switch (step.kind) {
    case 'field':
      return fieldText(step.name);
    case 'index':
      return `[${step.index}]`;
    case 'wildcard':
      return '[*]';
    case 'slice':
      return `[${sliceText(step)}]`;
  }
}

/**
 * What a value is, without what it holds beyond a few key names: `an object with keys a, b, c
 * (and 4 more)`, `a list of 3`, `a string`, `null`. Messages end up in the run's status.
 */
export function describeJson(v: JsonValue): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return 'an empty object';
    const shown = keys.slice(0, 5).map((k) => (k.length > 24 ? `${k.slice(0, 24)}…` : k));
    return `an object with key${keys.length === 1 ? '' : 's'} ${shown.join(', ')}${keys.length > 5 ? ` (and ${keys.length - 5} more)` : ''}`;
  }
  return `a ${typeof v}`;
}

function describeAll(values: JsonValue[]): string {
  if (values.length === 1) return describeJson(values[0] as JsonValue);
  const objects = values.filter(isObject).length;
  return `${values.length} values, ${objects} of them object${objects === 1 ? '' : 's'}`;
}
