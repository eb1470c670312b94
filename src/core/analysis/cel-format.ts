// Values as a person reads them in explanations: numbers as Prometheus writes them, CEL lists and
// maps; and a web metric's value as Argo Rollouts records it (compact JSON, keys sorted). Pure.
import { isCelList, isCelMap, type CelValue } from '@bufbuild/cel';
import type { JsonValue } from './json-path.ts';

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
  if (isCelMap(value)) return `{${[...value.entries()].map(([k, v]) => `${formatCel(k)}: ${formatCel(v)}`).join(', ')}}`;
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${JSON.stringify(k)}: ${formatCel(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/**
 * A JSON value as Argo Rollouts shows a web metric's value: compact JSON with the keys of every
 * object sorted (`{"a":1,"b":[true,"x"]}`, a string with its quotes: `"1"`).
 */
export function formatJson(value: JsonValue): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(formatJson).join(',')}]`;
  return `{${Object.keys(value)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${formatJson(value[k] as JsonValue)}`)
    .join(',')}}`;
}

export function celTypeName(value: unknown): string {
  if (typeof value === 'number') return 'double';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (value === null) return 'null';
  if (Array.isArray(value) || isCelList(value)) return 'list';
  if (isCelMap(value) || typeof value === 'object') return 'map';
  return typeof value;
}
