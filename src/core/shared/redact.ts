// Credentials out of text: URLs with userinfo, Authorization headers, token query parameters,
// and secret values a caller knows. Pure. One masker for status, Events, logs and errors.
//
// URL userinfo is removed the way a URL parser would find it, including the forms people do
// not expect to carry credentials: `https:///TOKEN@host/x` and `https:TOKEN@host` (a WHATWG
// parser skips any number of slashes after a special scheme), `https://u:p@host@evil` (the last
// `@` ends the userinfo), tabs and newlines inside the URL (dropped by the parser), backslashes
// (a delimiter for WHATWG, but not for git or curl: everything up to the last `@` goes).
// Where parsers disagree the wider reading is taken: over-redacting a message costs a little
// detail, under-redacting costs a credential.
import { maskValues } from './mask.ts';

/** What replaces a credential. */
export const REDACTED = '***';

/**
 * A URL without its userinfo, e.g. `https://***@host/x` for `https://user:pass@host/x` or for
 * `https:///TOKEN@host/x`. Anything that is not a URL with userinfo comes back unchanged (tabs
 * and newlines dropped, as a URL parser drops them).
 */
export function redactUrl(url: string): string {
  const s = url.replace(/[\t\n\r]/g, '');
  // A scheme, or a scheme-relative `//`, then slashes and backslashes. Backslashes after the last
  // slash belong to the authority: a slash to a WHATWG parser after http(s), userinfo after other
  // schemes; either way redacting them with the userinfo is safe. The authority runs to the
  // first `/`, `?` or `#`.
  const m = /^([\x00-\x20]*(?:[A-Za-z][A-Za-z0-9+.-]*:)?)([\\/]*)/.exec(s) as RegExpExecArray;
  const scheme = m[1] as string;
  const slashes = m[2] as string;
  if (!/:$/.test(scheme) && slashes.length < 2) return s;
  const keep = scheme.length + slashes.lastIndexOf('/') + 1;
  const authority = /^[^/?#]*/.exec(s.slice(keep))?.[0] ?? '';
  const at = authority.lastIndexOf('@');
  if (at <= 0) return s;
  return s.slice(0, keep) + REDACTED + s.slice(keep + at);
}

const isDelimiter = (c: string) => /[\s/?#'"<>`]/.test(c);
/** A scheme at a word boundary, and the backslashes after it. */
const SCHEME = /(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*:\\*/;

/**
 * Removes the userinfo of every URL inside a longer text, whitespace or quotes around it. Linear
 * in the length of the text (it runs on error messages of any size).
 */
function redactUrlsInText(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    if (isDelimiter(text[i] as string)) {
      out += text[i];
      i++;
      continue;
    }
    let end = i;
    while (end < text.length && !isDelimiter(text[end] as string)) end++;
    out += redactRun(text, i, end);
    i = end;
  }
  return out;
}

/** One run of text between delimiters: redacts the userinfo if the run is (or ends in) a URL authority. */
function redactRun(text: string, start: number, end: number): string {
  const run = text.slice(start, end);
  const at = run.lastIndexOf('@');
  if (at <= 0) return run;
  let from: number | undefined;
  // `https://u:p@h`, `https:/TOKEN@h`, `https:\\/T@h`, `//u:p@h`: the run follows slashes after a scheme, or two slashes.
  let slashes = 0;
  while (start - slashes - 1 >= 0 && (text[start - slashes - 1] === '/' || text[start - slashes - 1] === '\\')) slashes++;
  if (slashes >= 2 || (slashes === 1 && text[start - 2] === ':')) {
    from = 0;
  } else {
    // `https:TOKEN@host`, `x=https:\\u:p@h`: the scheme is in this run.
    const scheme = SCHEME.exec(run);
    if (scheme && scheme.index + scheme[0].length <= at) from = scheme.index + scheme[0].length;
  }
  if (from === undefined || from >= at) return run;
  return run.slice(0, from) + REDACTED + run.slice(at);
}

const AUTHORIZATION = /(\b(?:proxy-)?authorization\s*[:=]\s*)(?:(?:basic|bearer|token|digest|negotiate)\s+)?[^\s,;'"]+/gi;
const TOKEN_PARAMETER =
  /([?&](?:access_token|private_token|token|password|passwd|secret|api_key|apikey|sig|signature|x-amz-signature|x-goog-signature)=)[^&#\s'"]*/gi;

/**
 * Masks credentials in a text: the userinfo of every URL in it (any form, see redactUrl),
 * Authorization headers, token-like query parameters, and each of `secrets` as written and
 * percent-encoded (through maskValues, the masker for known secret values). Idempotent.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  const masked =
    secrets.length > 0
      ? maskValues(
          text,
          secrets.flatMap((s) => [s, encodeURIComponent(s)]),
        )
      : text;
  return redactUrlsInText(masked).replace(AUTHORIZATION, `$1${REDACTED}`).replace(TOKEN_PARAMETER, `$1${REDACTED}`);
}

/** Log fields whose value is a secret whatever it holds. */
const SECRET_KEYS = ['password', 'token', 'secret', 'privateKey', 'authorization', 'Authorization', 'cookie', 'bearer'];
/** Log fields that hold free text which may carry a URL with credentials. */
const TEXT_KEYS = ['url', 'address', 'err', 'error', 'message', 'why', 'problems', 'stderr'];

/**
 * Paths for pino's `redact` option (with `censor: censorLogValue`): secret fields at the top
 * level, one level down and in headers, and the free-text fields that may quote a URL.
 */
export const LOG_REDACT_PATHS: readonly string[] = [
  ...[...SECRET_KEYS, ...TEXT_KEYS].flatMap((k) => [k, `*.${k}`]),
  'headers.*',
  'req.headers.authorization',
  'req.headers.cookie',
];

/** pino's redact censor: secrets become `***`; free text goes through redactText. */
export function censorLogValue(value: unknown, path: readonly string[]): unknown {
  const key = path[path.length - 1] ?? '';
  const parent = path[path.length - 2] ?? '';
  if (SECRET_KEYS.includes(key) || (parent === 'headers' && /^(authorization|proxy-authorization|cookie|x-.*token.*)$/i.test(key))) {
    return value === undefined ? value : REDACTED;
  }
  return redactValue(value, 0);
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.includes(k) ? REDACTED : redactValue(v, depth + 1);
  return out;
}
