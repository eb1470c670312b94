// GitSyncs on their own queue, fed by a GitSync informer; the webhook receiver only marks a
// GitSync as "sync requested", so whichever replica receives it, the reconcile does the work.
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.ts';
import type { GitClient } from '../../ports/git.ts';
import { kinds, type Informer, type KubeClient } from '../../ports/kube.ts';
import type { GitSyncPolicy } from '../../core/gitops/manifests.ts';
import { reconcileGitSync, requestSync } from './git-sync-reconciler.ts';
import { WorkQueue } from '../runtime/queue.ts';
import { startWebhookServer, webhookSecretResolver, type WebhookServer } from '../../adapters/http/webhook-server.ts';

export interface GitSyncControllerOptions {
  kube: KubeClient;
  git: GitClient;
  clock: Clock;
  logger: Logger;
  policy: GitSyncPolicy;
  namespace?: string;
  workers?: number;
  /** host:port for push webhooks; undefined = no receiver. */
  webhookAddr?: string;
}

export class GitSyncController {
  readonly queue: WorkQueue;
  readonly gitSyncs: Informer;
  private webhook: WebhookServer | undefined;
  private readonly opts: GitSyncControllerOptions;

  constructor(opts: GitSyncControllerOptions) {
    this.opts = opts;
    this.gitSyncs = opts.kube.informer(kinds.gitSync, opts.namespace ? { namespace: opts.namespace } : {});
    const deps = { kube: opts.kube, git: opts.git, clock: opts.clock, logger: opts.logger, policy: opts.policy, instance: process.env.HOSTNAME ?? 'local' };
    this.queue = new WorkQueue(
      async (key) => {
        const [namespace, name] = key.split('/') as [string, string];
        const obj = this.gitSyncs.get(namespace, name);
        if (!obj) {
          await opts.git.forget(`${namespace}/${name}`);
          return {};
        }
        return reconcileGitSync(obj, deps);
      },
      {
        workers: opts.workers ?? 2,
        clock: opts.clock,
        onError: (key, err, retryInMs) =>
          opts.logger.warn({ key, err: err instanceof Error ? err.message : String(err), retryInMs }, 'GitSync reconcile failed'),
      },
    );
    this.gitSyncs.onChange((_type, obj) => this.queue.add(`${obj.metadata?.namespace}/${obj.metadata?.name}`));
  }

  async start(): Promise<void> {
    await this.gitSyncs.start();
    for (const g of this.gitSyncs.list()) this.queue.add(`${g.metadata?.namespace}/${g.metadata?.name}`);
    if (this.opts.webhookAddr) {
      const i = this.opts.webhookAddr.lastIndexOf(':');
      const { kube, clock, logger } = this.opts;
      this.webhook = await startWebhookServer({
        host: this.opts.webhookAddr.slice(0, i) || '0.0.0.0',
        port: Number(this.opts.webhookAddr.slice(i + 1)),
        logger,
        resolveSecret: webhookSecretResolver(kube, (ns, name) => this.gitSyncs.get(ns, name)),
        trigger: (ns, name) => requestSync(kube, ns, name, clock.now()),
      });
      logger.info({ url: this.webhook.url }, 'Webhook receiver listening');
    }
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await this.webhook?.close();
    await this.gitSyncs.stop();
  }
}
