// The web implementation of the metrics-provider port (Argo Rollouts' `provider.web`): one HTTP
// request, its JSON reply handed to the core as a document (the core applies jsonPath and the
// conditions). Over node:http/https rather than fetch, because `insecure` needs a per-request
// TLS option that the built-in fetch only takes through undici's dispatcher.
//
// Every request ends by the metric's deadline (connect, headers, body), capped at
// MAX_QUERY_TIMEOUT_MS; a reply larger than MAX_WEB_REPLY_BYTES is refused as it arrives; a
// redirect is never followed (it could lead outside the controller's address policy and would
// carry the request's headers, a Secret's token among them). Messages name the server by its
// origin only (scheme, host, port: no userinfo, path or query) and never quote more of a reply
// than a short, redacted snippet.
import http from 'node:http';
import https from 'node:https';
import type { WebMethod } from '../../api/analysis.ts';
import { MAX_QUERY_TIMEOUT_MS } from '../../core/analysis/defaults.ts';
import type { JsonValue } from '../../core/analysis/json-path.ts';
import { parseHttpUrl } from '../../core/analysis/web-request.ts';
import { redactText } from '../../core/shared/redact.ts';
import type { MetricQueryError, MetricQueryOutcome, MetricsProvider, MetricsQuery } from '../../ports/metrics.ts';

/** Replies larger than this are refused (a metric is a small JSON document, not a data set). */
export const MAX_WEB_REPLY_BYTES = 1024 * 1024;
/** JSON nested deeper than this is refused (everything after parsing walks it recursively). */
export const MAX_JSON_DEPTH = 64;
/** The longest piece of a reply a message quotes. */
const SNIPPET_LENGTH = 40;

export interface WebProviderOptions {
  url: string;
  method?: WebMethod;
  /** Sent as they are (Secrets already read); Content-Type is set for a JSON body. */
  headers?: Readonly<Record<string, string>>;
  body?: string;
  /** Skip the verification of the server certificate (https). */
  insecure?: boolean;
  /** HTTP_PROXY / HTTPS_PROXY / NO_PROXY for the request (Node's Agent `proxyEnv`); none by default. */
  proxyEnv?: NodeJS.ProcessEnv;
  /** Values from Secrets (header values): masked in every message, whatever the server echoes. */
  secrets?: readonly string[];
}

interface Reply {
  status: number;
  statusText: string;
  contentType: string;
  body: Buffer;
}

export class WebMetricProvider implements MetricsProvider {
  readonly type = 'web';
  private readonly opts: WebProviderOptions;

  constructor(opts: WebProviderOptions) {
    this.opts = opts;
  }

  async query(q: MetricsQuery): Promise<MetricQueryOutcome> {
    const timeoutMs = Math.min(q.timeoutMs > 0 ? q.timeoutMs : MAX_QUERY_TIMEOUT_MS, MAX_QUERY_TIMEOUT_MS);
    const parsed = parseHttpUrl(this.opts.url);
    if (!parsed.ok) return { ok: false, error: { kind: 'config', message: `invalid url: ${parsed.error}` } };
    const url = parsed.value;
    const origin = url.origin;
    const sent = await this.send(url, timeoutMs, q.headers);
    const outcome = sent.ok ? judgeReply(sent.value, origin, url) : { ok: false as const, error: sent.error };
    if (outcome.ok) return outcome;
    return { ok: false, error: { ...outcome.error, message: redactText(outcome.error.message, this.opts.secrets ?? []) } };
  }

  private send(
    url: URL,
    timeoutMs: number,
    extra: Readonly<Record<string, string>> | undefined,
  ): Promise<{ ok: true; value: Reply } | { ok: false; error: MetricQueryError }> {
    const origin = url.origin;
    const { method = 'GET', body, insecure = false, proxyEnv } = this.opts;
    const headers: Record<string, string> = {
      'User-Agent': 'sluice-analysis',
      Accept: 'application/json, */*;q=0.5',
      ...this.opts.headers,
      ...extra,
    };
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    const secure = url.protocol === 'https:';
    const agent = secure
      ? new https.Agent({ keepAlive: false, rejectUnauthorized: !insecure, ...(proxyEnv ? { proxyEnv } : {}) })
      : new http.Agent({ keepAlive: false, ...(proxyEnv ? { proxyEnv } : {}) });
    return new Promise((resolve) => {
      let settled = false;
      let req: http.ClientRequest | undefined;
      let timer: NodeJS.Timeout | undefined;
      const finish = (outcome: { ok: true; value: Reply } | { ok: false; error: MetricQueryError }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req?.destroy();
        agent.destroy();
        resolve(outcome);
      };
      const fail = (error: MetricQueryError) => finish({ ok: false, error });
      const request = secure ? https.request : http.request;
      try {
        req = request(url, { method, headers, agent, ...(secure ? { rejectUnauthorized: !insecure } : {}) });
      } catch (err) {
        return fail(classifyError(err, origin)); // a header value Node refuses
      }
      timer = setTimeout(() => fail({ kind: 'timeout', message: `no answer from ${origin} within ${timeoutMs}ms` }), timeoutMs);
      req.on('error', (err) => fail(classifyError(err, origin)));
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        const statusText = res.statusMessage ?? '';
        const location = res.headers.location;
        if (status >= 300 && status < 400 && location !== undefined) {
          return fail({ kind: 'http', httpStatus: status, message: redirectMessage(status, statusText, location, url) });
        }
        const declared = Number(res.headers['content-length']);
        const tooLarge = (): MetricQueryError => ({
          kind: 'badResponse',
          httpStatus: status,
          message: `reply from ${origin} larger than ${MAX_WEB_REPLY_BYTES} bytes`,
        });
        if (Number.isFinite(declared) && declared > MAX_WEB_REPLY_BYTES) return fail(tooLarge());
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_WEB_REPLY_BYTES) return fail(tooLarge());
          chunks.push(chunk);
        });
        res.on('end', () =>
          finish({ ok: true, value: { status, statusText, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) } }),
        );
        res.on('error', (err) => fail(classifyError(err, origin)));
        res.on('aborted', () => fail({ kind: 'unreachable', message: `${origin}: the connection closed before the reply was complete` }));
      });
      req.end(body);
    });
  }
}

