// Controller configuration from flags and environment (flags win). Parsed with zod.
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DEFAULT_GITSYNC_SERVICE_ACCOUNT } from './api/git-sync.ts';
import { formatIssues } from './core/shared/zod-issues.ts';
import { durationToMs } from './api/duration.ts';
import { timingProblems } from './core/shared/lease.ts';
import { parseAddressPolicy } from './core/analysis/address-policy.ts';
import { Trigger } from './api/notification-policy.ts';

/** What the default channels get unless --notify-triggers says otherwise. */
export const DEFAULT_NOTIFY_TRIGGERS: Trigger[] = [
  'rollout-aborted',
  'analysis-inconclusive',
  'progress-deadline-exceeded',
  'gitsync-failing',
  'gitsync-recovered',
];

const Address = z.string().regex(/^[^:\s]*:[0-9]{1,5}$/, 'must be host:port, e.g. 127.0.0.1:8080');

const Millis = (flag: string) =>
  z
    .number({ error: `${flag} must be a duration such as 15s, 500ms or 1m` })
    .int()
    .positive(`${flag} must be positive`);

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
  gitsyncDefaultServiceAccount: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a ServiceAccount name')
    .max(253)
    .describe('ServiceAccount (in the GitSync namespace) a sync runs as when spec.serviceAccountName is not set'),
  analysisAllowedAddresses: z
    .array(z.string())
    .superRefine((entries, ctx) => {
      const parsed = parseAddressPolicy(entries);
      if (!parsed.ok) ctx.addIssue({ code: 'custom', message: `--analysis-allowed-addresses: ${parsed.error}` });
    })
    .describe('Hosts (host, *.domain, host:port or http(s) URL) analysis may query; empty = any'),
  reconcileQps: z.coerce.number().positive().describe('Reconciles per second per controller (token bucket)'),
  kubeApiQps: z.coerce.number().min(0).describe('Requests per second to the API server (0 = no client-side limit)'),
  kubeApiBurst: z.coerce.number().int().min(1).describe('Requests at once above that rate'),
  reconcileBurst: z.coerce.number().int().min(1).describe('Reconciles at once above the rate'),
  leaderElection: z
    .object({
      enabled: z.boolean().describe('Run as one of several replicas: only the holder of the Lease reconciles'),
      namespace: z.string().min(1).describe('Where the Lease is'),
      id: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name')
        .describe('The Lease name'),
      leaseDurationMs: Millis('--leader-elect-lease-duration'),
      renewDeadlineMs: Millis('--leader-elect-renew-deadline'),
      retryPeriodMs: Millis('--leader-elect-retry-period'),
    })
    .superRefine((le, ctx) => {
      for (const problem of timingProblems(le)) ctx.addIssue({ code: 'custom', message: problem });
    }),
  notify: z.object({
    webhookUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Cluster-wide default: a generic webhook receiver'),
    webhookSecretFile: z.string().optional().describe('File holding the HMAC-SHA256 key of the default webhook'),
    slackUrlFile: z.string().optional().describe('File holding the default Slack incoming-webhook URL (a secret)'),
    slackUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('The default Slack URL from the environment (SLUICE_NOTIFY_SLACK_URL)'),
    alertmanagerUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe('Cluster-wide default: Alertmanager base URL'),
    triggers: z.array(Trigger).min(1).describe('Triggers the default channels get'),
    defaultPolicy: z
      .string()
      .regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'must be NAMESPACE/NAME')
      .describe("The NotificationPolicy that holds the default channels' outbox (created by the controller)"),
    timeoutMs: z.number().int().min(1).max(120_000),
  }),
});
export type Config = z.infer<typeof Config>;

