// What a condition's `result` is bound to, as CEL values. Pure.
import { celList, celMap, type CelValue } from '@bufbuild/cel';
import type { JsonValue } from './json-path.ts';

/**
 * What `result` is bound to when a condition runs: a number or a list of numbers (Prometheus),
 * or any JSON value (a web metric).
 */
export type ConditionInput = JsonValue;

/** A number or a list of numbers: what the compile-time estimate assumes (Prometheus results). */
export function isNumbers(input: ConditionInput): input is number | number[] {
  return typeof input === 'number' || (Array.isArray(input) && input.every((x) => typeof x === 'number'));
}

/** JSON values as CEL values, converted once per input (explanations evaluate several parts with it). */
const converted = new WeakMap<object, CelValue>();

/** Numbers stay doubles, strings, bools and null stay themselves, lists and objects become CEL lists and maps. */
export function toCelValue(input: ConditionInput): CelValue {
  if (input === null || typeof input !== 'object') return input;
  const hit = converted.get(input);
  if (hit) return hit;
  // By hand rather than the library's own conversion, which reads `constructor` of a plain
  // object (a JSON key "constructor" breaks it) and converts nested values again on every access.
  const value = Array.isArray(input)
    ? celList(input.map(toCelValue))
    : celMap(new Map(Object.entries(input).map(([k, v]): [string, CelValue] => [k, toCelValue(v)])));
  converted.set(input, value);
  return value;
}
