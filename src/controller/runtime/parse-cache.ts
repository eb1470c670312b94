// Parses informer objects once per version. An informer replaces an object on every change and
// never edits one in place, so the object itself is the key: a reconcile woken again by an
// unrelated event reuses the parse of every ReplicaSet, pod and Service it already saw (zod's
// parse was the largest item in a CPU profile of a busy controller). The results are frozen,
// since one parse now serves many reconciles: a planner that edited its input would throw.
import type { z } from 'zod';

type SafeResult<T> = { success: true; data: T } | { success: false; error: z.ZodError };

export class ParseCache<S extends z.ZodType> {
  private readonly schema: S;
  private readonly seen = new WeakMap<object, SafeResult<z.output<S>>>();
  private readonly prepare: (raw: object) => unknown;

  /** `prepare` turns the cached object into the schema's input (e.g. adds apiVersion and kind). */
  constructor(schema: S, prepare: (raw: object) => unknown = (raw) => raw) {
    this.schema = schema;
    this.prepare = prepare;
  }

  safeParse(raw: object): SafeResult<z.output<S>> {
    const hit = this.seen.get(raw);
    if (hit) return hit;
    const result = this.schema.safeParse(this.prepare(raw)) as SafeResult<z.output<S>>;
    if (result.success) deepFreeze(result.data);
    this.seen.set(raw, result);
    return result;
  }

  /** Like zod's parse: throws on an object that does not parse. */
  parse(raw: object): z.output<S> {
    const result = this.safeParse(raw);
    if (!result.success) throw result.error;
    return result.data;
  }
}

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== 'object' || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const v of Object.values(value)) deepFreeze(v);
}
