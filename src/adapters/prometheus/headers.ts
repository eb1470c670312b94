// Request headers for a metric: custom headers (Prometheus and web) and basic/bearer auth
// (Prometheus), with values from Secrets. Pure once the Secrets are read (see factory.ts).
import type { Result } from '../../core/shared/result.ts';
import type { Header, PrometheusProvider as PrometheusSpec, ValueOrSecret } from '../../api/analysis.ts';
import type { SecretKeyRef } from '../../api/meta.ts';
import { lookupSecret, type SecretData } from '../../core/shared/secrets.ts';

/** Names of the Secrets a provider block reads. */
export function secretNamesOfPrometheus(spec: PrometheusSpec): string[] {
  const refs: SecretKeyRef[] = [];
  for (const h of spec.headers ?? []) if (h.valueFrom?.secretKeyRef) refs.push(h.valueFrom.secretKeyRef);
  const auth = spec.authentication;
  for (const v of [auth?.basic?.username, auth?.basic?.password, auth?.bearer?.token]) if (v?.secretKeyRef) refs.push(v.secretKeyRef);
  return [...new Set(refs.map((r) => r.name))];
}

function valueOf(v: ValueOrSecret, what: string, secrets: SecretData, namespace: string): Result<string> {
  if (v.value !== undefined) return { ok: true, value: v.value };
  if (v.secretKeyRef) {
    const found = lookupSecret(v.secretKeyRef, secrets, namespace);
    return found.ok ? { ok: true, value: stripNewline(found.value) } : { ok: false, error: `${what}: ${found.error}` };
  }
  return { ok: false, error: `${what}: set value or secretKeyRef` };
}

/** Secrets written with `echo` end in a newline, which no header value may hold. */
const stripNewline = (value: string) => value.replace(/[\r\n]+$/, '');

/** Names of the Secrets a list of headers reads. */
export function secretNamesOfHeaders(headers: readonly Header[] | undefined): string[] {
  return [...new Set((headers ?? []).flatMap((h) => (h.valueFrom?.secretKeyRef ? [h.valueFrom.secretKeyRef.name] : [])))];
}

/** Header name -> value for `[{key, value}]` and `[{key, valueFrom}]`; a missing Secret or key is an error naming the header. */
export function headerValues(list: readonly Header[] | undefined, secrets: SecretData, namespace: string): Result<Record<string, string>> {
  const headers: Record<string, string> = {};
  for (const h of list ?? []) {
    if (h.value !== undefined) headers[h.key] = h.value;
    else if (h.valueFrom?.secretKeyRef) {
      const found = lookupSecret(h.valueFrom.secretKeyRef, secrets, namespace);
      if (!found.ok) return { ok: false, error: `header ${h.key}: ${found.error}` };
      headers[h.key] = stripNewline(found.value);
    } else return { ok: false, error: `header ${h.key}: set value or valueFrom` };
  }
  return checkHeaderValues(headers);
}

function checkHeaderValues(headers: Record<string, string>): Result<Record<string, string>> {
  for (const [key, value] of Object.entries(headers)) {
    if (/[\r\n\0]/.test(value)) return { ok: false, error: `header ${key}: the value contains a line break or NUL (check the Secret for a trailing newline)` };
  }
  return { ok: true, value: headers };
}

/** Header name -> value; a missing Secret or key is an error naming the header or the auth field. */
export function prometheusHeaders(spec: PrometheusSpec, secrets: SecretData, namespace: string): Result<Record<string, string>> {
  const custom = headerValues(spec.headers, secrets, namespace);
  if (!custom.ok) return custom;
  const headers = custom.value;
  const auth = spec.authentication;
  if (auth?.basic && auth.bearer) return { ok: false, error: 'authentication: set basic or bearer, not both' };
  if (auth?.basic) {
    const user = valueOf(auth.basic.username, 'authentication.basic.username', secrets, namespace);
    if (!user.ok) return user;
    const password = valueOf(auth.basic.password, 'authentication.basic.password', secrets, namespace);
    if (!password.ok) return password;
    if (user.value.includes(':')) return { ok: false, error: 'authentication.basic.username must not contain ":"' };
    headers.Authorization = `Basic ${Buffer.from(`${user.value}:${password.value}`, 'utf8').toString('base64')}`;
  } else if (auth?.bearer) {
    const token = valueOf(auth.bearer.token, 'authentication.bearer.token', secrets, namespace);
    if (!token.ok) return token;
    headers.Authorization = `Bearer ${token.value.trim()}`;
  }
  return checkHeaderValues(headers);
}
