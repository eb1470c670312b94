// A web metric's request with its args in place: `{{args.x}}` replaced in the url, the header
// values, the body and every string (keys too) of jsonBody, as Argo Rollouts replaces them, and
// the request as a measurement records it. Pure.
//
// Values go in as they are, as in Argo Rollouts: an arg may hold a whole URL, a path or an
// already-encoded query string. So `&`, `=`, `?`, `#` and `/` in a value keep their URL meaning
// (encode them, e.g. %26, when they are data); characters a URL cannot hold, such as spaces, are
// percent-encoded by the URL parser; control characters are refused. The address policy is
// checked on the URL as substituted, so no value can lead a request outside it.
import type { Header, WebMethod, WebProvider } from '../../api/analysis.ts';
import type { Result } from '../shared/result.ts';
import { redactText } from '../shared/redact.ts';
import { placeholdersIn, substituteArgs, type ArgValues } from './args.ts';

export interface WebRequest {
  /** The provider block with every value substituted (what the adapter sends). */
  web: WebProvider;
  /** `GET https://host/path?x=1` with Secret values masked and credentials redacted: the measurement's `query`. */
  display: string;
}

export const webMethod = (web: Pick<WebProvider, 'method'>): WebMethod => web.method ?? 'GET';

const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Substitutes the args. With `partial`, args missing from `args` are left as placeholders (to
 * check the address with literal values before any Secret is read). An unknown arg, a URL that
 * is not http(s) once substituted, or a header value with a line break is an error that never
 * quotes a value from a Secret.
 */
export function substituteWeb(web: WebProvider, args: ArgValues, opts: { partial?: boolean; checkUrl?: boolean } = {}): Result<WebRequest> {
  const url = substituteArgs(web.url, args, opts);
  if (!url.ok) return { ok: false, error: `url: ${url.error}` };
  if (CONTROL.test(url.value.text)) return { ok: false, error: 'url: contains a control character (a line break or tab in an arg value?)' };
  if (opts.checkUrl !== false && placeholdersIn(url.value.text).length === 0) {
    const parsed = parseHttpUrl(url.value.text);
    if (!parsed.ok) return { ok: false, error: `url ${redactText(url.value.display)}: ${parsed.error}` };
  }
  const headers: Header[] = [];
  for (const h of web.headers ?? []) {
    if (h.value === undefined) {
      headers.push(h);
      continue;
    }
    const value = substituteArgs(h.value, args, opts);
    if (!value.ok) return { ok: false, error: `header ${h.key}: ${value.error}` };
    if (/[\r\n\0]/.test(value.value.text)) return { ok: false, error: `header ${h.key}: the value contains a line break or NUL` };
    headers.push({ ...h, value: value.value.text });
  }
  let body: string | undefined;
  if (web.body !== undefined) {
    const b = substituteArgs(web.body, args, opts);
    if (!b.ok) return { ok: false, error: `body: ${b.error}` };
    body = b.value.text;
  }
  let jsonBody: WebProvider['jsonBody'];
  if (web.jsonBody !== undefined) {
    const j = substituteJson(web.jsonBody, args, opts);
    if (!j.ok) return { ok: false, error: `jsonBody: ${j.error}` };
    jsonBody = j.value as WebProvider['jsonBody'];
  }
  const substituted: WebProvider = {
    ...web,
    url: url.value.text,
    ...(web.headers ? { headers } : {}),
    ...(body !== undefined ? { body } : {}),
    ...(jsonBody !== undefined ? { jsonBody } : {}),
  };
  return { ok: true, value: { web: substituted, display: `${webMethod(web)} ${redactText(url.value.display)}` } };
}

/** An absolute http or https URL. */
export function parseHttpUrl(text: string): Result<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, error: 'not a URL (expected e.g. https://metrics.example/api/health)' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { ok: false, error: `only http and https URLs can be called, not ${url.protocol}` };
  return { ok: true, value: url };
}

/** `{{args.x}}` in every string of a JSON body, keys included (as Argo Rollouts' substitution over the whole metric does). */
function substituteJson(value: unknown, args: ArgValues, opts: { partial?: boolean }): Result<unknown> {
  if (typeof value === 'string') {
    const s = substituteArgs(value, args, opts);
    return s.ok ? { ok: true, value: s.value.text } : s;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const v of value) {
      const s = substituteJson(v, args, opts);
      if (!s.ok) return s;
      out.push(s.value);
    }
    return { ok: true, value: out };
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = substituteArgs(k, args, opts);
      if (!key.ok) return key;
      const s = substituteJson(v, args, opts);
      if (!s.ok) return s;
      Object.defineProperty(out, key.value.text, { value: s.value, enumerable: true, writable: true, configurable: true });
    }
    return { ok: true, value: out };
  }
  return { ok: true, value };
}

/** The `{{args.x}}` names a web provider block uses, by field (for checking them against the declared args). */
export function webPlaceholders(web: WebProvider): Array<{ field: string; names: string[] }> {
  const strings: string[] = [];
  const collect = (v: unknown) => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        strings.push(k);
        collect(x);
      }
  };
  collect(web.jsonBody);
  return [
    { field: 'url', names: placeholdersIn(web.url) },
    ...(web.headers ?? []).map((h) => ({ field: `header ${h.key}`, names: placeholdersIn(h.value ?? '') })),
    { field: 'body', names: placeholdersIn(web.body ?? '') },
    { field: 'jsonBody', names: strings.flatMap(placeholdersIn) },
    { field: 'jsonPath', names: placeholdersIn(web.jsonPath ?? '') },
  ].filter((p) => p.names.length > 0);
}
