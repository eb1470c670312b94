// Values as a person reads them in explanations: numbers as Prometheus writes them, CEL lists. Pure.
import { isCelList, type CelValue } from '@bufbuild/cel';

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

export function celTypeName(value: unknown): string {
  if (typeof value === 'number') return 'double';
  if (typeof value === 'bigint') return 'int';
  if (typeof value === 'string') return 'string';
  if (value === null) return 'null';
  if (Array.isArray(value) || isCelList(value)) return 'list';
  return typeof value;
}
