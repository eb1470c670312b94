// The outbox of one NotificationPolicy, pure: what its status becomes when Events are seen and
// problems are over (enqueue), which entries are due, and what the status becomes when sends
// come back (delivered, retried with backoff, given up). Time comes in as an argument.
//
// The delivery guarantee (docs/alerts.md):
// - A notification is enqueued (written to status) before its first send; an Event already
//   handled (status.handled) is never enqueued again, so restarts that list the same Events
//   again send nothing twice.
// - An entry leaves the outbox only when the receiver accepted it (2xx), or at give-up. A crash
//   between acceptance and the status write sends it again, with the same Idempotency-Key.
import type { ChannelType, Notification, NotificationPolicyStatus, OpenProblem, OutboxEntry, Route } from '../../api/notification-policy.ts';
import { channelsFor, policySelects } from './routes.ts';
import { isProblem, recoveredNotification, stillOpen, type LiveObject } from './triggers.ts';

export interface OutboxSettings {
  /** A notification not delivered this long after it was enqueued is dropped (default 6h). */
  giveUpAfterMs: number;
  /** How long handled Event names are remembered; older Events are not looked at (default 3h; the API server keeps Events 1h). */
  handledRetentionMs: number;
  maxPending: number;
  maxHandled: number;
  maxOpen: number;
  /** An open alert is posted with endsAt this far ahead... */
  alertLifetimeMs: number;
  /** ...and posted again this often while the problem is open. */
  alertRefreshMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How long a problem may take to show on its object (a status write after its Event). */
  confirmGraceMs: number;
}

export const DEFAULT_OUTBOX: OutboxSettings = {
  giveUpAfterMs: 6 * 3_600_000,
  handledRetentionMs: 3 * 3_600_000,
  maxPending: 500,
  maxHandled: 2000,
  maxOpen: 500,
  alertLifetimeMs: 4 * 3_600_000,
  alertRefreshMs: 3_600_000,
  backoffBaseMs: 2000,
  backoffMaxMs: 10 * 60_000,
  confirmGraceMs: 2 * 60_000,
};

/** A notification seen in an Event, with the labels of its object (for route selectors). */
export interface Candidate {
  notification: Notification;
  labels: Record<string, string>;
}

export interface GivenUp {
  entry: OutboxEntry;
  why: string;
}

export interface EnqueueInput {
  status: NotificationPolicyStatus;
  /** Events are looked at from this time on when status.since is unset (the policy's creation). */
  createdAt: string;
  candidates: Candidate[];
  routes: readonly Route[];
  /** Channel name -> type, for the channels the spec defines (valid or not). */
  channelTypes: ReadonlyMap<string, ChannelType>;
  /** The live Rollout or GitSync a notification is about (undefined when gone). */
  live: (n: Notification) => (LiveObject & { labels?: Record<string, string> }) | undefined;
  now: Date;
  settings?: OutboxSettings;
}

export interface EnqueueResult {
  status: NotificationPolicyStatus;
  /** Entries that were added (to be persisted before they are sent). */
  added: OutboxEntry[];
  givenUp: GivenUp[];
  /** Routes that name a channel the spec does not define. */
  unknownChannels: string[];
}

const keyFor = (n: Notification, channel: string, kind: OutboxEntry['kind']) => (kind === 'notify' ? `${n.id}/${channel}` : `${n.id}/${channel}/${kind}`);

function entry(n: Notification, channel: string, kind: OutboxEntry['kind'], now: Date): OutboxEntry {
  const iso = now.toISOString();
  // Each refresh is a send of its own (a key is acknowledged once).
  const key = kind === 'refresh' ? `${keyFor(n, channel, kind)}@${iso}` : keyFor(n, channel, kind);
  return { key, channel, kind, notification: n, attempts: 0, firstSeenAt: iso, nextAttemptAt: iso };
}

