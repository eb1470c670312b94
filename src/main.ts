// The only place that wires configuration, adapters and controllers together.
import http from 'node:http';
import pino from 'pino';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { loadKubeConfig, RestKubeClient } from './adapters/kube/client.ts';
import { KubeSecretReader } from './controller/runtime/secret-reader.ts';
import { loadConfig } from './config.ts';
import { createMetricsProviderFactory } from './adapters/prometheus/factory.ts';
import { parseAddressPolicy } from './core/analysis/address-policy.ts';
import { createGitClient } from './adapters/git/index.ts';
import { AnalysisController } from './controller/analysis/analysis-controller.ts';
import { GitSyncController } from './controller/gitsync/git-sync-controller.ts';
import { requestSync } from './controller/gitsync/git-sync-reconciler.ts';
import { startWebhookServer, webhookSecretResolver } from './adapters/http/webhook-server.ts';
import { RolloutController } from './controller/rollout/rollout-controller.ts';
import { createLeaderMetrics, holderIdentity, LeaderElector } from './controller/runtime/leader-election.ts';
import { systemClock } from './ports/clock.ts';
import { kinds } from './ports/kube.ts';
import { censorLogValue, LOG_REDACT_PATHS } from './core/shared/redact.ts';
import { registerControllerMetrics } from './controller/metrics-registry.ts';
import { NotificationController } from './controller/notify/notification-controller.ts';
import type { DefaultPolicy } from './controller/notify/notification-reconciler.ts';
import { createNotifierFactory } from './adapters/notifiers/factory.ts';
import { DEFAULT_OUTBOX } from './core/notify/outbox.ts';
import type { Config } from './config.ts';
import type { ChannelConfig } from './ports/notifier.ts';

