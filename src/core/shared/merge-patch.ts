// JSON merge patch (RFC 7386) between two documents, pure.
import { stableStringify } from './hash.ts';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The merge patch that turns `from` into `to`: changed keys with their new value, removed keys
 * as null, objects recursively, arrays and scalars whole. undefined when nothing changes.
 * (Documents must not hold null values: in a merge patch null means "remove".)
 */
export function mergePatchBetween(from: unknown, to: unknown): unknown {
  if (!isObject(from) || !isObject(to)) return stableStringify(from) === stableStringify(to) ? undefined : to;
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(from)) if (from[key] !== undefined && to[key] === undefined) patch[key] = null;
  for (const [key, value] of Object.entries(to)) {
    if (value === undefined) continue;
    const sub = from[key] === undefined ? value : mergePatchBetween(from[key], value);
    if (sub !== undefined) patch[key] = sub;
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}