const USAGE = `Usage: sluice [--kubeconfig PATH] [--namespace NS] [--metrics-addr HOST:PORT] [--health-addr HOST:PORT] [--log-level LEVEL] [--workers N]
              [--git-cache-dir DIR] [--webhook-addr HOST:PORT] [--gitsync-allow-cross-namespace] [--gitsync-allow-cluster-scoped] [--gitsync-allow-file-urls]
              [--gitsync-default-service-account NAME] [--analysis-allowed-addresses HOST,...] [--reconcile-qps N] [--reconcile-burst N]
              [--kube-api-qps N] [--kube-api-burst N]
              [--leader-elect] [--leader-elect-lease-duration 15s] [--leader-elect-renew-deadline 10s] [--leader-elect-retry-period 2s]
              [--leader-elect-namespace NS] [--leader-elect-id NAME]
              [--notify-webhook-url URL] [--notify-webhook-secret-file PATH] [--notify-slack-url-file PATH] [--notify-alertmanager-url URL]
              [--notify-triggers T,T,...] [--notify-default-policy NAMESPACE/NAME] [--notify-timeout DURATION]
Environment: KUBECONFIG, SLUICE_NAMESPACE, SLUICE_METRICS_ADDR, SLUICE_HEALTH_ADDR, SLUICE_LOG_LEVEL, SLUICE_WORKERS,
             SLUICE_GIT_CACHE_DIR, SLUICE_WEBHOOK_ADDR, SLUICE_GITSYNC_ALLOW_CROSS_NAMESPACE, SLUICE_GITSYNC_ALLOW_CLUSTER_SCOPED,
             SLUICE_GITSYNC_ALLOW_FILE_URLS (true/false),
             SLUICE_GITSYNC_DEFAULT_SERVICE_ACCOUNT, SLUICE_ANALYSIS_ALLOWED_ADDRESSES, SLUICE_RECONCILE_QPS, SLUICE_RECONCILE_BURST,
             SLUICE_KUBE_API_QPS, SLUICE_KUBE_API_BURST,
             SLUICE_LEADER_ELECT (true/false), SLUICE_LEADER_ELECT_LEASE_DURATION, SLUICE_LEADER_ELECT_RENEW_DEADLINE, SLUICE_LEADER_ELECT_RETRY_PERIOD,
             SLUICE_LEADER_ELECT_NAMESPACE, SLUICE_LEADER_ELECT_ID; HOSTNAME names the Lease holder,
             SLUICE_NOTIFY_WEBHOOK_URL, SLUICE_NOTIFY_WEBHOOK_SECRET_FILE, SLUICE_NOTIFY_SLACK_URL_FILE, SLUICE_NOTIFY_SLACK_URL,
             SLUICE_NOTIFY_ALERTMANAGER_URL, SLUICE_NOTIFY_TRIGGERS, SLUICE_NOTIFY_DEFAULT_POLICY, SLUICE_NOTIFY_TIMEOUT`;

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/** The namespace this pod runs in, from its service-account token mount (undefined outside a pod). */
function podNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

const splitList = (value: string | undefined) =>
  value
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

/** A duration flag in milliseconds; NaN (refused by the schema with the flag's name) when it is not a duration. */
function durationMs(value: string): number {
  try {
    return durationToMs(value);
  } catch {
    return Number.NaN;
  }
}

