// Analysis args: resolving values (literal, Secret, Rollout field) and `{{args.x}}` substitution. Pure.
import type { Argument } from '../../api/analysis.ts';
import { MASK, maskValues } from '../shared/mask.ts';
import type { Result } from '../shared/result.ts';
import { lookupSecret, type SecretData } from '../shared/secrets.ts';

/** A resolved arg; `secret` values are masked wherever text is recorded. */
export interface ArgValue {
  value: string;
  secret: boolean;
}
export type ArgValues = ReadonlyMap<string, ArgValue>;

/**
 * Values for the args of an AnalysisRun. Literal values are used as they are, secretKeyRef
 * values come from `secrets`. An arg without a value is an error naming it; a fieldRef left
 * in a run is too (only a Rollout can resolve it, when it creates the run).
 */
export function resolveRunArgs(args: readonly Argument[] | undefined, secrets: SecretData, namespace: string): Result<Map<string, ArgValue>> {
  const out = new Map<string, ArgValue>();
  for (const arg of args ?? []) {
    if (arg.value !== undefined) {
      out.set(arg.name, { value: arg.value, secret: false });
    } else if (arg.valueFrom?.secretKeyRef) {
      const found = lookupSecret(arg.valueFrom.secretKeyRef, secrets, namespace);
      if (!found.ok) return { ok: false, error: `arg "${arg.name}": ${found.error}` };
      out.set(arg.name, { value: found.value, secret: true });
    } else if (arg.valueFrom?.fieldRef) {
      return { ok: false, error: `arg "${arg.name}": fieldRef ${arg.valueFrom.fieldRef.fieldPath} is only resolved when a Rollout starts the analysis` };
    } else {
      return { ok: false, error: `arg "${arg.name}" has no value: set value or valueFrom, or pass it from the Rollout` };
    }
  }
  return { ok: true, value: out };
}

/** Names of the Secrets an arg list reads. */
export function secretNamesOfArgs(args: readonly Argument[] | undefined): string[] {
  return (args ?? []).flatMap((a) => (a.valueFrom?.secretKeyRef ? [a.valueFrom.secretKeyRef.name] : []));
}

const PLACEHOLDER = /\{\{\s*args\.([A-Za-z0-9_.-]+?)\s*\}\}/g;

/** The arg names a text refers to with `{{args.x}}`. */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
}

/**
 * Replaces every `{{args.x}}`. Returns the text to use and the text to record (Secret values
 * masked). An unknown name is an error listing the args there are.
 */
export function substituteArgs(text: string, args: ArgValues): Result<{ text: string; display: string }> {
  const missing = placeholdersIn(text).filter((name) => !args.has(name));
  if (missing.length > 0) {
    const known = [...args.keys()];
    return {
      ok: false,
      error: `${[...new Set(missing)].map((n) => `{{args.${n}}}`).join(', ')} not defined (args: ${known.length ? known.join(', ') : 'none'})`,
    };
  }
  const replace = (masked: boolean) =>
    text.replace(PLACEHOLDER, (_all, name: string) => {
      const arg = args.get(name) as ArgValue;
      return masked && arg.secret ? MASK : arg.value;
    });
  return { ok: true, value: { text: replace(false), display: replace(true) } };
}

/** Masks every Secret value that appears in a text (error messages may echo the query). */
export function maskSecrets(text: string, args: ArgValues): string {
  return maskValues(
    text,
    [...args.values()].filter((a) => a.secret).map((a) => a.value),
  );
}

/**
 * Reads a field of an object by a Kubernetes-style field path: `metadata.name`,
 * `metadata.labels['app']`, `metadata.annotations["a/b"]`, `spec.template.metadata.labels.app`.
 * Strings, numbers and booleans become strings; anything else is an error.
 */
export function resolveFieldPath(obj: unknown, path: string): Result<string> {
  const segments = parseFieldPath(path);
  if (!segments.ok) return segments;
  let current: unknown = obj;
  for (const segment of segments.value) {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) {
      return { ok: false, error: `fieldRef ${path}: not set` };
    }
    current = (current as Record<string, unknown>)[segment];
  }
  if (current === undefined || current === null) return { ok: false, error: `fieldRef ${path}: not set` };
  if (typeof current === 'string' || typeof current === 'number' || typeof current === 'boolean') return { ok: true, value: String(current) };
  return { ok: false, error: `fieldRef ${path}: is an ${Array.isArray(current) ? 'array' : 'object'}, not a value` };
}

function parseFieldPath(path: string): Result<string[]> {
  const segments: string[] = [];
  const token = /\.?([A-Za-z0-9_-]+)|\[\s*'([^']*)'\s*\]|\[\s*"([^"]*)"\s*\]/y;
  let index = 0;
  while (index < path.length) {
    token.lastIndex = index;
    const m = token.exec(path);
    if (!m || (index === 0 && path.startsWith('.'))) {
      return { ok: false, error: `fieldRef ${path}: not a field path (expected e.g. metadata.name or metadata.labels['app'])` };
    }
    segments.push((m[1] ?? m[2] ?? m[3]) as string);
    index = token.lastIndex;
  }
  if (segments.length === 0) return { ok: false, error: 'fieldRef: empty field path' };
  return { ok: true, value: segments };
}
