// The notification controller: the shell (src/controller/runtime/controller.ts) over the
// NotificationPolicy cache, fed by the Events the one recorder labels and by the Rollouts and
// GitSyncs they are about (a problem is over when the object says so). It is started like the
// other controllers, so when only the leader runs controllers, only the leader sends.
import type { Logger } from 'pino';
import { EVENT_LABEL, EVENT_LABEL_VALUE, type NotificationPolicyStatus } from '../../api/notification-policy.ts';
import type { Clock } from '../../ports/clock.ts';
import { KubeError, kinds, type Informer, type KubeClient, type KubeObject } from '../../ports/kube.ts';
import type { NotifierFactory } from '../../ports/notifier.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import { Controller, keyOf, parseKey } from '../runtime/controller.ts';
import { EventRecorder, type EventSource } from '../runtime/events.ts';
import type { ControllerMetrics } from '../runtime/metrics.ts';
import { StatusWriter } from '../runtime/status-writer.ts';
import type { OutboxSettings } from '../../core/notify/outbox.ts';
import { NotificationReconciler, type DefaultPolicy, type NotificationCaches } from './notification-reconciler.ts';
import { noNotifyMetrics, type NotifyMetrics } from './notify-metrics.ts';

export interface NotificationControllerOptions {
  kube: KubeClient;
  clock: Clock;
  logger: Logger;
  secrets: SecretReader;
  notifiers: NotifierFactory;
  namespace?: string;
  /** Shared caches of the other controllers (created here when absent). */
  rollouts?: Informer;
  gitSyncs?: Informer;
  defaults?: DefaultPolicy;
  settings?: Partial<OutboxSettings>;
  workers?: number;
  metrics?: ControllerMetrics;
  notifyMetrics?: NotifyMetrics;
  eventSource?: EventSource;
}

export class NotificationController extends Controller {
  readonly caches: NotificationCaches;
  private readonly notify: NotificationControllerOptions;
  private readonly notifyLog: Logger;

  constructor(opts: NotificationControllerOptions) {
    const { kube, namespace } = opts;
    const scope = namespace ? { namespace } : {};
    const caches: NotificationCaches = {
      policies: kube.informer(kinds.notificationPolicy, scope),
      events: kube.informer(kinds.event, { ...scope, labelSelector: `${EVENT_LABEL}=${EVENT_LABEL_VALUE}` }),
      rollouts: opts.rollouts ?? kube.informer(kinds.rollout, scope),
      gitSyncs: opts.gitSyncs ?? kube.informer(kinds.gitSync, scope),
    };
    const now = () => opts.clock.now();
    const reconciler = new NotificationReconciler({
      caches,
      secrets: opts.secrets,
      notifiers: opts.notifiers,
      clock: opts.clock,
      status: new StatusWriter(kube, now),
      events: new EventRecorder(
        kube,
        now,
        opts.eventSource ?? { component: 'sluice-controller', reportingComponent: 'sluice.dev/controller', instance: process.env.HOSTNAME ?? 'local' },
      ),
      metrics: opts.notifyMetrics ?? noNotifyMetrics,
      ...(opts.defaults ? { defaults: opts.defaults } : {}),
      ...(opts.settings ? { settings: opts.settings } : {}),
    });
    // Every policy of the Event's namespace looks (and the cluster default, which covers all).
    const policiesFor = (obj: KubeObject) => {
      const ns = obj.metadata?.namespace ?? (obj as { involvedObject?: { namespace?: string } }).involvedObject?.namespace;
      const keys = caches.policies.list(ns).map(keyOf);
      if (opts.defaults) keys.push(opts.defaults.key);
      return keys;
    };
    const policiesWithOpenProblem = (obj: KubeObject, kind: string) => {
      const { namespace: ns, name } = obj.metadata ?? {};
      const policies = caches.policies.list(ns);
      if (opts.defaults) {
        const d = parseKey(opts.defaults.key);
        const p = caches.policies.get(d.namespace, d.name);
        if (p && !policies.includes(p)) policies.push(p);
      }
      return policies
        .filter((p) =>
          ((p as { status?: NotificationPolicyStatus }).status?.open ?? []).some(
            (o) => o.notification.object.kind === kind && o.notification.object.namespace === ns && o.notification.object.name === name,
          ),
        )
        .map(keyOf);
    };
    super({
      name: 'notification',
      reconciler,
      primary: caches.policies,
      watches: [
        { informer: caches.events, keysFor: (event, type) => (type === 'DELETED' ? [] : policiesFor(event)) },
        // A Rollout or GitSync changes often; only a policy with an open problem about it needs to
        // look (whether the problem is over). New problems come with their Events.
        { informer: caches.rollouts, keysFor: (obj) => policiesWithOpenProblem(obj, 'Rollout') },
        { informer: caches.gitSyncs, keysFor: (obj) => policiesWithOpenProblem(obj, 'GitSync') },
      ],
      clock: opts.clock,
      logger: opts.logger,
      workers: opts.workers ?? 2,
      ...(opts.metrics ? { metrics: opts.metrics } : {}),
    });
    this.caches = caches;
    this.notify = opts;
    this.notifyLog = opts.logger.child({ controller: 'notification' });
  }

  /** Starts reconciling; the cluster default's NotificationPolicy is created first when it does not exist. */
  override run(): void {
    void this.ensureDefaultPolicy()
      .catch((err: unknown) =>
        this.notifyLog.warn({ err: (err as Error).message, policy: this.notify.defaults?.key }, 'Cannot create the default NotificationPolicy'),
      )
      .finally(() => super.run());
  }

  override async start(): Promise<void> {
    await this.startCaches();
    await this.ensureDefaultPolicy().catch((err: unknown) =>
      this.notifyLog.warn({ err: (err as Error).message, policy: this.notify.defaults?.key }, 'Cannot create the default NotificationPolicy'),
    );
    super.run();
  }

  /**
   * The flags' channels keep their outbox in the status of a NotificationPolicy the controller
   * owns (durable like every other); its spec may add cluster-wide channels and routes.
   */
  private async ensureDefaultPolicy(): Promise<void> {
    const defaults = this.notify.defaults;
    if (!defaults) return;
    const { namespace, name } = parseKey(defaults.key);
    if (this.caches.policies.get(namespace, name)) return;
    try {
      await this.notify.kube.create(kinds.notificationPolicy, {
        apiVersion: kinds.notificationPolicy.apiVersion,
        kind: kinds.notificationPolicy.kind,
        metadata: {
          name,
          namespace,
          labels: { 'app.kubernetes.io/managed-by': 'sluice' },
          annotations: { 'sluice.dev/description': 'Cluster-wide default notifications (controller flags --notify-*); its status is their outbox' },
        },
        spec: { channels: [], routes: [] },
      });
      this.notifyLog.info({ policy: defaults.key }, 'Created the default NotificationPolicy');
    } catch (err) {
      if (!(err instanceof KubeError && err.status === 409)) throw err;
    }
  }
}