/** New Events and problems that are over, into the outbox; old handled names and entries past their age out. */
export function enqueue(input: EnqueueInput): EnqueueResult {
  const settings = input.settings ?? DEFAULT_OUTBOX;
  const { now, routes, channelTypes } = input;
  const nowMs = now.getTime();
  const pending = [...(input.status.pending ?? [])];
  const handled = [...(input.status.handled ?? [])];
  let open = [...(input.status.open ?? [])];
  const added: OutboxEntry[] = [];
  const unknown = new Set<string>();
  const known = new Set(handled.map((h) => h.id));
  const queued = new Set(pending.map((p) => p.key));
  let since = input.status.since ?? input.createdAt;

  const push = (e: OutboxEntry) => {
    if (queued.has(e.key)) return;
    queued.add(e.key);
    pending.push(e);
    added.push(e);
  };
  const route = (n: Notification, labels: Record<string, string>, kinds: ReadonlySet<ChannelType> | 'all') => {
    const out: string[] = [];
    for (const channel of channelsFor(n, labels, routes)) {
      const type = channelTypes.get(channel);
      if (!type) {
        unknown.add(channel);
        continue;
      }
      // Alertmanager holds problems; good news is what resolves them, not an alert of its own.
      if (type === 'alertmanager' && !isProblem(n.trigger)) continue;
      if (kinds !== 'all' && !kinds.has(type)) continue;
      out.push(channel);
    }
    return out;
  };

  // 1. Events not handled yet, oldest first.
  const candidates = [...input.candidates].sort((a, b) => a.notification.at.localeCompare(b.notification.at));
  for (const { notification: n, labels } of candidates) {
    if (known.has(n.id) || Date.parse(n.at) < Date.parse(since)) continue;
    known.add(n.id);
    handled.push({ id: n.id, at: n.at });
    if (!policySelects(n, labels, routes)) continue;
    const problem = isProblem(n.trigger);
    // A GitSync failing again while its failure is open is the same outage: one message.
    if (n.trigger === 'gitsync-failing' && open.some((o) => o.notification.trigger === 'gitsync-failing' && sameObject(o.notification, n))) continue;
    const channels = route(n, labels, 'all');
    for (const channel of channels) push(entry(n, channel, 'notify', now));
    if (problem) {
      // An Event is recorded before the status write that commits its transition: the object
      // may not show the problem yet. It is open until the object has shown it and no longer
      // does, or has not shown it within the confirmation grace.
      const alertChannels = channels.filter((c) => channelTypes.get(c) === 'alertmanager');
      open.push({
        notification: n,
        ...(alertChannels.length ? { alertChannels, refreshAt: new Date(nowMs + settings.alertRefreshMs).toISOString() } : {}),
      });
    }
  }

  // 2. Problems that are over: resolve their alerts; a GitSync Ready again is reported recovered.
  function replaceWithResolve(n: Notification, channel: string) {
    for (let i = pending.length - 1; i >= 0; i--) {
      const p = pending[i]!;
      if (p.channel === channel && p.notification.id === n.id && p.kind !== 'resolve') {
        pending.splice(i, 1);
        queued.delete(p.key);
      }
    }
    push(entry(n, channel, 'resolve', now));
  }
  const still: OpenProblem[] = [];
  for (const o of open) {
    const n = o.notification;
    const live = input.live(n);
    if (stillOpen(n, live)) {
      still.push(o.confirmed ? o : { ...o, confirmed: true });
      continue;
    }
    if (!o.confirmed && live && nowMs - Date.parse(n.at) < settings.confirmGraceMs) {
      still.push(o);
      continue;
    }
    for (const channel of o.alertChannels ?? []) replaceWithResolve(n, channel);
    if (n.trigger === 'gitsync-failing' && live && (!n.object.uid || live.uid === n.object.uid)) {
      const recovered = recoveredNotification(n, live, now);
      if (!known.has(recovered.id)) {
        known.add(recovered.id);
        handled.push({ id: recovered.id, at: recovered.at });
        for (const channel of route(recovered, live.labels ?? {}, 'all')) push(entry(recovered, channel, 'notify', now));
      }
    }
  }
  open = still;

  // 3. Open alerts are posted again before their endsAt passes.
  for (const o of open) {
    if (!o.refreshAt || Date.parse(o.refreshAt) > nowMs) continue;
    for (const channel of o.alertChannels ?? []) {
      if (!pending.some((p) => p.channel === channel && p.notification.id === o.notification.id)) push(entry(o.notification, channel, 'refresh', now));
    }
    o.refreshAt = new Date(nowMs + settings.alertRefreshMs).toISOString();
  }

  // 4. Bounds: entries past their age are given up; the oldest beyond the size limits go.
  const givenUp: GivenUp[] = [];
  const alive = pending.filter((p) => {
    if (nowMs - Date.parse(p.firstSeenAt) < settings.giveUpAfterMs) return true;
    givenUp.push({ entry: p, why: `not delivered within ${formatHours(settings.giveUpAfterMs)}${p.lastError ? `: ${p.lastError}` : ''}` });
    return false;
  });
  alive.sort((a, b) => a.firstSeenAt.localeCompare(b.firstSeenAt));
  while (alive.length > settings.maxPending) {
    const dropped = alive.shift()!;
    givenUp.push({ entry: dropped, why: `the outbox is full (${settings.maxPending} entries)` });
  }
  open.sort((a, b) => a.notification.at.localeCompare(b.notification.at));
  while (open.length > settings.maxOpen) open.shift();
  // Handled names are kept while Events can still be listed; whatever is forgotten moves `since`
  // past it (Events older than the retention are not looked at by the reconciler either). Only
  // forgetting moves `since`, so a reconcile with nothing to do writes nothing.
  handled.sort((a, b) => a.at.localeCompare(b.at));
  const horizon = new Date(nowMs - settings.handledRetentionMs).toISOString();
  while (handled.length > 0 && (handled.length > settings.maxHandled || handled[0]!.at < horizon)) {
    const forgotten = handled.shift()!;
    if (forgotten.at > since) since = forgotten.at;
  }

  const status: NotificationPolicyStatus = {
    ...input.status,
    since,
    ...listOrUndefined('pending', alive),
    ...listOrUndefined('handled', handled),
    ...listOrUndefined('open', open),
  };
  return {
    status: withoutEmpty(status),
    added: added.filter((a) => alive.includes(a)),
    givenUp,
    unknownChannels: [...unknown],
  };
}

