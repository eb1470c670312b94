// Reconciles one NotificationPolicy: observe (the policy, the Events Sluice recorded, the live
// Rollouts and GitSyncs, the channel Secrets) -> decide (core/notify: what is new, what is
// over, what is due) -> act (send) -> one status write.
//
// A reconcile either enqueues or sends, never both: new entries are written to status first
// (the outbox is durable before anything is sent), and the write brings the policy back for
// the sends. A send is recorded only after the receiver accepted it; a crash in between sends
// it again with the same Idempotency-Key (docs/alerts.md).
import type { Logger } from 'pino';
import {
  NotificationPolicy,
  type ChannelStatus,
  type Notification,
  type ChannelType,
  type NotificationPolicyStatus,
  type Route,
} from '../../api/notification-policy.ts';
import { durationToMs } from '../../api/duration.ts';
import {
  DEFAULT_OUTBOX,
  dueEntries,
  enqueue,
  nextWakeMs,
  recordOutcomes,
  type Candidate,
  type GivenUp,
  type OutboxSettings,
  type SendOutcome,
} from '../../core/notify/outbox.ts';
import { eventTime, notificationFromEvent, type LiveObject } from '../../core/notify/triggers.ts';
import { CONFLICT_REQUEUE_MS, INVALID_SPEC_REQUEUE_MS } from '../../core/shared/requeue.ts';
import { setCondition } from '../../core/shared/conditions.ts';
import { redactText } from '../../core/shared/redact.ts';
import { lookupSecret } from '../../core/shared/secrets.ts';
import { formatIssues } from '../../core/shared/zod-issues.ts';
import type { Clock } from '../../ports/clock.ts';
import { kinds, type Informer, type KubeObject } from '../../ports/kube.ts';
import type { ChannelConfig, Notifier, NotifierFactory } from '../../ports/notifier.ts';
import type { SecretReader } from '../../ports/secrets.ts';
import type { ObjectKey, ReconcileContext, Reconciler } from '../runtime/controller.ts';
import type { EventRecorder } from '../runtime/events.ts';
import type { StatusWriter } from '../runtime/status-writer.ts';
import type { NotifyMetrics } from './notify-metrics.ts';

const DEFAULT_TIMEOUT_MS = 10_000;
/** Sends per reconcile (in parallel, each under its own deadline); the rest wait for the next one. */
const MAX_SENDS = 20;

export interface NotificationCaches {
  policies: Informer;
  /** Events labelled by the one recorder (EVENT_LABEL). */
  events: Informer;
  rollouts: Informer;
  gitSyncs: Informer;
}

/** The cluster-wide default from the controller's flags: channels with their secrets already read, and routes. */
export interface DefaultPolicy {
  /** `namespace/name` of the NotificationPolicy that holds its outbox (the controller creates it). */
  key: string;
  channels: ChannelConfig[];
  routes: Route[];
}

export interface NotificationReconcilerDeps {
  caches: NotificationCaches;
  secrets: SecretReader;
  notifiers: NotifierFactory;
  clock: Clock;
  status: StatusWriter;
  events: EventRecorder;
  metrics: NotifyMetrics;
  defaults?: DefaultPolicy;
  settings?: Partial<OutboxSettings>;
}

interface ResolvedChannels {
  notifiers: Map<string, Notifier>;
  types: Map<string, ChannelType>;
  statuses: ChannelStatus[];
  /** Secret values read for the channels: masked out of anything recorded. */
  secrets: string[];
}

/** How many acknowledged keys this process remembers (see `acknowledged`). */
const MAX_ACKNOWLEDGED = 10_000;
/** Parsed Events remembered (an Event is parsed once per resourceVersion). */
const MAX_PARSED = 50_000;

export class NotificationReconciler implements Reconciler {
  private readonly deps: NotificationReconcilerDeps;
  /**
   * Keys this process saw accepted. A reconcile can read a policy from a cache that does not
   * show this process's last status write yet; such a stale outbox still lists what was just
   * delivered. Those entries are not sent again (their status write fails on the stale
   * resourceVersion anyway, and the next reconcile reads the fresh outbox).
   */
  private readonly acknowledged = new Set<string>();
  /** Key -> the next attempt this process recorded after a failure (the same staleness, for backoff). */
  private readonly notBefore = new Map<string, number>();
  private readonly parsed = new Map<string, { at: string; notification: Notification | undefined } | undefined>();

  constructor(deps: NotificationReconcilerDeps) {
    this.deps = deps;
  }