/** A 2xx reply must be JSON; anything else is an error that describes the reply rather than quoting it. */
function judgeReply(reply: Reply, origin: string, url: URL): MetricQueryOutcome {
  const fail = (error: MetricQueryError): MetricQueryOutcome => ({ ok: false, error });
  if (reply.status < 200 || reply.status >= 300) {
    const hint =
      reply.status === 401 || reply.status === 403
        ? ' (check the headers and the Secrets they come from)'
        : reply.status === 404
          ? ` (check the path of the url: ${origin}${url.pathname.length > 60 ? `${url.pathname.slice(0, 60)}…` : url.pathname})`
          : '';
    return fail({
      kind: 'http',
      httpStatus: reply.status,
      message: `HTTP ${reply.status} ${reply.statusText}`.trim() + ` from ${origin}: ${describeBody(reply)}${hint}`,
    });
  }
  const text = reply.body.toString('utf8').replace(/^\uFEFF/, '');
  let document: unknown;
  try {
    if (text.trim() === '') throw new Error('empty');
    document = JSON.parse(text);
  } catch {
    return fail({
      kind: 'badResponse',
      httpStatus: reply.status,
      message: `expected JSON from ${origin}, got ${describeBody(reply)}: a web metric's conditions see JSON only (a plain-text reply is not handed to them)`,
    });
  }
  const depth = depthOf(document, MAX_JSON_DEPTH);
  if (depth > MAX_JSON_DEPTH)
    return fail({ kind: 'badResponse', httpStatus: reply.status, message: `the JSON from ${origin} is nested more than ${MAX_JSON_DEPTH} levels deep` });
  return { ok: true, result: { type: 'json', document: document as JsonValue } };
}

/** How deep a parsed JSON value nests, counted up to `limit + 1` (iterative: the value may be deeper than the stack). */
function depthOf(value: unknown, limit: number): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [v, d] = stack.pop() as [unknown, number];
    if (v === null || typeof v !== 'object') continue;
    max = Math.max(max, d);
    if (max > limit) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, d + 1]);
  }
  return max;
}

/** What the body was, with at most a short redacted snippet of a text that is not a page. */
function describeBody(reply: Reply): string {
  const bytes = reply.body.length;
  const type = reply.contentType.split(';')[0]?.trim() ?? '';
  if (bytes === 0) return `an empty body${type ? ` (${type})` : ''}`;
  const head = reply.body.subarray(0, 256).toString('utf8');
  if (/html/i.test(type) || /^\s*<(!doctype|html|head|body)/i.test(head)) return `an HTML page (${type || 'no content type'}, ${bytes} bytes)`;
  const printable = head.replace(/\s+/g, ' ').trim();
  const snippet = printable.length > SNIPPET_LENGTH ? `${printable.slice(0, SNIPPET_LENGTH)}…` : printable;
  return `a body of ${bytes} bytes${type ? ` (${type})` : ''} starting ${JSON.stringify(redactText(snippet))}`;
}

function redirectMessage(status: number, statusText: string, location: string, from: URL): string {
  let target: string;
  try {
    target = new URL(location, from).origin;
  } catch {
    target = 'an invalid address';
  }
  const where = target === from.origin ? `${target} (another path)` : target;
  return (
    `HTTP ${status} ${statusText}`.trim() +
    ` from ${from.origin}: a redirect to ${where}, not followed (it could leave the addresses this controller allows and would carry the ` +
    'request headers): set url to the address it points at'
  );
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETIMEDOUT']);

function classifyError(err: unknown, origin: string): MetricQueryError {
  const code = String((err as { code?: unknown })?.code ?? '');
  const message = redactText(String((err as Error)?.message ?? err));
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || /ssl|tls|certificate/i.test(`${code} ${message}`)) {
    return { kind: 'unreachable', message: `${origin}: TLS: ${message}${code ? ` (${code})` : ''}; insecure: true skips the certificate check` };
  }
  if (code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN' || code === 'ERR_INVALID_URL') {
    return { kind: 'config', message: `cannot send the request to ${origin}: ${message}` };
  }
  if (UNREACHABLE_CODES.has(code)) return { kind: 'unreachable', message: `${origin}: ${message}` };
  return { kind: 'unreachable', message: `${origin}: ${message}${code ? ` (${code})` : ''}` };
}
