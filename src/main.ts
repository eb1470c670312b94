// The only place that wires configuration, adapters and controllers together.
import http from 'node:http';
import pino from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { loadKubeConfig, RestKubeClient } from './adapters/kube/client.ts';
import { KubeSecretReader } from './adapters/kube/secret-reader.ts';
import { createControllerMetrics } from './controller/runtime/metrics.ts';
import { loadConfig } from './config.ts';
import { createMetricsProviderFactory } from './adapters/prometheus/factory.ts';
import { createGitClient } from './adapters/git/index.ts';
import { AnalysisController } from './controller/analysis/analysis-controller.ts';
import { GitSyncController } from './controller/gitsync/git-sync-controller.ts';
import { requestSync } from './controller/gitsync/git-sync-reconciler.ts';
import { startWebhookServer, webhookSecretResolver } from './adapters/http/webhook-server.ts';
import { RolloutController } from './controller/rollout/rollout-controller.ts';
import { systemClock } from './ports/clock.ts';
import { kinds } from './ports/kube.ts';

const PHASES = ['Healthy', 'Progressing', 'Paused', 'Degraded'] as const;

async function main(): Promise<void> {
  const config = loadConfig(process.argv.slice(2), process.env);
  const logger = pino({ level: config.logLevel, base: { component: 'sluice' } });
  const kubeConfig = config.kubeconfig ? loadKubeConfig(config.kubeconfig) : loadKubeConfig();
  const kube = new RestKubeClient(kubeConfig, {
    userAgent: 'sluice-controller',
    onInformerError: (kind, err) =>
      logger.warn(
        { resource: `${kind.plural}.${kind.apiVersion}`, err: err instanceof Error ? err.message : String(err) },
        'Cannot list or watch; retrying (are the CRDs installed? kubectl apply --server-side -f crds/)',
      ),
  });

  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_process_' });
  const controllerMetrics = createControllerMetrics(registry);
  const phase = new Gauge({
    name: 'sluice_rollout_phase',
    help: '1 for the phase a Rollout is in',
    labelNames: ['namespace', 'rollout', 'phase'],
    registers: [registry],
  });
  const weight = new Gauge({
    name: 'sluice_rollout_weight',
    help: 'Canary weight, desired and actual',
    labelNames: ['namespace', 'rollout', 'kind'],
    registers: [registry],
  });
  const step = new Gauge({ name: 'sluice_rollout_step', help: 'Current step index', labelNames: ['namespace', 'rollout'], registers: [registry] });

  const analysisRuns = kube.informer(kinds.analysisRun, config.namespace ? { namespace: config.namespace } : {});
  const secrets = new KubeSecretReader(kube);
  const analysis = new AnalysisController({
    kube,
    clock: systemClock,
    logger,
    metrics: createMetricsProviderFactory({ secrets }),
    secrets,
    runs: analysisRuns,
    workers: config.workers,
    controllerMetrics,
  });
  const controller = new RolloutController({
    kube,
    clock: systemClock,
    logger,
    analysisRuns,
    workers: config.workers,
    metrics: controllerMetrics,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    onPlanned: ({ rollout, plan }) => {
      const labels = { namespace: rollout.metadata.namespace ?? '', rollout: rollout.metadata.name ?? '' };
      for (const p of PHASES) phase.set({ ...labels, phase: p }, plan.status.phase === p ? 1 : 0);
      weight.set({ ...labels, kind: 'desired' }, plan.status.desiredWeight ?? 0);
      weight.set({ ...labels, kind: 'actual' }, plan.status.actualWeight ?? 0);
      step.set(labels, plan.status.currentStepIndex ?? 0);
    },
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
    },
    secrets,
    metrics: controllerMetrics,
    ...(config.namespace ? { namespace: config.namespace } : {}),
  });

  let ready = false;
  const onStop: Array<() => Promise<void>> = [];
  const servers = [
    serve(config.metricsAddr, async (_req, res) => {
      res.setHeader('Content-Type', registry.contentType);
      res.end(await registry.metrics());
    }),
    serve(config.healthAddr, (req, res) => {
      const ok = req.url === '/healthz' || ready;
      res.statusCode = ok ? 200 : 503;
      res.end(ok ? 'ok' : 'not ready');
    }),
  ];

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'Shutting down');
    // Each controller takes no new work and finishes the reconciles in flight before the exit.
    await Promise.all([controller.stop(), analysis.stop(), gitSync.stop(), ...onStop.map((stop) => stop())]);
    for (const s of servers) s.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  const server = kubeConfig.getCurrentCluster()?.server;
  logger.info({ server, namespace: config.namespace ?? '(all)', metrics: config.metricsAddr, health: config.healthAddr }, 'Starting Sluice controller');
  await controller.start();
  await analysis.start();
  await gitSync.start();
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
  logger.info({ rollouts: controller.caches.rollouts.list().length }, 'Caches synced; reconciling');
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
