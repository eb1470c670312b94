// The Prometheus implementation of the metrics-provider port, over prometheus-query.
// prometheus-query sends the request (URL, params, headers, timeout); its parsed result is not
// used: it reads "+Inf" as NaN and accepts any shape. The raw reply is captured with a response
// interceptor and parsed here with zod, and every failure becomes a typed error.
import type { Result } from '../../core/shared/result.ts';
import { PrometheusDriver } from 'prometheus-query';
import { z } from 'zod';
import type { MetricQueryError, MetricQueryOutcome, MetricQueryResult, MetricsProvider, MetricsQuery, QueryKind } from '../../ports/metrics.ts';
import { MAX_QUERY_TIMEOUT_MS } from '../../core/analysis/defaults.ts';
import { redactText, redactUrl } from '../../core/shared/redact.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';

/** Replies larger than this are refused (a query returning the whole TSDB is not a measurement). */
export const MAX_REPLY_BYTES = 10 * 1024 * 1024;

export interface PrometheusProviderOptions {
  /** Base URL, e.g. http://prometheus.monitoring:9090 (a path prefix such as /prometheus is kept). */
  address: string;
  /** Sent with every query (auth, tenant headers). */
  headers?: Readonly<Record<string, string>>;
}

// --- The Prometheus HTTP API reply (https://prometheus.io/docs/prometheus/latest/querying/api/)

/** A sample value: a decimal string, or NaN, +Inf, -Inf. */
const SampleValue = z.string().transform((text, ctx) => {
  const n = parsePrometheusNumber(text);
  if (n === undefined) {
    ctx.addIssue({ code: 'custom', message: `${JSON.stringify(text.length > 20 ? `${text.slice(0, 20)}…` : text)} is not a number` });
    return z.NEVER;
  }
  return n;
});
const Sample = z.tuple([z.number(), SampleValue]);
const Labels = z.record(z.string(), z.string());

const VectorData = z.object({
  resultType: z.literal('vector'),
  result: z.array(z.object({ metric: Labels.optional(), value: Sample.optional(), histogram: z.unknown().optional() })),
});
const ScalarData = z.object({ resultType: z.literal('scalar'), result: Sample });
const MatrixData = z.object({
  resultType: z.literal('matrix'),
  result: z.array(z.object({ metric: Labels.optional(), values: z.array(Sample).optional(), histograms: z.unknown().optional() })),
});
const StringData = z.object({ resultType: z.literal('string'), result: z.unknown() });
const QueryData = z.discriminatedUnion('resultType', [VectorData, ScalarData, MatrixData, StringData]);

const Envelope = z.object({
  status: z.enum(['success', 'error']),
  data: z.unknown().optional(),
  errorType: z.string().optional(),
  error: z.string().optional(),
  warnings: z.array(z.string()).optional(),
});

/** The errorType values of the Prometheus HTTP API. */
const PROMETHEUS_ERROR_TYPES: ReadonlySet<string> = new Set([
  'bad_data',
  'execution',
  'internal',
  'unavailable',
  'not_found',
  'not_acceptable',
  'timeout',
  'canceled',
]);
const MAX_ERROR_TEXT = 500;
const clip = (text: string) => (text.length > MAX_ERROR_TEXT ? `${text.slice(0, MAX_ERROR_TEXT)}… (${text.length - MAX_ERROR_TEXT} more)` : text);

