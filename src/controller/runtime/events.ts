// The one Event recorder. Exactly once: an Event is named after the transition it reports (the
// object's uid, what identifies the transition, the reason and the message), and recorded before
// the status write that commits the transition. If that write is refused or the process dies in
// between, the next reconcile plans the same transition, its Event already exists (409), and none
// is lost or doubled. A reporter that may not record Events at all (403) says so and goes on;
// any other failure fails the reconcile before its status write, so the transition is retried.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { EVENT_ANNOTATIONS, EVENT_LABEL, EVENT_LABEL_VALUE } from '../../api/notification-policy.ts';
import { KubeError, kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';

export type EventType = 'Normal' | 'Warning';

export interface EventSpec {
  type: EventType;
  reason: string;
  message: string;
  /**
   * Structured facts of the transition (revision, Git commit, step, verdict: see
   * EVENT_ANNOTATIONS), read by the notifications. Not part of the name: the same transition
   * planned again carries the same facts.
   */
  annotations?: Record<string, string>;
}

export interface EventSource {
  /** e.g. "sluice-controller" (the v1 source.component). */
  component: string;
  /** e.g. "sluice.dev/controller" (reportingComponent). */
  reportingComponent: string;
  /** The pod or host name. */
  instance: string;
}

export type EventOutcome = 'recorded' | 'duplicate' | 'forbidden';

/** Kubernetes caps an Event's message at 1 KiB. */
const MAX_MESSAGE = 1024;

/** The name an Event of this transition gets: the same on every attempt, different for every transition. */
export function eventName(involved: KubeObject, transition: readonly unknown[], event: EventSpec): string {
  const key = [involved.metadata?.uid ?? '', ...transition.map((t) => String(t ?? '')), event.reason, event.message].join('|');
  return `${(involved.metadata?.name ?? 'object').slice(0, 200)}.${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

export class EventRecorder {
  private readonly kube: Pick<KubeClient, 'create'>;
  private readonly now: () => Date;
  private readonly source: EventSource;

  constructor(kube: Pick<KubeClient, 'create'>, now: () => Date, source: EventSource) {
    this.kube = kube;
    this.now = now;
    this.source = source;
  }

  /**
   * Records `event` about `involved` once per `transition` (values that together identify what
   * happened, e.g. generation, revision and attempt).
   */
  async record(involved: KubeObject, event: EventSpec, transition: readonly unknown[], log: Pick<Logger, 'info' | 'warn'>): Promise<EventOutcome> {
    const now = this.now().toISOString();
    const namespace = involved.metadata?.namespace ?? 'default';
    const message = event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 1)}…` : event.message;
    const body: KubeObject = {
      apiVersion: 'v1',
      kind: 'Event',
      // The label lets the notification controller watch Sluice's Events only; the time with
      // milliseconds orders transitions within one second (an Event's timestamps have seconds).
      metadata: {
        namespace,
        name: eventName(involved, transition, event),
        labels: { [EVENT_LABEL]: EVENT_LABEL_VALUE },
        annotations: { ...event.annotations, [EVENT_ANNOTATIONS.recordedAt]: now },
      },
      involvedObject: {
        apiVersion: involved.apiVersion,
        kind: involved.kind,
        name: involved.metadata?.name,
        namespace: involved.metadata?.namespace,
        uid: involved.metadata?.uid,
      },
      reason: event.reason,
      message,
      type: event.type,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      source: { component: this.source.component },
      reportingComponent: this.source.reportingComponent,
      reportingInstance: this.source.instance,
    };
    try {
      await this.kube.create(kinds.event, body);
    } catch (err) {
      if (err instanceof KubeError && err.status === 409) return 'duplicate';
      if (err instanceof KubeError && err.status === 403) {
        log.warn({ err: err.message, reason: event.reason }, 'Could not record Event');
        return 'forbidden';
      }
      throw err;
    }
    log.info({ reason: event.reason, type: event.type }, event.message);
    return 'recorded';
  }
}