/** The cluster-wide default channels from the flags (their secrets read from files or the environment), or none. */
function defaultPolicy(config: Config['notify']): DefaultPolicy | undefined {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new Error(`${what}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const channels: ChannelConfig[] = [];
  const base = { timeoutMs: config.timeoutMs };
  if (config.webhookUrl) {
    const signingSecret = config.webhookSecretFile ? read(config.webhookSecretFile, '--notify-webhook-secret-file') : undefined;
    channels.push({ ...base, name: 'default-webhook', type: 'webhook', url: config.webhookUrl, ...(signingSecret ? { signingSecret } : {}) });
  }
  const slackUrl = config.slackUrlFile ? read(config.slackUrlFile, '--notify-slack-url-file') : config.slackUrl;
  if (slackUrl) channels.push({ ...base, name: 'default-slack', type: 'slack', url: slackUrl });
  if (config.alertmanagerUrl) channels.push({ ...base, name: 'default-alertmanager', type: 'alertmanager', url: config.alertmanagerUrl });
  if (channels.length === 0) return undefined;
  return { key: config.defaultPolicy, channels, routes: [{ triggers: config.triggers, channels: channels.map((c) => c.name) }] };
}

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  const logger = pino({ level: config.logLevel, base: { component: 'sluice' }, redact: { paths: [...LOG_REDACT_PATHS], censor: censorLogValue } });
  const kubeConfig = config.kubeconfig ? loadKubeConfig(config.kubeconfig) : loadKubeConfig();
  const registry = new Registry();
  const metrics = registerControllerMetrics(registry);
  const controllerMetrics = metrics.controller;
  const kube = new RestKubeClient(kubeConfig, {
    userAgent: 'sluice-controller',
    qps: config.kubeApiQps,
    burst: config.kubeApiBurst,
    onRequest: metrics.apiRequest,
    onInformerError: (kind, err) =>
      logger.warn(
        { resource: `${kind.plural}.${kind.apiVersion}`, err: err instanceof Error ? err.message : String(err) },
        'Cannot list or watch; retrying (are the CRDs installed? kubectl apply --server-side -f crds/)',
      ),
  });

  const analysisRuns = kube.informer(kinds.analysisRun, config.namespace ? { namespace: config.namespace } : {});
  const secrets = new KubeSecretReader(kube);
  const addressPolicy = parseAddressPolicy(config.analysisAllowedAddresses);
  if (!addressPolicy.ok) throw new Error(addressPolicy.error); // loadConfig has checked it already
  const rate = { qps: config.reconcileQps, burst: config.reconcileBurst };
  const analysis = new AnalysisController({
    kube,
    clock: systemClock,
    logger,
    metrics: createMetricsProviderFactory({ secrets, allowedAddresses: addressPolicy.value, proxyEnv: process.env }),
    secrets,
    runs: analysisRuns,
    workers: config.workers,
    ...rate,
    controllerMetrics,
  });
  const controller = new RolloutController({
    kube,
    clock: systemClock,
    logger,
    analysisRuns,
    workers: config.workers,
    ...rate,
    metrics: controllerMetrics,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    onPlanned: (planned) => rolloutMetrics.observe(planned),
  });

  const gitSync = new GitSyncController({
    kube,
    git: createGitClient({ cacheDir: config.gitCacheDir, allowFileUrls: config.gitsyncAllowFileUrls }),
    clock: systemClock,
    logger,
    policy: {
      allowCrossNamespace: config.gitsyncAllowCrossNamespace,
      allowClusterScoped: config.gitsyncAllowClusterScoped,
      allowFileUrls: config.gitsyncAllowFileUrls,
      defaultServiceAccount: config.gitsyncDefaultServiceAccount,
    },
    secrets,
    metrics: controllerMetrics,
    ...rate,
    ...(config.namespace ? { namespace: config.namespace } : {}),
  });

  const rolloutMetrics = metrics.watch({ rollouts: controller.caches.rollouts, analysisRuns, gitSyncs: gitSync.gitSyncs });
  const defaults = defaultPolicy(config.notify);
  const apiServerURL = kubeConfig.server ?? 'https://kubernetes.default.svc';
  const notifications = new NotificationController({
    kube,
    clock: systemClock,
    logger,
    secrets,
    notifiers: createNotifierFactory({ alertLifetimeMs: DEFAULT_OUTBOX.alertLifetimeMs, apiServerURL }),
    rollouts: controller.caches.rollouts,
    gitSyncs: gitSync.gitSyncs,
    metrics: controllerMetrics,
    notifyMetrics: metrics.notify,
    ...(defaults ? { defaults } : {}),
    ...(config.namespace ? { namespace: config.namespace } : {}),
  });

  let ready = false;
  const onStop: Array<() => Promise<void>> = [];
  const servers = [
    serve(config.metricsAddr, async (_req, res) => {
      res.setHeader('Content-Type', registry.contentType);
      res.end(await registry.metrics());
    }),
    // /readyz: the caches are filled. A follower is ready too: it answers webhooks and health checks.
    serve(config.healthAddr, (req, res) => {
      const ok = req.url === '/healthz' || ready;
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok' : 'not ready');
    }),
  ];

  // --- Leadership. Every replica fills its caches, answers health checks and receives webhooks
  // (a push only writes the sync-requested annotation, which the leader's GitSync controller
  // sees); only the leader runs the controllers, so only it reconciles and notifies. Without
  // --leader-elect this process is the only one and runs them at once.
  const controllers = [controller, analysis, gitSync, notifications];
  const le = config.leaderElection;
  let elector: LeaderElector | undefined;
  let stopping = false;
  const exit = (code: number) => {
    for (const s of servers) s.close();
    process.exit(code);
  };
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'Shutting down');
    // Each controller takes no new work and finishes the reconciles in flight; then the Lease
    // is handed back, so another replica leads within a retry period instead of a lease duration.
    await Promise.all([...controllers.map((c) => c.stop()), ...onStop.map((stop) => stop())]);
    logger.info('Controllers stopped');
    await elector?.release();
    exit(0);
  };
  // Lost the Lease (not renewed within the renew deadline, or someone else holds it): stop at
  // once and exit, as controller-runtime does; the pod is restarted and comes back as a follower
  // with a new identity. Reconciles in flight may finish while nobody else can hold the Lease
  // yet (lease duration - renew deadline), never longer.
  const leadershipLost = async (reason: string, taken: boolean) => {
    if (stopping) return;
    stopping = true;
    // Not renewed: nobody else may lead before the lease duration, so work in flight may finish
    // until then. Taken: the other holder may already act, so exit now (as a crash would).
    const graceMs = taken ? 0 : le.leaseDurationMs - le.renewDeadlineMs;
    const drained = await Promise.race([
      Promise.all(controllers.map((c) => c.stop())).then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), graceMs).unref()),
    ]);
    logger.error({ reason, drained }, 'Exiting: leadership lost (restart to rejoin as a follower)');
    exit(1);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const server = kubeConfig.server;
  logger.info(
    {
      server,
      namespace: config.namespace ?? '(all)',
      metrics: config.metricsAddr,
      health: config.healthAddr,
      leaderElection: le.enabled ? `${le.namespace}/${le.id}` : 'off',
    },
    'Starting Sluice controller',
  );
  await Promise.all(controllers.map((c) => c.startCaches()));
  if (defaults)
    logger.info({ policy: defaults.key, channels: defaults.channels.map((c) => c.name), triggers: config.notify.triggers }, 'Default notifications on');
  if (config.webhookAddr) {
    // The push-webhook receiver, an inbound adapter: a verified push only asks for a sync.
    const i = config.webhookAddr.lastIndexOf(':');
    const webhook = await startWebhookServer({
      host: config.webhookAddr.slice(0, i) || '0.0.0.0',
      port: Number(config.webhookAddr.slice(i + 1)),
      logger,
      resolveSecret: webhookSecretResolver(secrets, (ns, name) => gitSync.gitSyncs.get(ns, name)),
      trigger: (ns, name) => requestSync(kube, ns, name, systemClock.now()),
    });
    onStop.push(() => webhook.close());
    logger.info({ url: webhook.url }, 'Webhook receiver listening');
  }
  ready = true;
  const runAll = () => {
    for (const c of controllers) c.run();
    logger.info({ rollouts: controller.caches.rollouts.list().length }, 'Caches synced; reconciling');
  };
  if (!le.enabled) {
    runAll();
    return;
  }
  const identity = holderIdentity(process.env.HOSTNAME ?? '');
  elector = new LeaderElector({
    // its own client: a Lease request never waits longer than the renew deadline
    kube: new RestKubeClient(kubeConfig, { userAgent: 'sluice-controller/leader-election', timeoutMs: le.renewDeadlineMs }),
    clock: systemClock,
    logger,
    namespace: le.namespace,
    name: le.id,
    identity,
    timing: le,
    metrics: createLeaderMetrics(registry, `${le.namespace}/${le.id}`),
    onStartedLeading: () => {
      if (!stopping) runAll();
    },
    onStoppedLeading: (reason, taken) => void leadershipLost(reason, taken),
  });
  logger.info({ identity }, 'Caches synced; following until this replica holds the Lease');
  elector.start();
}

function serve(address: string, handler: http.RequestListener): http.Server {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i) || '0.0.0.0';
  const port = Number(address.slice(i + 1));
  const server = http.createServer((req, res) => {
    Promise.resolve(handler(req, res)).catch((err: unknown) => {
      res.statusCode = 500;
      res.end(String(err));
    });
  });
  server.listen(port, host);
  return server;
}

main().catch((err: unknown) => {
  console.error(`sluice: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
