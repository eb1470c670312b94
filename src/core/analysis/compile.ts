// A run's metrics checked and compiled before anything is measured: durations, providers, args
// used in queries and conditions, CEL conditions (cost-bounded). Every problem names the metric
// and the field. Pure.
import type { Result } from '../shared/result.ts';
import { UNSUPPORTED_PROVIDERS, type AnalysisRunSpec, type Metric } from '../../api/analysis.ts';
import { durationToMs } from '../../api/duration.ts';
import type { Duration } from '../../api/meta.ts';
import { placeholdersIn, substituteArgs, substitutePromQL, type ArgValue } from './args.ts';
import { compileCondition, type CompiledCondition } from './cel.ts';
import { type QueryKind } from './metric-query.ts';
import { DEFAULT_QUERY_TIMEOUT_MS, DEFAULT_WEB_TIMEOUT_MS, MAX_QUERY_TIMEOUT_MS } from './defaults.ts';
import { DEFAULT_JSON_PATH, parseJsonPath, type JsonPath } from './json-path.ts';
import { parseHttpUrl, substituteWeb, webPlaceholders } from './web-request.ts';
import { addressBeforeArgs } from './address-policy.ts';
import { redactText } from '../shared/redact.ts';

/** Provider types the schema defines (the adapters' factory checks again). */
export const KNOWN_PROVIDERS = ['prometheus', 'web'] as const;
export type ProviderType = (typeof KNOWN_PROVIDERS)[number];

/** A metric checked and ready: durations in ms, conditions compiled, args substituted in the conditions. */
export interface CompiledMetric {
  metric: Metric;
  provider: ProviderType;
  kind: QueryKind;
  /** A web metric's jsonPath, parsed (the default `{$}` when unset). */
  jsonPath?: JsonPath;
  success?: CompiledCondition;
  failure?: CompiledCondition;
  intervalMs?: number;
  initialDelayMs: number;
  timeoutMs: number;
  range?: { rangeMs: number; stepMs: number };
}

function duration(value: Duration | undefined, what: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  try {
    return durationToMs(value);
  } catch (err) {
    problems.push(`${what}: ${(err as Error).message}`);
    return undefined;
  }
}

/**
 * Checks a run's metrics and compiles their conditions. Every problem is reported, each naming
 * the metric and the field, e.g. `metric error-rate: invalid successCondition "result[0] >=":
 * syntax error: …`. `literalArgs` are the args with literal values (conditions may use them;
 * args from Secrets may only be used in queries).
 */