export function parsePrometheusNumber(text: string): number | undefined {
  switch (text) {
    case 'NaN':
      return NaN;
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
  }
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

interface RawReply {
  status: number;
  statusText: string;
  contentType: string;
  data: unknown;
}

/**
 * Judges a raw HTTP reply from the query API. Exported for tests; `kind` decides which result
 * types are acceptable (instant: vector or scalar; range: matrix).
 */
export function parseReply(reply: RawReply, kind: QueryKind): MetricQueryOutcome {
  const fail = (error: MetricQueryError): MetricQueryOutcome => ({ ok: false, error });
  const ok2xx = reply.status >= 200 && reply.status < 300;
  const json = asJson(reply.data);
  if (json === undefined) {
    const what = describeBody(reply);
    if (!ok2xx)
      return fail({ kind: 'http', httpStatus: reply.status, message: `HTTP ${reply.status} ${reply.statusText}`.trim() + `: ${what}${hintFor(reply.status)}` });
    return fail({
      kind: 'badResponse',
      httpStatus: reply.status,
      message: `expected JSON from the Prometheus API, got ${what}: is the address the Prometheus server (not a UI or a proxy login page)?`,
    });
  }
  const envelope = Envelope.safeParse(json);
  if (!envelope.success) {
    if (!ok2xx) return fail({ kind: 'http', httpStatus: reply.status, message: `HTTP ${reply.status} ${reply.statusText}`.trim() + hintFor(reply.status) });
    return fail({ kind: 'badResponse', httpStatus: reply.status, message: `not a Prometheus API reply: ${formatIssues(envelope.error.issues, 3)}` });
  }
  const env = envelope.data;
  if (env.status === 'error' || !ok2xx) {
    const message = env.error ?? `HTTP ${reply.status} ${reply.statusText}`.trim();
    const errorType = env.errorType ?? '';
    if (errorType === 'timeout' || errorType === 'canceled')
      return fail({ kind: 'timeout', httpStatus: reply.status, message: `Prometheus gave up: ${clip(message)}` });
    // Prometheus's own error text is kept (it explains a PromQL mistake); an error from anything
    // else is not echoed.
    if (PROMETHEUS_ERROR_TYPES.has(errorType)) return fail({ kind: 'queryError', httpStatus: reply.status, message: `${errorType}: ${clip(message)}` });
    return fail({ kind: 'http', httpStatus: reply.status, message: `HTTP ${reply.status} ${reply.statusText}`.trim() + hintFor(reply.status) });
  }
  const data = QueryData.safeParse(env.data);
  if (!data.success) return fail({ kind: 'badResponse', httpStatus: reply.status, message: `unexpected query result: ${formatIssues(data.error.issues, 3)}` });
  const result = toResult(data.data);
  if (!result.ok) return fail({ kind: 'badResponse', httpStatus: reply.status, message: result.error });
  if (kind === 'instant' && result.value.type === 'matrix') {
    return fail({
      kind: 'badResponse',
      httpStatus: reply.status,
      message:
        'the query returned a range vector (matrix) where an instant vector or scalar was expected: aggregate it (e.g. ' +
        'rate(x[5m]) instead of x[5m]) or use rangeQuery',
    });
  }
  if (kind === 'range' && result.value.type !== 'matrix') {
    return fail({ kind: 'badResponse', httpStatus: reply.status, message: `a range query returned a ${result.value.type} instead of a matrix` });
  }
  return { ok: true, result: result.value, ...(env.warnings?.length ? { warnings: env.warnings } : {}) };
}

function toResult(data: z.infer<typeof QueryData>): Result<MetricQueryResult> {
  switch (data.resultType) {
    case 'scalar':
      return { ok: true, value: { type: 'scalar', value: data.result[1] } };
    case 'string':
      return { ok: false, error: 'the query returned a string; a condition needs numbers' };
    case 'vector': {
      if (data.result.some((s) => s.value === undefined)) {
        return { ok: false, error: 'the query returned native histogram samples; use histogram_quantile() or histogram_count() to get numbers' };
      }
      return { ok: true, value: { type: 'vector', series: data.result.map((s) => ({ labels: s.metric ?? {}, value: (s.value as [number, number])[1] })) } };
    }
    case 'matrix': {
      if (data.result.some((s) => s.values === undefined && s.histograms !== undefined)) {
        return { ok: false, error: 'the query returned native histogram samples; use histogram_quantile() or histogram_count() to get numbers' };
      }
      return { ok: true, value: { type: 'matrix', series: data.result.map((s) => ({ labels: s.metric ?? {}, values: (s.values ?? []).map((v) => v[1]) })) } };
    }
  }
}

function asJson(data: unknown): unknown {
  if (typeof data === 'object' && data !== null) return data;
  if (typeof data !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(data);
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** What the body was, never what it said: a reply from something that is not Prometheus may hold anything. */
function describeBody(reply: RawReply): string {
  const text = typeof reply.data === 'string' ? reply.data : String(reply.data ?? '');
  const bytes = Buffer.byteLength(text);
  const type = reply.contentType.split(';')[0]?.trim() ?? '';
  if (bytes === 0) return `an empty body${type ? ` (${type})` : ''}`;
  const looksHtml = /html/i.test(type) || /^\s*<(!doctype|html|head|body)/i.test(text);
  if (looksHtml) return `an HTML page (${type || 'no content type'}, ${bytes} bytes)`;
  return `a ${type ? `${type} ` : ''}body of ${bytes} bytes`;
}

function hintFor(status: number): string {
  if (status === 401 || status === 403) return ' (check provider.prometheus.authentication and its Secret)';
  if (status === 404) return ' (check provider.prometheus.address: the API is expected at <address>/api/v1/query)';
  if (status >= 300 && status < 400) return ' (a redirect, not followed: set provider.prometheus.address to the address it points at)';
  return '';
}

// --- Network errors

const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
]);

function classifyThrown(thrown: unknown, address: string, timedOut: boolean, timeoutMs: number): MetricQueryError {
  const original = (thrown as { original?: unknown })?.original ?? thrown;
  const code = String((original as { code?: unknown })?.code ?? (thrown as { code?: unknown })?.code ?? '');
  const message = redactText(String((original as { message?: unknown })?.message ?? (thrown as { error?: unknown })?.error ?? thrown));
  if (timedOut || code === 'ECONNABORTED' || code === 'ETIMEDOUT') {
    return { kind: 'timeout', message: `no answer from ${address} within ${timeoutMs}ms` };
  }
  if (code === 'ERR_BAD_RESPONSE' && /maxContentLength/i.test(message)) {
    return { kind: 'badResponse', message: `reply larger than ${MAX_REPLY_BYTES} bytes` };
  }
  if (UNREACHABLE_CODES.has(code) || code.startsWith('ERR_TLS') || code.includes('CERT') || /ssl|tls/i.test(code)) {
    return { kind: 'unreachable', message: `${address}: ${message}` };
  }
  if (code === 'ERR_INVALID_URL' || code === 'ERR_BAD_OPTION_VALUE') return { kind: 'config', message: `invalid address ${address}: ${message}` };
  return { kind: 'unreachable', message: `${address}: ${message}${code ? ` (${code})` : ''}` };
}

// --- The provider

const promDuration = (ms: number) => `${Math.max(1, Math.ceil(ms / 1000))}s`;

export class PrometheusProvider implements MetricsProvider {
  readonly type = 'prometheus';
  readonly address: string;
  private readonly headers: Readonly<Record<string, string>>;

  constructor(opts: PrometheusProviderOptions) {
    this.address = opts.address.replace(/\/+$/, '');
    this.headers = opts.headers ?? {};
  }

  async query(q: MetricsQuery): Promise<MetricQueryOutcome> {
    // The whole request (connect, headers, body) ends by this deadline, whatever the metric asked for.
    const timeoutMs = Math.min(q.timeoutMs > 0 ? q.timeoutMs : MAX_QUERY_TIMEOUT_MS, MAX_QUERY_TIMEOUT_MS);
    const shown = redactUrl(this.address); // the address as messages show it: no userinfo
    let url: URL;
    try {
      url = new URL(this.address);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported scheme ${url.protocol}`);
    } catch (err) {
      return { ok: false, error: { kind: 'config', message: `invalid address "${shown}": ${redactText((err as Error).message)}` } };
    }
    let raw: RawReply | undefined;
    const capture = (res: { status: number; statusText?: string; headers?: unknown; data: unknown }) => {
      const headers = (res.headers ?? {}) as Record<string, unknown>;
      raw = { status: res.status, statusText: res.statusText ?? '', contentType: String(headers['content-type'] ?? ''), data: res.data };
    };
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    const driver = new PrometheusDriver({
      endpoint: this.address,
      baseURL: '/api/v1/',
      headers: { ...this.headers, ...(q.headers ?? {}) },
      timeout: timeoutMs,
      requestInterceptor: {
        onFulfilled: (config) => {
          config.signal = abort.signal;
          config.maxContentLength = MAX_REPLY_BYTES;
          // A redirect could point outside the controller's address policy, and would carry the
          // query's headers (a Secret's API key) there: never followed.
          config.maxRedirects = 0;
          config.responseType = 'text'; // parse it here, whatever the content type says
          config.transitional = { ...config.transitional, silentJSONParsing: true, forcedJSONParsing: false };
          return config;
        },
      },
      responseInterceptor: {
        onFulfilled: (res) => {
          capture(res);
          return res;
        },
        onRejected: (err: { response?: { status: number; statusText?: string; headers?: unknown; data: unknown } }) => {
          if (err?.response) capture(err.response);
          return Promise.reject(err);
        },
      },
    });
    try {
      const serverTimeout = promDuration(timeoutMs);
      if (q.kind === 'range') {
        const range = q.range ?? { start: q.time, end: q.time, stepMs: 60_000 };
        await driver.rangeQuery(q.query, range.start, range.end, Math.max(1, range.stepMs / 1000), serverTimeout);
      } else {
        await driver.instantQuery(q.query, q.time, serverTimeout);
      }
    } catch (thrown) {
      if (raw === undefined || timedOut) return { ok: false, error: classifyThrown(thrown, shown, timedOut, timeoutMs) };
    } finally {
      clearTimeout(timer);
    }
    if (raw === undefined) return { ok: false, error: { kind: 'unreachable', message: `${shown}: no reply` } };
    return parseReply(raw, q.kind);
  }
}
