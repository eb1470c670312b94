// Secret contents as plain data, pure. Kubernetes semantics: a read returns `data` (base64);
// `stringData` is a write-only convenience the API server folds into `data`, so a Secret read
// back never has it and nothing here looks at it.
import { z } from 'zod';
import type { SecretKeyRef } from '../../api/meta.ts';
import type { Result } from './result.ts';

/** Secrets read for one use: name -> key -> value, or undefined when the Secret does not exist. */
export type SecretData = ReadonlyMap<string, Readonly<Record<string, string>> | undefined>;

const SecretObject = z.object({ data: z.record(z.string(), z.string()).optional() });

/** The values of a Secret object as the API returns it; an object that is not a Secret is an error. */
export function decodeSecret(obj: unknown): Result<Record<string, string>> {
  const parsed = SecretObject.safeParse(obj);
  if (!parsed.success) return { ok: false, error: `not a Secret: ${parsed.error.issues[0]?.message ?? 'invalid'}` };
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed.data.data ?? {})) out[k] = Buffer.from(v, 'base64').toString('utf8');
  return { ok: true, value: out };
}

/** One key of a Secret from data already read, with an error naming what is missing. */
export function lookupSecret(ref: SecretKeyRef, secrets: SecretData, namespace: string): Result<string> {
  if (!secrets.has(ref.name) || secrets.get(ref.name) === undefined) {
    return { ok: false, error: `Secret ${namespace}/${ref.name} not found` };
  }
  const value = secrets.get(ref.name)?.[ref.key];
  if (value === undefined) return { ok: false, error: `Secret ${namespace}/${ref.name} has no key "${ref.key}"` };
  return { ok: true, value };
}
