// Controller configuration from flags and environment (flags win). Parsed with zod.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatIssues } from './core/shared/zod-issues.ts';

const Address = z.string().regex(/^[^:\s]*:[0-9]{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8080');

export const Config = z.object({
  kubeconfig: z.string().optional().describe('Path to a kubeconfig; default: $KUBECONFIG, ~/.kube/config, or in-cluster'),
  namespace: z.string().optional().describe('Watch one namespace; default: all'),
  metricsAddr: Address.describe('Where /metrics is served'),
  healthAddr: Address.describe('Where /healthz and /readyz are served'),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error']),
  workers: z.coerce.number().int().min(1).max(64),
  gitCacheDir: z.string().min(1).describe('Where GitSync keeps its bare repositories (an emptyDir in a cluster)'),
  webhookAddr: Address.optional().describe('Where push webhooks are received; unset = no receiver'),
  gitsyncAllowCrossNamespace: z.boolean(),
  gitsyncAllowClusterScoped: z.boolean(),
  gitsyncAllowFileUrls: z.boolean(),
});
export type Config = z.infer<typeof Config>;

const USAGE = `Usage: sluice [--kubeconfig PATH] [--namespace NS] [--metrics-addr HOST:PORT] [--health-addr HOST:PORT] [--log-level LEVEL] [--workers N]
              [--git-cache-dir DIR] [--webhook-addr HOST:PORT] [--gitsync-allow-cross-namespace] [--gitsync-allow-cluster-scoped] [--gitsync-allow-file-urls]
Environment: KUBECONFIG, SLUICE_NAMESPACE, SLUICE_METRICS_ADDR, SLUICE_HEALTH_ADDR, SLUICE_LOG_LEVEL, SLUICE_WORKERS,
             SLUICE_GIT_CACHE_DIR, SLUICE_WEBHOOK_ADDR, SLUICE_GITSYNC_ALLOW_CROSS_NAMESPACE, SLUICE_GITSYNC_ALLOW_CLUSTER_SCOPED, SLUICE_GITSYNC_ALLOW_FILE_URLS (true/false)`;

const flag = (value: boolean | undefined, env: string | undefined) => value ?? (env === 'true' || env === '1');

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
      'git-cache-dir': { type: 'string' },
      'webhook-addr': { type: 'string' },
      'gitsync-allow-cross-namespace': { type: 'boolean' },
      'gitsync-allow-cluster-scoped': { type: 'boolean' },
      'gitsync-allow-file-urls': { type: 'boolean' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const result = Config.safeParse({
    // $KUBECONFIG (which may list several files) is read by the client library itself
    kubeconfig: values.kubeconfig ?? undefined,
    namespace: values.namespace ?? env.SLUICE_NAMESPACE ?? undefined,
    metricsAddr: values['metrics-addr'] ?? env.SLUICE_METRICS_ADDR ?? '127.0.0.1:8080',
    healthAddr: values['health-addr'] ?? env.SLUICE_HEALTH_ADDR ?? '127.0.0.1:8081',
    logLevel: values['log-level'] ?? env.SLUICE_LOG_LEVEL ?? 'info',
    workers: values.workers ?? env.SLUICE_WORKERS ?? 4,
    gitCacheDir: values['git-cache-dir'] ?? env.SLUICE_GIT_CACHE_DIR ?? join(tmpdir(), 'sluice-git'),
    webhookAddr: values['webhook-addr'] ?? env.SLUICE_WEBHOOK_ADDR ?? undefined,
    gitsyncAllowCrossNamespace: flag(values['gitsync-allow-cross-namespace'], env.SLUICE_GITSYNC_ALLOW_CROSS_NAMESPACE),
    gitsyncAllowClusterScoped: flag(values['gitsync-allow-cluster-scoped'], env.SLUICE_GITSYNC_ALLOW_CLUSTER_SCOPED),
    gitsyncAllowFileUrls: flag(values['gitsync-allow-file-urls'], env.SLUICE_GITSYNC_ALLOW_FILE_URLS),
  });
  if (!result.success) {
    throw new Error(`invalid configuration: ${formatIssues(result.error.issues, 10)}\n${USAGE}`);
  }
  return result.data;
}
