// Which recorded transition makes which notification, pure. A notification is made from one
// Event the one recorder wrote (its name is derived from the transition, so each transition's
// Event exists once) and the annotations the recorder put on it; nothing else is read, so a
// message never depends on state that has moved on since.
//
// Problems (aborted, inconclusive, paused for a person, progress deadline, GitSync failing)
// stay open until the object shows they are over (level-based, from the live object): that
// resolves their Alertmanager alert, and a GitSync that is Ready again is reported recovered.
import { z } from 'zod';
import { EVENT_ANNOTATIONS, Verdict, type Notification, type Severity, type Trigger } from '../../api/notification-policy.ts';
import { getCondition } from '../shared/conditions.ts';
import type { Condition } from '../../api/meta.ts';

const EventObject = z.object({
  metadata: z.object({
    name: z.string(),
    namespace: z.string().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    creationTimestamp: z.string().optional(),
  }),
  involvedObject: z.object({ kind: z.string().optional(), name: z.string().optional(), namespace: z.string().optional(), uid: z.string().optional() }),
  reason: z.string().optional(),
  message: z.string().optional(),
  type: z.string().optional(),
  firstTimestamp: z.string().nullish(),
});

/** The problems a notification may open, and what is good news. */
const PROBLEMS = new Set<Trigger>(['rollout-aborted', 'analysis-inconclusive', 'rollout-paused', 'progress-deadline-exceeded', 'gitsync-failing']);

export function isProblem(trigger: Trigger): boolean {
  return PROBLEMS.has(trigger);
}

const SEVERITY: Record<Trigger, Severity> = {
  'rollout-aborted': 'critical',
  'analysis-failed': 'critical',
  'analysis-errored': 'critical',
  'progress-deadline-exceeded': 'critical',
  'analysis-inconclusive': 'warning',
  'rollout-paused': 'warning',
  'gitsync-failing': 'warning',
  'rollout-completed': 'info',
  'gitsync-recovered': 'info',
};

/** GitSync reasons that are no failure. */
const GITSYNC_NOT_FAILING = new Set(['Synced', 'SyncWindowDenied']);

/** When the transition was recorded: the recorder's millisecond annotation, else the Event's own time. */
export function eventTime(obj: unknown): string | undefined {
  const parsed = EventObject.safeParse(obj);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  const raw = e.metadata.annotations?.[EVENT_ANNOTATIONS.recordedAt] ?? e.firstTimestamp ?? e.metadata.creationTimestamp;
  const ms = raw ? Date.parse(raw) : NaN;
  // One form (with milliseconds), so times compare as text.
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** The notification an Event makes, or undefined when it makes none. */
export function notificationFromEvent(obj: unknown): Notification | undefined {
  const parsed = EventObject.safeParse(obj);
  if (!parsed.success) return undefined;
  const e = parsed.data;
  const kind = e.involvedObject.kind;
  const name = e.involvedObject.name;
  const namespace = e.involvedObject.namespace ?? e.metadata.namespace;
  const at = eventTime(obj);
  if ((kind !== 'Rollout' && kind !== 'GitSync') || !name || !namespace || !at) return undefined;
  const a = e.metadata.annotations ?? {};
  const reason = e.reason ?? '';
  const triggers = kind === 'Rollout' ? rolloutTriggers(reason, a) : gitSyncTriggers(reason, e.type);
  const trigger = triggers[0];
  if (!trigger) return undefined;
  const verdict = parseVerdict(a[EVENT_ANNOTATIONS.verdict]);
  const retries = Number(a[EVENT_ANNOTATIONS.retries]);
  const n: Notification = {
    id: e.metadata.name,
    trigger,
    triggers,
    severity: SEVERITY[trigger],
    reason,
    message: e.message ?? '',
    at,
    object: { kind, namespace, name, ...(e.involvedObject.uid ? { uid: e.involvedObject.uid } : {}) },
    ...optional('revision', a[EVENT_ANNOTATIONS.revision]),
    ...optional('podHash', a[EVENT_ANNOTATIONS.podHash]),
    ...optional('gitRevision', a[EVENT_ANNOTATIONS.gitRevision]),
    ...optional('step', a[EVENT_ANNOTATIONS.step]),
    ...optional('phase', a[EVENT_ANNOTATIONS.phase]),
    ...optional('cause', a[EVENT_ANNOTATIONS.cause]),
    ...(verdict ? { verdict } : {}),
    ...(Number.isInteger(retries) && a[EVENT_ANNOTATIONS.retries] !== undefined ? { retries } : {}),
    actions: [],
  };
  n.actions = actionsFor(n);
  return n;
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value ? { [key]: value } : {}) as { [P in K]?: string };
}