  async reconcile({ namespace, name }: ObjectKey, { log }: ReconcileContext): Promise<{ requeueAfterMs?: number }> {
    const { caches, clock, metrics } = this.deps;
    const raw = caches.policies.get(namespace, name);
    if (!raw) {
      metrics.forgetPolicy(namespace ?? '', name);
      return {};
    }
    const ns = namespace ?? '';
    const parsed = NotificationPolicy.safeParse({ apiVersion: 'sluice.dev/v1alpha1', kind: 'NotificationPolicy', ...raw });
    if (!parsed.success) {
      const message = `Invalid spec: ${formatIssues(parsed.error.issues)}`;
      log.warn({ message }, 'NotificationPolicy does not parse');
      const previous = ((raw as { status?: NotificationPolicyStatus }).status ?? {}) as NotificationPolicyStatus;
      const next = {
        ...previous,
        conditions: setCondition(previous.conditions ?? [], { type: 'Ready', status: 'False', reason: 'InvalidSpec', message }, clock.now()),
      };
      await this.deps.status.write(kinds.notificationPolicy, raw, next);
      return { requeueAfterMs: INVALID_SPEC_REQUEUE_MS };
    }
    const policy = parsed.data;
    const isDefault = this.deps.defaults?.key === `${ns}/${name}`;
    const settings: OutboxSettings = {
      ...DEFAULT_OUTBOX,
      ...this.deps.settings,
      ...(policy.spec.giveUpAfter !== undefined ? { giveUpAfterMs: durationToMs(policy.spec.giveUpAfter) } : {}),
    };
    const routes = [...policy.spec.routes, ...(isDefault ? (this.deps.defaults?.routes ?? []) : [])];
    const channels = await this.resolveChannels(policy, isDefault);
    const status: NotificationPolicyStatus = policy.status ?? {};
    const now = clock.now();

    // 1. Enqueue what is new and what is over.
    const candidates = this.candidates(isDefault ? undefined : ns, now, settings);
    const queued = enqueue({
      status,
      createdAt: policy.metadata.creationTimestamp ?? now.toISOString(),
      candidates,
      routes,
      channelTypes: channels.types,
      live: (n) => this.live(n.object.kind, n.object.namespace, n.object.name),
      now,
      settings,
    });
    const undefinedChannels = [...new Set([...queued.unknownChannels, ...routes.flatMap((r) => r.channels).filter((c) => !channels.types.has(c))])];
    const withConditions = (s: NotificationPolicyStatus) => this.withConditions(s, policy.metadata.generation, channels, undefinedChannels, now);
    const afterEnqueue = withConditions(queued.status);
    metrics.channels(ns, name, channels.statuses);
    if (queued.added.length > 0 || queued.givenUp.length > 0) {
      await this.reportGivenUp(raw, queued.givenUp, ns, name, channels, log);
      const written = await this.deps.status.write(kinds.notificationPolicy, raw, afterEnqueue);
      metrics.outbox(ns, name, afterEnqueue.pending?.length ?? 0);
      if (written === 'conflict') return { requeueAfterMs: CONFLICT_REQUEUE_MS };
      for (const e of queued.added) log.info({ key: e.key, channel: e.channel, kind: e.kind, trigger: e.notification.trigger }, 'Notification queued');
      // The write's watch event brings the policy back; the sends happen there, from the durable outbox.
      return { requeueAfterMs: 0 };
    }

    // 2. Send what is due.
    // A stale outbox may show an entry as due whose failed attempt this process just recorded.
    const waiting = (key: string) => (this.notBefore.get(key) ?? 0) > now.getTime();
    const due = dueEntries(afterEnqueue, now, MAX_SENDS + this.notBefore.size)
      .filter((e) => !waiting(e.key))
      .slice(0, MAX_SENDS);
    let final = afterEnqueue;
    let givenUp: GivenUp[] = [];
    if (due.length > 0) {
      const outcomes = await Promise.all(
        due.map(async (entry): Promise<SendOutcome> => {
          if (this.acknowledged.has(entry.key)) return { key: entry.key, ok: true };
          const notifier = channels.notifiers.get(entry.channel);
          if (!notifier) {
            const why = channels.statuses.find((c) => c.name === entry.channel)?.message ?? `channel ${entry.channel} is not defined`;
            return { key: entry.key, ok: false, retryable: true, error: why };
          }
          const started = performance.now();
          const result = await notifier.send({
            notification: entry.notification,
            key: entry.key,
            kind: entry.kind,
            enqueuedAt: new Date(entry.firstSeenAt),
            now,
          });
          metrics.sent(
            ns,
            name,
            entry.channel,
            notifier.type,
            entry.notification.trigger,
            result.ok ? 'accepted' : result.retryable ? 'retry' : 'refused',
            (performance.now() - started) / 1000,
          );
          if (result.ok) {
            this.remember(entry.key);
            return { key: entry.key, ok: true };
          }
          return { key: entry.key, ok: false, retryable: result.retryable, error: redactText(result.error, channels.secrets) };
        }),
      );
      const recorded = recordOutcomes(afterEnqueue, outcomes, clock.now(), settings);
      for (const d of recorded.delivered) log.info({ key: d.key, channel: d.channel, kind: d.kind, attempts: d.attempts + 1 }, 'Notification delivered');
      for (const f of recorded.failed)
        log.warn({ key: f.entry.key, channel: f.entry.channel, attempts: f.entry.attempts + 1, err: f.error }, 'Notification not delivered');
      final = withConditions(recorded.status);
      givenUp = recorded.givenUp;
      for (const d of recorded.delivered) this.notBefore.delete(d.key);
      for (const g of recorded.givenUp) this.notBefore.delete(g.entry.key);
      for (const p of recorded.status.pending ?? []) if (p.attempts > 0) this.notBefore.set(p.key, Date.parse(p.nextAttemptAt));
      while (this.notBefore.size > MAX_ACKNOWLEDGED) this.notBefore.delete(this.notBefore.keys().next().value as string);
    }
    await this.reportGivenUp(raw, givenUp, ns, name, channels, log);
    const written = await this.deps.status.write(kinds.notificationPolicy, raw, final);
    metrics.outbox(ns, name, final.pending?.length ?? 0);
    if (written === 'conflict') return { requeueAfterMs: CONFLICT_REQUEUE_MS };
    const later = clock.now().getTime();
    const held = (final.pending ?? []).flatMap((p) => (waiting(p.key) ? [(this.notBefore.get(p.key) ?? later) - later] : []));
    const wake = nextWakeMs({ ...final, pending: (final.pending ?? []).filter((p) => !waiting(p.key)) }, clock.now(), settings);
    const next = [wake, ...held].filter((w): w is number => w !== undefined);
    return next.length ? { requeueAfterMs: Math.max(0, Math.min(...next)) } : {};
  }