const flag = (value: boolean | undefined, env: string | undefined) => value ?? (env === 'true' || env === '1');

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv, ownNamespace: () => string | undefined = podNamespace): Config {
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
      'gitsync-default-service-account': { type: 'string' },
      'analysis-allowed-addresses': { type: 'string' },
      'reconcile-qps': { type: 'string' },
      'reconcile-burst': { type: 'string' },
      'kube-api-qps': { type: 'string' },
      'kube-api-burst': { type: 'string' },
      'leader-elect': { type: 'boolean' },
      'leader-elect-lease-duration': { type: 'string' },
      'leader-elect-renew-deadline': { type: 'string' },
      'leader-elect-retry-period': { type: 'string' },
      'leader-elect-namespace': { type: 'string' },
      'leader-elect-id': { type: 'string' },
      'notify-webhook-url': { type: 'string' },
      'notify-webhook-secret-file': { type: 'string' },
      'notify-slack-url-file': { type: 'string' },
      'notify-alertmanager-url': { type: 'string' },
      'notify-triggers': { type: 'string' },
      'notify-default-policy': { type: 'string' },
      'notify-timeout': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const watched = values.namespace ?? env.SLUICE_NAMESPACE ?? undefined;
  const result = Config.safeParse({
    // $KUBECONFIG (which may list several files) is read by the kube adapter (adapters/kube/kubeconfig.ts)
    kubeconfig: values.kubeconfig ?? undefined,
    namespace: watched,
    metricsAddr: values['metrics-addr'] ?? env.SLUICE_METRICS_ADDR ?? '127.0.0.1:8080',
    healthAddr: values['health-addr'] ?? env.SLUICE_HEALTH_ADDR ?? '127.0.0.1:8081',
    logLevel: values['log-level'] ?? env.SLUICE_LOG_LEVEL ?? 'info',
    workers: values.workers ?? env.SLUICE_WORKERS ?? 10,
    gitCacheDir: values['git-cache-dir'] ?? env.SLUICE_GIT_CACHE_DIR ?? join(tmpdir(), 'sluice-git'),
    webhookAddr: values['webhook-addr'] ?? env.SLUICE_WEBHOOK_ADDR ?? undefined,
    gitsyncAllowCrossNamespace: flag(values['gitsync-allow-cross-namespace'], env.SLUICE_GITSYNC_ALLOW_CROSS_NAMESPACE),
    gitsyncAllowClusterScoped: flag(values['gitsync-allow-cluster-scoped'], env.SLUICE_GITSYNC_ALLOW_CLUSTER_SCOPED),
    gitsyncAllowFileUrls: flag(values['gitsync-allow-file-urls'], env.SLUICE_GITSYNC_ALLOW_FILE_URLS),
    gitsyncDefaultServiceAccount: values['gitsync-default-service-account'] ?? env.SLUICE_GITSYNC_DEFAULT_SERVICE_ACCOUNT ?? DEFAULT_GITSYNC_SERVICE_ACCOUNT,
    analysisAllowedAddresses: (values['analysis-allowed-addresses'] ?? env.SLUICE_ANALYSIS_ALLOWED_ADDRESSES ?? '')
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean),
    reconcileQps: values['reconcile-qps'] ?? env.SLUICE_RECONCILE_QPS ?? 100,
    reconcileBurst: values['reconcile-burst'] ?? env.SLUICE_RECONCILE_BURST ?? 300,
    kubeApiQps: values['kube-api-qps'] ?? env.SLUICE_KUBE_API_QPS ?? 100,
    kubeApiBurst: values['kube-api-burst'] ?? env.SLUICE_KUBE_API_BURST ?? 200,
    leaderElection: {
      enabled: flag(values['leader-elect'], env.SLUICE_LEADER_ELECT),
      namespace:
        values['leader-elect-namespace'] ?? env.SLUICE_LEADER_ELECT_NAMESPACE ?? ownNamespace() ?? env.POD_NAMESPACE ?? env.SLUICE_NAMESPACE ?? 'default',
      id: values['leader-elect-id'] ?? env.SLUICE_LEADER_ELECT_ID ?? 'sluice-controller',
      leaseDurationMs: durationMs(values['leader-elect-lease-duration'] ?? env.SLUICE_LEADER_ELECT_LEASE_DURATION ?? '15s'),
      renewDeadlineMs: durationMs(values['leader-elect-renew-deadline'] ?? env.SLUICE_LEADER_ELECT_RENEW_DEADLINE ?? '10s'),
      retryPeriodMs: durationMs(values['leader-elect-retry-period'] ?? env.SLUICE_LEADER_ELECT_RETRY_PERIOD ?? '2s'),
    },
    notify: {
      webhookUrl: values['notify-webhook-url'] ?? env.SLUICE_NOTIFY_WEBHOOK_URL ?? undefined,
      webhookSecretFile: values['notify-webhook-secret-file'] ?? env.SLUICE_NOTIFY_WEBHOOK_SECRET_FILE ?? undefined,
      slackUrlFile: values['notify-slack-url-file'] ?? env.SLUICE_NOTIFY_SLACK_URL_FILE ?? undefined,
      slackUrl: env.SLUICE_NOTIFY_SLACK_URL || undefined,
      alertmanagerUrl: values['notify-alertmanager-url'] ?? env.SLUICE_NOTIFY_ALERTMANAGER_URL ?? undefined,
      triggers: splitList(values['notify-triggers'] ?? env.SLUICE_NOTIFY_TRIGGERS) ?? DEFAULT_NOTIFY_TRIGGERS,
      // Watching one namespace, the controller sees (and may write) NotificationPolicies there only.
      defaultPolicy:
        values['notify-default-policy'] ?? env.SLUICE_NOTIFY_DEFAULT_POLICY ?? `${watched ?? ownNamespace() ?? env.POD_NAMESPACE ?? 'default'}/sluice-default`,
      timeoutMs: durationMs(values['notify-timeout'] ?? env.SLUICE_NOTIFY_TIMEOUT ?? '10s'),
    },
  });
  if (!result.success) {
    throw new Error(`invalid configuration: ${formatIssues(result.error.issues, 10)}\n${USAGE}`);
  }
  const policyNamespace = result.data.notify.defaultPolicy.split('/')[0];
  if (watched && policyNamespace !== watched) {
    throw new Error(`invalid configuration: --notify-default-policy: "${result.data.notify.defaultPolicy}" is outside the watched namespace ${watched}`);
  }
  return result.data;
}