function sameObject(a: Notification, b: Notification): boolean {
  return a.object.kind === b.object.kind && a.object.namespace === b.object.namespace && a.object.name === b.object.name;
}

function listOrUndefined<K extends string, T>(key: K, list: T[]): { [P in K]: T[] | undefined } {
  return { [key]: list.length ? list : undefined } as { [P in K]: T[] | undefined };
}

function withoutEmpty(status: NotificationPolicyStatus): NotificationPolicyStatus {
  return Object.fromEntries(Object.entries(status).filter(([, v]) => v !== undefined)) as NotificationPolicyStatus;
}

function formatHours(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000}h` : ms % 60_000 === 0 ? `${ms / 60_000}m` : `${Math.round(ms / 1000)}s`;
}

/** Entries whose next attempt is due, oldest first, at most `max`. */
export function dueEntries(status: NotificationPolicyStatus, now: Date, max: number): OutboxEntry[] {
  const t = now.getTime();
  return (status.pending ?? [])
    .filter((p) => Date.parse(p.nextAttemptAt) <= t)
    .sort((a, b) => a.nextAttemptAt.localeCompare(b.nextAttemptAt) || a.firstSeenAt.localeCompare(b.firstSeenAt))
    .slice(0, max);
}

export type SendOutcome = { key: string; ok: true } | { key: string; ok: false; retryable: boolean; error: string };

/**
 * Exponential backoff with jitter: base * 2^(attempts-1), at most max, times a factor in
 * [0.5, 1) drawn from the key and the attempt (pure, yet entries that failed together spread out).
 */
export function backoffMs(key: string, attempts: number, settings: Pick<OutboxSettings, 'backoffBaseMs' | 'backoffMaxMs'> = DEFAULT_OUTBOX): number {
  const raw = Math.min(settings.backoffMaxMs, settings.backoffBaseMs * 2 ** Math.max(0, attempts - 1));
  return Math.round(raw * (0.5 + fraction(`${key}#${attempts}`) / 2));
}

/** A number in [0, 1) from a string (FNV-1a). */
function fraction(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 0x1_0000_0000;
}

export interface RecordResult {
  status: NotificationPolicyStatus;
  delivered: OutboxEntry[];
  failed: Array<{ entry: OutboxEntry; error: string }>;
  givenUp: GivenUp[];
}

/** What the outbox becomes once sends came back: delivered entries leave; failures wait their backoff or are given up. */
export function recordOutcomes(status: NotificationPolicyStatus, outcomes: SendOutcome[], now: Date, settings: OutboxSettings = DEFAULT_OUTBOX): RecordResult {
  const byKey = new Map(outcomes.map((o) => [o.key, o]));
  const delivered: OutboxEntry[] = [];
  const failed: RecordResult['failed'] = [];
  const givenUp: GivenUp[] = [];
  const pending: OutboxEntry[] = [];
  for (const p of status.pending ?? []) {
    const outcome = byKey.get(p.key);
    if (!outcome) {
      pending.push(p);
      continue;
    }
    if (outcome.ok) {
      delivered.push(p);
      continue;
    }
    failed.push({ entry: p, error: outcome.error });
    const attempts = p.attempts + 1;
    if (!outcome.retryable) {
      givenUp.push({ entry: p, why: `the receiver refused it: ${outcome.error}` });
      continue;
    }
    const next = now.getTime() + backoffMs(p.key, attempts, settings);
    pending.push({ ...p, attempts, nextAttemptAt: new Date(next).toISOString(), lastError: outcome.error });
  }
  return {
    status: withoutEmpty({
      ...status,
      pending: pending.length ? pending : undefined,
      ...(delivered.length ? { lastDeliveryAt: now.toISOString() } : {}),
    }),
    delivered,
    failed,
    givenUp,
  };
}

/** Milliseconds until something is due: a retry, an alert refresh, a give-up. */
export function nextWakeMs(status: NotificationPolicyStatus, now: Date, settings: OutboxSettings = DEFAULT_OUTBOX): number | undefined {
  const times = [
    ...(status.pending ?? []).flatMap((p) => [Date.parse(p.nextAttemptAt), Date.parse(p.firstSeenAt) + settings.giveUpAfterMs]),
    ...(status.open ?? []).flatMap((o) => (o.refreshAt ? [Date.parse(o.refreshAt)] : [])),
    ...(status.open ?? []).flatMap((o) => (o.confirmed ? [] : [Date.parse(o.notification.at) + settings.confirmGraceMs])),
  ].filter(Number.isFinite);
  if (!times.length) return undefined;
  return Math.max(0, Math.min(...times) - now.getTime());
}