  private remember(key: string): void {
    this.acknowledged.add(key);
    // Oldest first: a Set iterates in insertion order.
    for (const old of this.acknowledged) {
      if (this.acknowledged.size <= MAX_ACKNOWLEDGED) break;
      this.acknowledged.delete(old);
    }
  }

  /** Notifications from the Events Sluice recorded (one namespace, or all for the cluster default). */
  private candidates(namespace: string | undefined, now: Date, settings: OutboxSettings): Candidate[] {
    const horizon = now.getTime() - settings.handledRetentionMs;
    const out: Candidate[] = [];
    for (const event of this.deps.caches.events.list(namespace)) {
      const parsed = this.parse(event);
      // Older than the handled names are kept: never notified late (and never twice).
      if (!parsed || Date.parse(parsed.at) < horizon) continue;
      const n = parsed.notification;
      if (!n) continue;
      const live = this.live(n.object.kind, n.object.namespace, n.object.name);
      // The Event must be about the object that exists now (not a namesake created since).
      if (live && n.object.uid && live.uid && live.uid !== n.object.uid) continue;
      out.push({ notification: n, labels: live?.labels ?? {} });
    }
    return out;
  }

  /** An Event's time and notification, parsed once per version of the Event. */
  private parse(event: KubeObject): { at: string; notification: Notification | undefined } | undefined {
    const key = `${event.metadata?.uid ?? event.metadata?.name}/${event.metadata?.resourceVersion ?? ''}`;
    if (this.parsed.has(key)) return this.parsed.get(key);
    const at = eventTime(event);
    const value = at ? { at, notification: notificationFromEvent(event) } : undefined;
    if (this.parsed.size >= MAX_PARSED) this.parsed.clear();
    this.parsed.set(key, value);
    return value;
  }

  private live(kind: string, namespace: string, name: string): (LiveObject & { labels?: Record<string, string> }) | undefined {
    const cache = kind === 'GitSync' ? this.deps.caches.gitSyncs : this.deps.caches.rollouts;
    const obj = cache.get(namespace, name) as (KubeObject & { status?: LiveObject['status'] }) | undefined;
    if (!obj) return undefined;
    return {
      ...(obj.metadata?.uid ? { uid: obj.metadata.uid } : {}),
      labels: obj.metadata?.labels ?? {},
      ...(obj.status ? { status: obj.status } : {}),
    };
  }