function parseVerdict(text: string | undefined): Verdict | undefined {
  if (!text) return undefined;
  try {
    const parsed = Verdict.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

function rolloutTriggers(reason: string, a: Record<string, string>): Trigger[] {
  switch (reason) {
    case 'RolloutAborted': {
      const out: Trigger[] = ['rollout-aborted'];
      const phase = parseVerdict(a[EVENT_ANNOTATIONS.verdict])?.phase;
      if (a[EVENT_ANNOTATIONS.cause] === 'analysis' && phase === 'Failed') out.push('analysis-failed');
      if (a[EVENT_ANNOTATIONS.cause] === 'analysis' && phase === 'Error') out.push('analysis-errored');
      return out;
    }
    case 'AnalysisInconclusive':
      // Paused for a person to decide: it is also a pause waiting for someone.
      return ['analysis-inconclusive', 'rollout-paused'];
    case 'RolloutPaused':
      // A timed pause step goes on by itself: nobody is waited for.
      return a[EVENT_ANNOTATIONS.pauseDuration] ? [] : ['rollout-paused'];
    case 'RolloutCompleted':
      return ['rollout-completed'];
    case 'ProgressDeadlineExceeded':
      return ['progress-deadline-exceeded'];
    default:
      return [];
  }
}

function gitSyncTriggers(reason: string, type: string | undefined): Trigger[] {
  return type === 'Warning' && !GITSYNC_NOT_FAILING.has(reason) ? ['gitsync-failing'] : [];
}

/** The commands of the kubectl plugin that act on what happened (only commands the plugin has). */
function actionsFor(n: Notification): string[] {
  const ref = `${n.object.name} -n ${n.object.namespace}`;
  switch (n.trigger) {
    case 'rollout-aborted':
    case 'analysis-failed':
    case 'analysis-errored':
      return [
        ...(n.cause === 'analysis' ? [`kubectl sluice analysis ${ref}`] : []),
        `kubectl sluice retry ${ref}`,
        `kubectl sluice undo ${ref}`,
        `kubectl sluice get rollout ${ref}`,
      ];
    case 'analysis-inconclusive':
      return [`kubectl sluice analysis ${ref}`, `kubectl sluice promote ${ref}`, `kubectl sluice abort ${ref}`];
    case 'rollout-paused':
      return [`kubectl sluice promote ${ref}`, `kubectl sluice abort ${ref}`, `kubectl sluice get rollout ${ref}`];
    case 'progress-deadline-exceeded':
      return [`kubectl sluice get rollout ${ref}`, `kubectl sluice abort ${ref}`, `kubectl sluice retry ${ref}`];
    case 'rollout-completed':
      return [`kubectl sluice get rollout ${ref}`];
    case 'gitsync-failing':
      return [`kubectl sluice sync ${ref}`];
    case 'gitsync-recovered':
      return [];
  }
}

// ---------------------------------------------------------------------------------------
// Open problems, judged from the live object.

/** The parts of a live Rollout or GitSync that say whether a problem is still there. */
export interface LiveObject {
  uid?: string;
  labels?: Record<string, string>;
  status?: {
    phase?: string;
    abort?: boolean;
    currentPodHash?: string;
    currentStepIndex?: number;
    retries?: number;
    pauseConditions?: Array<{ reason?: string }>;
    conditions?: Condition[];
    lastSyncedCommit?: string;
  };
}

/** Whether the problem a notification reported is still there. A deleted (or re-created) object closes it. */
export function stillOpen(n: Notification, live: LiveObject | undefined): boolean {
  if (!live || (n.object.uid && live.uid && live.uid !== n.object.uid)) return false;
  const s = live.status ?? {};
  const sameRevision = !n.podHash || s.currentPodHash === n.podHash;
  switch (n.trigger) {
    case 'rollout-aborted':
    case 'analysis-failed':
    case 'analysis-errored':
      return s.abort === true && sameRevision && (n.retries === undefined || (s.retries ?? 0) === n.retries);
    case 'analysis-inconclusive':
      return sameRevision && (s.pauseConditions ?? []).some((p) => p.reason === 'InconclusiveAnalysis');
    case 'rollout-paused':
      return sameRevision && s.phase === 'Paused' && (n.step === undefined || stepIndexOf(n.step) === s.currentStepIndex);
    case 'progress-deadline-exceeded':
      return sameRevision && getCondition(s.conditions, 'Progressing')?.reason === 'ProgressDeadlineExceeded';
    case 'gitsync-failing':
      return getCondition(s.conditions, 'Ready')?.status !== 'True';
    default:
      return false;
  }
}

/** "3/6" -> 2 (the index of step 3). */
function stepIndexOf(step: string): number | undefined {
  const n = Number(step.split('/')[0]);
  return Number.isInteger(n) ? n - 1 : undefined;
}

/** The GitSync Ready again after the failure `failing` reported. */
export function recoveredNotification(failing: Notification, live: LiveObject, now: Date): Notification {
  const commit = live.status?.lastSyncedCommit;
  const ready = getCondition(live.status?.conditions, 'Ready');
  return {
    id: `${failing.id}.recovered`,
    trigger: 'gitsync-recovered',
    triggers: ['gitsync-recovered'],
    severity: 'info',
    reason: 'Recovered',
    message: `Synced again${commit ? ` at commit ${commit.slice(0, 12)}` : ''} after: ${failing.message}${ready?.message ? ` (${ready.message})` : ''}`,
    at: now.toISOString(),
    object: failing.object,
    ...(commit ? { gitRevision: commit } : {}),
    actions: [],
  };
}
