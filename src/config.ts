// Controller configuration from flags and environment (flags win). Parsed with zod.
import { parseArgs } from 'node:util';
import { z } from 'zod';

const Address = z.string().regex(/^[^:\s]*:[0-9]{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8080');

export const Config = z.object({
  kubeconfig: z.string().optional().describe('Path to a kubeconfig; default: $KUBECONFIG, ~/.kube/config, or in-cluster'),
  namespace: z.string().optional().describe('Watch one namespace; default: all'),
  metricsAddr: Address.describe('Where /metrics is served'),
  healthAddr: Address.describe('Where /healthz and /readyz are served'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']),
  workers: z.coerce.number().int().min(1).max(64),
});
export type Config = z.infer<typeof Config>;

const USAGE = `Usage: sluice [--kubeconfig PATH] [--namespace NS] [--metrics-addr HOST:PORT] [--health-addr HOST:PORT] [--log-level LEVEL] [--workers N]
Environment: KUBECONFIG, SLUICE_NAMESPACE, SLUICE_METRICS_ADDR, SLUICE_HEALTH_ADDR, SLUICE_LOG_LEVEL, SLUICE_WORKERS`;

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      namespace: { type: 'string' },
      'metrics-addr': { type: 'string' },
      'health-addr': { type: 'string' },
      'log-level': { type: 'string' },
      workers: { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const result = Config.safeParse({
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG ?? undefined,
    namespace: values.namespace ?? env.SLUICE_NAMESPACE ?? undefined,
    metricsAddr: values['metrics-addr'] ?? env.SLUICE_METRICS_ADDR ?? '127.0.0.1:8080',
    healthAddr: values['health-addr'] ?? env.SLUICE_HEALTH_ADDR ?? '127.0.0.1:8081',
    logLevel: values['log-level'] ?? env.SLUICE_LOG_LEVEL ?? 'info',
    workers: values.workers ?? env.SLUICE_WORKERS ?? 4,
  });
  if (!result.success) {
    throw new Error(`invalid configuration: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n${USAGE}`);
  }
  return result.data;
}