  /** The spec's channels with their Secrets read, plus the flags' channels for the cluster default. A bad channel is reported, never thrown. */
  private async resolveChannels(policy: NotificationPolicy, isDefault: boolean): Promise<ResolvedChannels> {
    const ns = policy.metadata.namespace ?? '';
    const out: ResolvedChannels = { notifiers: new Map(), types: new Map(), statuses: [], secrets: [] };
    const refs = policy.spec.channels.flatMap((c) => [c.urlFrom, c.signingSecretFrom, c.tokenFrom].flatMap((r) => (r ? [r.secretKeyRef.name] : [])));
    const read = refs.length ? await this.deps.secrets.readAll(ns, refs, 'notifications') : { ok: true as const, value: new Map() };
    const add = (config: ChannelConfig, type: ChannelType, problem?: string) => {
      out.types.set(config.name, type);
      if (problem) {
        out.statuses.push({ name: config.name, type, ready: false, message: redactText(problem, out.secrets) });
        return;
      }
      const made = this.deps.notifiers.create(config);
      if (!made.ok) {
        out.statuses.push({ name: config.name, type, ready: false, message: redactText(made.error, out.secrets) });
        return;
      }
      out.notifiers.set(config.name, made.value);
      out.statuses.push({ name: config.name, type, ready: true });
    };
    for (const c of policy.spec.channels) {
      if (out.types.has(c.name)) {
        out.statuses.push({ name: c.name, type: c.type, ready: false, message: `channel ${c.name} is defined twice; the first one is used` });
        continue;
      }
      const problems: string[] = [];
      const value = (ref: (typeof c)['urlFrom'], what: string): string | undefined => {
        if (!ref) return undefined;
        if (!read.ok) {
          problems.push(read.error);
          return undefined;
        }
        const v = lookupSecret(ref.secretKeyRef, read.value, ns);
        if (!v.ok) {
          problems.push(`${what}: ${v.error}`);
          return undefined;
        }
        out.secrets.push(v.value);
        return v.value.trim();
      };
      const url = c.url ?? value(c.urlFrom, 'urlFrom');
      const signingSecret = value(c.signingSecretFrom, 'signingSecretFrom');
      const token = value(c.tokenFrom, 'tokenFrom');
      let timeoutMs = DEFAULT_TIMEOUT_MS;
      try {
        if (c.timeout !== undefined) timeoutMs = durationToMs(c.timeout);
      } catch (err) {
        problems.push((err as Error).message);
      }
      if (timeoutMs <= 0 || timeoutMs > 120_000) problems.push('timeout must be more than 0 and at most 2m');
      if (!url && problems.length === 0) problems.push('no URL (set url or urlFrom)');
      const config: ChannelConfig = {
        name: c.name,
        type: c.type,
        url: url ?? '',
        timeoutMs,
        ...(signingSecret ? { signingSecret } : {}),
        ...(token ? { token } : {}),
        ...(c.generatorURL ? { generatorURL: c.generatorURL } : {}),
      };
      add(config, c.type, problems.length ? `channel ${c.name}: ${problems.join('; ')}` : undefined);
    }
    if (isDefault) {
      for (const c of this.deps.defaults?.channels ?? []) {
        if (out.types.has(c.name)) continue;
        for (const s of [c.url, c.signingSecret, c.token]) if (s) out.secrets.push(s);
        add(c, c.type as ChannelType);
      }
    }
    return out;
  }

  private withConditions(
    status: NotificationPolicyStatus,
    generation: number | undefined,
    channels: ResolvedChannels,
    unknownChannels: string[],
    now: Date,
  ): NotificationPolicyStatus {
    const bad = channels.statuses.filter((c) => !c.ready).map((c) => c.message ?? c.name);
    if (unknownChannels.length) bad.push(`routes name channels that are not defined: ${unknownChannels.join(', ')}`);
    const ready = bad.length === 0;
    const message = ready ? `${channels.statuses.length} channel(s) ready` : bad.join('; ');
    return {
      ...status,
      ...(generation !== undefined ? { observedGeneration: generation } : {}),
      channels: channels.statuses,
      conditions: setCondition(
        status.conditions ?? [],
        { type: 'Ready', status: ready ? 'True' : 'False', reason: ready ? 'ChannelsReady' : 'ChannelError', message },
        now,
      ),
    };
  }

  /** A Warning Event on the policy (once per entry) and a metric for each notification given up. */
  private async reportGivenUp(raw: KubeObject, givenUp: GivenUp[], ns: string, name: string, channels: ResolvedChannels, log: Logger): Promise<void> {
    for (const g of givenUp) {
      const n = g.entry.notification;
      const message = redactText(
        `Gave up on the ${n.trigger} notification of ${n.object.kind} ${n.object.namespace}/${n.object.name} to channel ${g.entry.channel}: ${g.why}`,
        channels.secrets,
      );
      const involved = { ...raw, apiVersion: 'sluice.dev/v1alpha1', kind: 'NotificationPolicy' } as KubeObject;
      await this.deps.events.record(involved, { type: 'Warning', reason: 'NotificationGivenUp', message }, [g.entry.key, g.entry.firstSeenAt], log);
      this.deps.metrics.givenUp(ns, name, g.entry.channel, channels.types.get(g.entry.channel) ?? 'unknown');
      log.warn({ key: g.entry.key, channel: g.entry.channel, attempts: g.entry.attempts }, message);
    }
  }
}