export function compileMetrics(spec: AnalysisRunSpec, literalArgs: ReadonlyMap<string, ArgValue>): Result<CompiledMetric[]> {
  const problems: string[] = [];
  const compiled: CompiledMetric[] = [];
  const seen = new Set<string>();
  const declared = new Set((spec.args ?? []).map((a) => a.name));
  for (const metric of spec.metrics) {
    const at = `metric ${metric.name}`;
    const before = problems.length;
    if (seen.has(metric.name)) problems.push(`${at}: defined twice`);
    seen.add(metric.name);
    if (metric.successCondition === undefined && metric.failureCondition === undefined) {
      problems.push(`${at}: needs a successCondition or a failureCondition (without one every measurement would pass)`);
    }
    if (metric.count !== undefined && metric.count > 1 && metric.interval === undefined) {
      problems.push(`${at}: interval must be set when count is greater than 1`);
    }
    const intervalMs = duration(metric.interval, `${at}: interval`, problems);
    if (intervalMs === 0) problems.push(`${at}: interval must be greater than 0`);
    const initialDelayMs = duration(metric.initialDelay, `${at}: initialDelay`, problems) ?? 0;
    const types = providerTypes(metric);
    const supported = `supported: ${KNOWN_PROVIDERS.join(', ')}`;
    if (types.length !== 1) {
      problems.push(`${at}: ${types.length === 0 ? 'no provider set' : `more than one provider set (${types.join(', ')})`}; ${supported}`);
    } else if ((UNSUPPORTED_PROVIDERS as readonly string[]).includes(types[0] as string)) {
      problems.push(`${at}: provider "${types[0]}" (Argo Rollouts') is not measured by Sluice: rewrite the metric for prometheus or web (docs/compat.md)`);
    } else if (!(KNOWN_PROVIDERS as readonly string[]).includes(types[0] as string)) {
      problems.push(`${at}: unknown provider "${types[0]}"; ${supported}`);
    }
    const prometheus = metric.provider.prometheus;
    const web = types.length === 1 ? metric.provider.web : undefined;
    let timeoutMs = DEFAULT_QUERY_TIMEOUT_MS;
    let range: CompiledMetric['range'];
    let jsonPath: JsonPath | undefined;
    if (web) {
      timeoutMs = web.timeoutSeconds ? web.timeoutSeconds * 1000 : DEFAULT_WEB_TIMEOUT_MS;
      if (timeoutMs > MAX_QUERY_TIMEOUT_MS) {
        problems.push(`${at}: timeoutSeconds ${timeoutMs / 1000} is longer than the maximum of ${MAX_QUERY_TIMEOUT_MS / 1000}`);
      }
      if (web.body !== undefined && web.jsonBody !== undefined) problems.push(`${at}: set body or jsonBody, not both`);
      if ((web.body !== undefined || web.jsonBody !== undefined) && (web.method ?? 'GET') === 'GET') {
        problems.push(`${at}: body and jsonBody need method POST or PUT`);
      }
      if (web.authentication !== undefined) {
        problems.push(`${at}: web authentication (oauth2) is not supported yet: send a token in a header whose value comes from a Secret`);
      }
      const used = webPlaceholders(web);
      const undeclared = used.flatMap((p) => p.names.filter((n) => !declared.has(n)).map((n) => `${p.field} uses {{args.${n}}}`));
      if (undeclared.length > 0) problems.push(`${at}: ${[...new Set(undeclared)].join(', ')}, which is not an arg of the analysis`);
      else {
        // The url as written, when args cannot change its scheme or host (values a Rollout passes may
        // be stand-ins here, as in lint); with its args it is checked when it is sent.
        const written = placeholdersIn(web.url).length === 0 ? web.url : addressBeforeArgs(web.url);
        const url = written === undefined ? undefined : parseHttpUrl(written);
        if (url && !url.ok) problems.push(`${at}: url ${redactText(web.url)}: ${url.error}`);
        const checked = substituteWeb(web, literalArgs, { partial: true, checkUrl: false });
        if (!checked.ok) problems.push(`${at}: ${checked.error}`);
        const path = substituteArgs(web.jsonPath ?? DEFAULT_JSON_PATH, literalArgs);
        if (!path.ok) problems.push(`${at}: jsonPath uses an arg without a literal value (args from Secrets cannot be used in jsonPath)`);
        else {
          const parsed = parseJsonPath(path.value.text);
          if (parsed.ok) jsonPath = parsed.value;
          else problems.push(`${at}: ${parsed.error}`);
        }
      }
    }
    if (prometheus && !web) {
      timeoutMs = duration(prometheus.timeout, `${at}: timeout`, problems) ?? DEFAULT_QUERY_TIMEOUT_MS;
      if (timeoutMs === 0) problems.push(`${at}: timeout must be greater than 0`);
      if (timeoutMs > MAX_QUERY_TIMEOUT_MS) problems.push(`${at}: timeout ${timeoutMs / 1000}s is longer than the maximum of ${MAX_QUERY_TIMEOUT_MS / 1000}s`);
      if (prometheus.rangeQuery) {
        const rangeMs = duration(prometheus.rangeQuery.range, `${at}: rangeQuery.range`, problems);
        const stepMs = duration(prometheus.rangeQuery.step, `${at}: rangeQuery.step`, problems);
        if (rangeMs === 0 || stepMs === 0) problems.push(`${at}: rangeQuery.range and rangeQuery.step must be greater than 0`);
        if (rangeMs !== undefined && stepMs !== undefined) range = { rangeMs, stepMs };
      }
      const undeclared = placeholdersIn(prometheus.query).filter((n) => !declared.has(n));
      if (undeclared.length > 0)
        problems.push(`${at}: query uses ${[...new Set(undeclared)].map((n) => `{{args.${n}}}`).join(', ')}, which is not an arg of the analysis`);
      else {
        // Literal values are known now: one that cannot go where it stands is refused before anything is measured.
        const checked = substitutePromQL(prometheus.query, literalArgs, { partial: true });
        if (!checked.ok) problems.push(`${at}: query: ${checked.error}`);
      }
      for (const header of prometheus.headers ?? []) {
        const bad = placeholdersIn(header.value ?? '').filter((n) => !declared.has(n));
        if (bad.length > 0) problems.push(`${at}: header ${header.key} uses {{args.${bad[0]}}}, which is not an arg of the analysis`);
      }
    }
    const success = compileMetricCondition(metric, 'successCondition', literalArgs, declared, problems);
    const failure = compileMetricCondition(metric, 'failureCondition', literalArgs, declared, problems);
    if (problems.length === before) {
      compiled.push({
        metric,
        provider: web ? 'web' : 'prometheus',
        kind: range ? 'range' : 'instant',
        ...(jsonPath ? { jsonPath } : {}),
        ...(success ? { success } : {}),
        ...(failure ? { failure } : {}),
        ...(intervalMs !== undefined ? { intervalMs } : {}),
        initialDelayMs,
        timeoutMs,
        ...(range ? { range } : {}),
      });
    }
  }
  if (problems.length > 0) return { ok: false, error: problems.join('; ') };
  return { ok: true, value: compiled };
}

function compileMetricCondition(
  metric: Metric,
  field: 'successCondition' | 'failureCondition',
  literalArgs: ReadonlyMap<string, ArgValue>,
  declared: ReadonlySet<string>,
  problems: string[],
): CompiledCondition | undefined {
  const source = metric[field];
  if (source === undefined) return undefined;
  const at = `metric ${metric.name}: ${field} "${source}"`;
  const used = placeholdersIn(source);
  const undeclared = used.filter((n) => !declared.has(n));
  if (undeclared.length > 0) {
    problems.push(`${at} uses {{args.${undeclared[0]}}}, which is not an arg of the analysis`);
    return undefined;
  }
  const fromSecret = used.filter((n) => !literalArgs.has(n));
  if (fromSecret.length > 0) {
    problems.push(`${at} uses {{args.${fromSecret[0]}}}, which has no literal value (args from Secrets can only be used in queries)`);
    return undefined;
  }
  const substituted = substituteArgs(source, literalArgs);
  if (!substituted.ok) {
    problems.push(`${at}: ${substituted.error}`);
    return undefined;
  }
  const compiled = compileCondition(substituted.value.text);
  if (!compiled.ok) {
    problems.push(`metric ${metric.name}: invalid ${field} "${substituted.value.text}": ${compiled.error}`);
    return undefined;
  }
  return compiled.value;
}

/** The provider blocks set on a metric (exactly one is valid). */
export function providerTypes(metric: Metric): string[] {
  return Object.entries(metric.provider as Record<string, unknown>)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k]) => k);
}
