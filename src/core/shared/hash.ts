// The pod-template hash: a short, stable digest of a pod template.
import { createHash } from 'node:crypto';

/** JSON with object keys sorted, so equal templates give equal text whatever the key order. */
export function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789'; // Kubernetes' alphabet for hashes in names: no vowels, no look-alikes

/** Hashes of frozen templates (the controller's parses are frozen all the way down), which cannot change after hashing. */
const hashOfFrozen = new WeakMap<object, string>();

/** A 10-character hash of the pod template, safe for names and label values. */
export function podTemplateHash(template: unknown): string {
  const t = template as { spec?: unknown; metadata?: unknown } | null;
  const frozen = t !== null && typeof t === 'object' && Object.isFrozen(t) && Object.isFrozen(t.spec ?? {}) && Object.isFrozen(t.metadata ?? {});
  const known = frozen ? hashOfFrozen.get(t) : undefined;
  if (known) return known;
  const digest = createHash('sha256').update(stableStringify(template)).digest();
  let out = '';
  for (let i = 0; i < 10; i++) out += SAFE[(digest[i] as number) % SAFE.length];
  if (frozen) hashOfFrozen.set(t, out);
  return out;
}
