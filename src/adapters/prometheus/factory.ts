// Metrics providers keyed by type. An unknown type is an error naming the supported ones,
// never a quiet fallback to Prometheus.
import { redactUrl } from '../../core/shared/redact.ts';
import type { MetricProvider } from '../../api/analysis.ts';
import type { MetricsProviderFactory, ProviderResult } from '../../ports/metrics.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import { isAddressAllowed, type AddressPattern } from '../../core/analysis/address-policy.ts';
import { prometheusHeaders, secretNamesOfPrometheus } from './headers.ts';
import { PrometheusProvider } from './prometheus.ts';

export interface MetricsFactoryDeps {
  /** Reads the Secrets named by auth and headers. */
  secrets: SecretReader;
  /** The controller's policy for provider addresses (--analysis-allowed-addresses); empty = any. */
  allowedAddresses?: readonly AddressPattern[];
}

type Builder = (config: unknown, namespace: string, deps: MetricsFactoryDeps) => Promise<ProviderResult>;

const builders: Record<string, Builder> = {
  prometheus: async (config, namespace, deps) => {
    const spec = config as NonNullable<MetricProvider['prometheus']>;
    if (!isAddressAllowed(spec.address, deps.allowedAddresses ?? [])) {
      // Checked before any Secret is read: a refused address never sees a credential.
      return {
        ok: false,
        error: {
          kind: 'config',
          message: `address ${redactUrl(spec.address)} is not allowed by this controller's policy (--analysis-allowed-addresses)`,
        },
      };
    }
    const secrets = await deps.secrets.readAll(namespace, secretNamesOfPrometheus(spec), 'analysis');
    if (!secrets.ok) return { ok: false, error: { kind: 'config', message: secrets.error } };
    const headers = prometheusHeaders(spec, secrets.value, namespace);
    if (!headers.ok) return { ok: false, error: { kind: 'config', message: headers.error } };
    return { ok: true, provider: new PrometheusProvider({ address: spec.address, headers: headers.value }) };
  },
};

export const SUPPORTED_PROVIDERS: readonly string[] = Object.keys(builders);

export function createMetricsProviderFactory(deps: MetricsFactoryDeps): MetricsProviderFactory {
  return {
    async forMetric(provider, namespace) {
      const types = Object.entries(provider as Record<string, unknown>).filter(([, v]) => v !== undefined && v !== null);
      if (types.length !== 1) {
        const what = types.length === 0 ? 'no provider set' : `more than one provider set (${types.map(([k]) => k).join(', ')})`;
        return { ok: false, error: { kind: 'config', message: `${what}; supported: ${SUPPORTED_PROVIDERS.join(', ')}` } };
      }
      const [type, config] = types[0] as [string, unknown];
      const build = Object.hasOwn(builders, type) ? builders[type] : undefined;
      if (!build) return { ok: false, error: { kind: 'config', message: `unknown metrics provider "${type}"; supported: ${SUPPORTED_PROVIDERS.join(', ')}` } };
      try {
        return await build(config, namespace, deps);
      } catch (err) {
        return { ok: false, error: { kind: 'config', message: `${type}: ${(err as Error).message}` } };
      }
    },
  };
}
