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
 * masked). An unknown name is an error listing the args there are; with `partial`, it is left in
 * place (for checking what literal values make before a run reads its Secrets).
 */
export function substituteArgs(text: string, args: ArgValues, opts: { partial?: boolean } = {}): Result<{ text: string; display: string }> {
  const missing = placeholdersIn(text).filter((name) => !args.has(name));
  if (missing.length > 0 && !opts.partial) {
    const known = [...args.keys()];
    return {
      ok: false,
      error: `${[...new Set(missing)].map((n) => `{{args.${n}}}`).join(', ')} not defined (args: ${known.length ? known.join(', ') : 'none'})`,
    };
  }
  const replace = (masked: boolean) =>
    text.replace(PLACEHOLDER, (all, name: string) => {
      const arg = args.get(name);
      if (!arg) return all;
      return masked && arg.secret ? MASK : arg.value;
    });
  return { ok: true, value: { text: replace(false), display: replace(true) } };
}

/** Where a placeholder sits in a PromQL query. */
type QueryPlace = 'code' | '"' | "'" | '`' | 'comment';

/**
 * What may stand outside a string literal: a name (metric, label, function, keyword), a number
 * (decimal, exponent, hex, Inf, NaN, with a sign) or a duration such as 5m or 1h30m. One token,
 * so it cannot add selectors, operators or brackets to the query.
 */
const BARE_TOKEN =
  /^(?:[A-Za-z_:][A-Za-z0-9_:]*|[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|0[xX][0-9a-fA-F]+|[iI][nN][fF]|[nN][aA][nN])|(?:\d+(?:ms|s|m|h|d|w|y))+)$/;

/** A value written inside a PromQL string literal quoted with `quote`: backslash, the quote and control characters escaped. */
function escapeForString(value: string, quote: string): string {
  return value.replace(/[\\"'\x00-\x1f\x7f]/g, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '"' || c === "'") return c === quote ? `\\${c}` : c;
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/**
 * Replaces every `{{args.x}}` in a PromQL query, each for the place it goes, so that no value
 * can change what the query means:
 * - inside a "…" or '…' string literal: backslashes, the quote and control characters are escaped;
 * - inside a `…` raw string: a value with a backtick is refused (a raw string has no escapes);
 * - in a # comment: a value with a line break is refused;
 * - anywhere else: only a single name, number or duration is accepted (e.g. 5m in x[{{args.w}}]).
 * Returns the query to send and the one to record (Secret values masked). A refused value is an
 * error naming the arg (and, unless it comes from a Secret, the value). With `partial`, args
 * not in `args` are left in place unchecked (for checking literal values before a run starts).
 */
export function substitutePromQL(query: string, args: ArgValues, opts: { partial?: boolean } = {}): Result<{ text: string; display: string }> {
  if (!opts.partial) {
    const missing = substituteArgs(query, args);
    if (!missing.ok) return missing;
  }
  const placeholder = /\{\{\s*args\.([A-Za-z0-9_.-]+?)\s*\}\}/y;
  let text = '';
  let display = '';
  let place: QueryPlace = 'code';
  for (let i = 0; i < query.length;) {
    placeholder.lastIndex = i;
    const m = placeholder.exec(query);
    if (m) {
      const name = m[1] as string;
      const arg = args.get(name);
      i += m[0].length;
      if (!arg) {
        text += m[0];
        display += m[0];
        continue;
      }
      const written = writeArg(name, arg, place);
      if (!written.ok) return written;
      text += written.value;
      display += arg.secret ? MASK : written.value;
      continue;
    }
    const c = query[i] as string;
    text += c;
    display += c;
    i++;
    if (place === 'code') {
      if (c === '"' || c === "'" || c === '`') place = c;
      else if (c === '#') place = 'comment';
    } else if (place === 'comment') {
      if (c === '\n') place = 'code';
    } else if (c === place) {
      place = 'code';
    } else if (c === '\\' && place !== '`' && i < query.length) {
      text += query[i];
      display += query[i];
      i++; // an escaped character never ends the string
    }
  }
  return { ok: true, value: { text, display } };
}

function writeArg(name: string, arg: ArgValue, place: QueryPlace): Result<string> {
  const what = arg.secret
    ? `arg "${name}" (from a Secret)`
    : `arg "${name}": ${JSON.stringify(arg.value.length > 80 ? `${arg.value.slice(0, 80)}…` : arg.value)}`;
  switch (place) {
    case '"':
    case "'":
      return { ok: true, value: escapeForString(arg.value, place) };
    case '`':
      return arg.value.includes('`')
        ? { ok: false, error: `${what} contains a backtick, which a \`raw string\` in the query cannot hold: use "…" quotes around {{args.${name}}}` }
        : { ok: true, value: arg.value };
    case 'comment':
      return /[\r\n]/.test(arg.value)
        ? { ok: false, error: `${what} contains a line break, which would end the comment it is in` }
        : { ok: true, value: arg.value };
    case 'code':
      return BARE_TOKEN.test(arg.value)
        ? { ok: true, value: arg.value }
        : {
            ok: false,
            error:
              `${what} cannot go into the query outside a string literal: only a name, a number or a duration can ` +
              `(quote it, e.g. label="{{args.${name}}}", to use any text)`,
          };
  }
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
