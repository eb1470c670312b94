// Metrics providers keyed by type (Prometheus here, web in ../web/). An unknown type is an error
// naming the supported ones, never a quiet fallback to Prometheus.
import { redactUrl } from '../../core/shared/redact.ts';
import type { MetricProvider, WebProvider } from '../../api/analysis.ts';
import type { MetricQueryError, MetricsProviderFactory, ProviderResult } from '../../ports/metrics.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import type { SecretData } from '../../core/shared/secrets.ts';
import { isAddressAllowed, type AddressPattern } from '../../core/analysis/address-policy.ts';
import { webMethod } from '../../core/analysis/web-request.ts';
import { headerValues, prometheusHeaders, secretNamesOfHeaders, secretNamesOfPrometheus } from './headers.ts';
import { PrometheusProvider } from './prometheus.ts';
import { WebMetricProvider } from '../web/web.ts';

export interface MetricsFactoryDeps {
  /** Reads the Secrets named by auth and headers. */
  secrets: SecretReader;
  /** The controller's policy for provider addresses (--analysis-allowed-addresses); empty = any. */
  allowedAddresses?: readonly AddressPattern[];
  /** Proxy variables for web metrics (HTTP_PROXY, HTTPS_PROXY, NO_PROXY); main.ts passes process.env. Default none. */
  proxyEnv?: NodeJS.ProcessEnv;
}

type Builder = (config: unknown, namespace: string, deps: MetricsFactoryDeps) => Promise<ProviderResult>;

/** The address a provider block sends to, per type (what the policy checks). */
const addressOf: Record<string, (config: unknown) => { field: string; address: string }> = {
  prometheus: (config) => ({ field: 'address', address: (config as NonNullable<MetricProvider['prometheus']>).address }),
  web: (config) => ({ field: 'url', address: (config as WebProvider).url }),
};

function refusal(type: string, config: unknown, deps: MetricsFactoryDeps): MetricQueryError | undefined {
  const { field, address } = (addressOf[type] as (typeof addressOf)[string])(config);
  if (isAddressAllowed(address, deps.allowedAddresses ?? [])) return undefined;
  return { kind: 'config', message: `${field} ${redactUrl(address)} is not allowed by this controller's policy (--analysis-allowed-addresses)` };
}

const builders: Record<string, Builder> = {
  prometheus: async (config, namespace, deps) => {
    const spec = config as NonNullable<MetricProvider['prometheus']>;
    // Checked before any Secret is read: a refused address never sees a credential.
    const refused = refusal('prometheus', config, deps);
    if (refused) return { ok: false, error: refused };
    const secrets = await deps.secrets.readAll(namespace, secretNamesOfPrometheus(spec), 'analysis');
    if (!secrets.ok) return { ok: false, error: { kind: 'config', message: secrets.error } };
    const headers = prometheusHeaders(spec, secrets.value, namespace);
    if (!headers.ok) return { ok: false, error: { kind: 'config', message: headers.error } };
    return { ok: true, provider: new PrometheusProvider({ address: spec.address, headers: headers.value }), secrets: secretValues(secrets.value) };
  },
  web: async (config, namespace, deps) => {
    const spec = config as WebProvider;
    const refused = refusal('web', config, deps);
    if (refused) return { ok: false, error: refused };
    const secrets = await deps.secrets.readAll(namespace, secretNamesOfHeaders(spec.headers), 'analysis');
    if (!secrets.ok) return { ok: false, error: { kind: 'config', message: secrets.error } };
    const headers = headerValues(spec.headers, secrets.value, namespace);
    if (!headers.ok) return { ok: false, error: { kind: 'config', message: headers.error } };
    if (spec.jsonBody !== undefined) {
      // As Argo Rollouts: a JSON body sets the content type, whatever the headers say.
      for (const key of Object.keys(headers.value)) if (key.toLowerCase() === 'content-type') delete headers.value[key];
      headers.value['Content-Type'] = 'application/json';
    }
    const body = spec.jsonBody !== undefined ? JSON.stringify(spec.jsonBody) : spec.body;
    return {
      ok: true,
      provider: new WebMetricProvider({
        url: spec.url,
        method: webMethod(spec),
        headers: headers.value,
        ...(body !== undefined ? { body } : {}),
        ...(spec.insecure ? { insecure: true } : {}),
        ...(deps.proxyEnv ? { proxyEnv: deps.proxyEnv } : {}),
        secrets: secretValues(secrets.value),
      }),
      secrets: secretValues(secrets.value),
    };
  },
};

/** Every value of the Secrets read for a provider (only those it uses are read). */
function secretValues(data: SecretData): string[] {
  return [...data.values()].flatMap((secret) => Object.values(secret ?? {}).flatMap((v) => [v, v.replace(/[\r\n]+$/, '')]));
}

export const SUPPORTED_PROVIDERS: readonly string[] = Object.keys(builders);

/** The one provider type set, or the error that says why there is none. */
function typeOf(provider: MetricProvider): { type: string; config: unknown } | MetricQueryError {
  const types = Object.entries(provider as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
  if (types.length !== 1) {
    const what = types.length === 0 ? 'no provider set' : `more than one provider set (${types.map(([k]) => k).join(', ')})`;
    return { kind: 'config', message: `${what}; supported: ${SUPPORTED_PROVIDERS.join(', ')}` };
  }
  const [type, config] = types[0] as [string, unknown];
  if (!Object.hasOwn(builders, type)) return { kind: 'config', message: `unknown metrics provider "${type}"; supported: ${SUPPORTED_PROVIDERS.join(', ')}` };
  return { type, config };
}

export function createMetricsProviderFactory(deps: MetricsFactoryDeps): MetricsProviderFactory {
  return {
    checkAddress(provider) {
      const found = typeOf(provider);
      if ('kind' in found) return undefined; // forMetric reports it
      try {
        return refusal(found.type, found.config, deps);
      } catch {
        return undefined;
      }
    },
    async forMetric(provider, namespace) {
      const found = typeOf(provider);
      if ('kind' in found) return { ok: false, error: found };
      const { type, config } = found;
      const build = builders[type] as Builder;
      try {
        return await build(config, namespace, deps);
      } catch (err) {
        return { ok: false, error: { kind: 'config', message: `${type}: ${(err as Error).message}` } };
      }
    },
  };
}
