// Secret contents as plain data, pure. Kubernetes semantics: a read returns `data` (base64);
// `stringData` is a write-only convenience the API server folds into `data`, so a Secret read
// back never has it and nothing here looks at it.
import { z } from 'zod';
import type { SecretKeyRef } from '../../api/meta.ts';
import type { Result } from './result.ts';

/**
 * What a Secret is read for. Analysis and notifications send values to addresses a namespace's
 * users choose (auth headers of a metrics query, a channel's token), so a Secret must opt in to
 * those uses with a label; Git credentials are read as the GitSync's ServiceAccount (its RBAC
 * decides) and a webhook secret only checks signatures, never leaves the controller.
 */
export type SecretUse = 'analysis' | 'notifications' | 'git' | 'webhook';

const OPT_IN_LABELS: Partial<Record<SecretUse, string>> = {
  analysis: 'sluice.dev/allow-analysis',
  notifications: 'sluice.dev/allow-notifications',
};

/** The label (value "true") a Secret needs before it may be used this way, if any. */
export function optInLabel(use: SecretUse): string | undefined {
  return OPT_IN_LABELS[use];
}

/** Whether a Secret object may be used this way; the error says how to opt in. */
export function checkSecretUse(obj: { metadata?: { namespace?: string; name?: string; labels?: Record<string, string> } }, use: SecretUse): Result<true> {
  const label = optInLabel(use);
  if (!label || obj.metadata?.labels?.[label] === 'true') return { ok: true, value: true };
  return {
    ok: false,
    error: `Secret ${obj.metadata?.namespace}/${obj.metadata?.name} is not allowed for ${use}: a Secret opts in with the label ${label}=true`,
  };
}

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
