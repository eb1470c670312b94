// The NotificationPolicy resource: which transitions of a namespace's Rollouts and GitSyncs are
// sent where. The zod schema is the single source; crds/notificationpolicy.yaml is generated
// from it (src/api/crds.ts). Semantics, message formats and the delivery guarantee are in
// docs/alerts.md.
//
// Its status is the durable outbox: notifications waiting to be sent (with attempts and the
// next attempt), the Events already handled (so a restart that lists the same Events again
// does not send again), and the problems still open (so an Alertmanager alert is resolved, and
// a GitSync that syncs again is reported recovered).
import { z } from 'zod';
import { Condition, Duration, LabelSelector, ObjectMeta, SecretKeyRef } from './meta.ts';

/** What a notification is about. An Event may match several (an abort by analysis is also analysis-failed). */
export const Trigger = z.enum([
  'rollout-aborted',
  'analysis-failed',
  'analysis-errored',
  'analysis-inconclusive',
  'rollout-paused',
  'rollout-completed',
  'progress-deadline-exceeded',
  'gitsync-failing',
  'gitsync-recovered',
]);
export type Trigger = z.infer<typeof Trigger>;

export const ChannelType = z.enum(['webhook', 'slack', 'alertmanager']);
export type ChannelType = z.infer<typeof ChannelType>;

const dnsLabel = () =>
  z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase name (letters, digits and -)');

export const SecretValueSource = z.object({ secretKeyRef: SecretKeyRef });
export type SecretValueSource = z.infer<typeof SecretValueSource>;

export const Channel = z
  .object({
    name: dnsLabel().describe('Routes name channels by this'),
    type: ChannelType.describe('webhook (generic JSON, HMAC-signed), slack (incoming webhook, Block Kit) or alertmanager (its v2 API base URL)'),
    url: z
      .string()
      .max(2048)
      .optional()
      .describe('The receiver; for alertmanager its base URL (…/api/v2/alerts is appended). Use urlFrom when the URL itself is a secret (Slack)'),
    urlFrom: SecretValueSource.optional().describe('The URL from a Secret of this namespace'),
    signingSecretFrom: SecretValueSource.optional().describe('webhook: the key of the HMAC-SHA256 signature over the body (X-Sluice-Signature)'),
    tokenFrom: SecretValueSource.optional().describe('Sent as "Authorization: Bearer <token>"'),
    timeout: Duration.optional().describe('Deadline of one request (default 10s)'),
    generatorURL: z
      .string()
      .max(2048)
      .optional()
      .describe("alertmanager: the alert's generatorURL, with {namespace}, {name} and {kind} filled in (default: the object's URL on the API server)"),
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.url) != has(self.urlFrom)', message: 'exactly one of url and urlFrom must be set' },
      { rule: "!has(self.signingSecretFrom) || self.type == 'webhook'", message: 'signingSecretFrom is for webhook channels' },
    ],
  });
export type Channel = z.infer<typeof Channel>;

export const ObjectKind = z.enum(['Rollout', 'GitSync']);
export type ObjectKind = z.infer<typeof ObjectKind>;

export const Route = z.object({
  triggers: z.array(Trigger).min(1),
  channels: z.array(dnsLabel()).min(1).describe('Names of spec.channels'),
  kinds: z.array(ObjectKind).optional().describe('Rollout and/or GitSync (default both)'),
  selector: LabelSelector.optional().describe('Only objects with these labels (default: every object of the namespace)'),
});
export type Route = z.infer<typeof Route>;

export const NotificationPolicySpec = z.object({
  channels: z.array(Channel).max(20).describe('Where notifications can go'),
  routes: z.array(Route).max(50).describe('Which triggers of which objects go to which channels'),
  giveUpAfter: Duration.optional().describe('A notification not delivered by then is dropped with a Warning Event (default 6h)'),
});
export type NotificationPolicySpec = z.infer<typeof NotificationPolicySpec>;

// ---------------------------------------------------------------------------------------
// The notification as it is kept in the outbox: everything a message says, copied from the
// Event when it was seen, so a send never depends on state that has moved on.

export const NotifiedObject = z.object({
  kind: ObjectKind,
  namespace: z.string(),
  name: z.string(),
  uid: z.string().optional(),
});
export type NotifiedObject = z.infer<typeof NotifiedObject>;

export const Verdict = z.object({
  run: z.string().optional().describe('The AnalysisRun'),
  phase: z.string().optional(),
  metric: z.string().optional(),
  value: z.string().optional(),
  condition: z.string().optional(),
  message: z.string().optional(),
});
export type Verdict = z.infer<typeof Verdict>;

export const Severity = z.enum(['critical', 'warning', 'info']);
export type Severity = z.infer<typeof Severity>;

export const Notification = z.object({
  id: z.string().describe('The Event this notification reports (its name), or <name>.recovered'),
  trigger: Trigger.describe('The main trigger'),
  triggers: z.array(Trigger).describe('Every trigger it matches'),
  severity: Severity,
  reason: z.string(),
  message: z.string(),
  at: z.string().describe('When the transition was recorded'),
  object: NotifiedObject,
  revision: z.string().optional(),
  podHash: z.string().optional(),
  gitRevision: z.string().optional(),
  step: z.string().optional().describe('e.g. 3/6'),
  phase: z.string().optional(),
  cause: z.string().optional().describe('rollout-aborted: analysis, user or progress-deadline'),
  verdict: Verdict.optional(),
  retries: z.number().int().optional(),
  actions: z.array(z.string()).describe('commands of the kubectl plugin (kubectl sluice ...) that act on it'),
});
export type Notification = z.infer<typeof Notification>;

export const OutboxEntry = z.object({
  key: z.string().describe('Dedupe key: the notification id and the channel (and the kind of send)'),
  channel: z.string(),
  kind: z.enum(['notify', 'resolve', 'refresh']).describe('notify; alertmanager: resolve or refresh an open alert'),
  notification: Notification,
  attempts: z.number().int().min(0),
  firstSeenAt: z.string(),
  nextAttemptAt: z.string(),
  lastError: z.string().optional(),
});
export type OutboxEntry = z.infer<typeof OutboxEntry>;

export const HandledEvent = z.object({ id: z.string().describe('The Event (notification id)'), at: z.string().describe('When its transition was recorded') });
export type HandledEvent = z.infer<typeof HandledEvent>;

export const OpenProblem = z.object({
  notification: Notification,
  alertChannels: z.array(z.string()).optional().describe('Alertmanager channels holding its alert'),
  refreshAt: z.string().optional().describe('When the alert is posted again (its endsAt moved on)'),
  confirmed: z.boolean().optional().describe('The object has shown the problem (its Event is recorded before its status is written)'),
});
export type OpenProblem = z.infer<typeof OpenProblem>;

export const ChannelStatus = z.object({
  name: z.string(),
  type: z.string(),
  ready: z.boolean(),
  message: z.string().optional(),
});
export type ChannelStatus = z.infer<typeof ChannelStatus>;

export const NotificationPolicyStatus = z.object({
  observedGeneration: z.number().int().optional(),
  since: z.string().optional().describe('Events recorded before this are not looked at (older handled names are forgotten)'),
  pending: z.array(OutboxEntry).optional().describe('The outbox: notifications not yet accepted by their receiver'),
  handled: z.array(HandledEvent).optional().describe('Events already turned into notifications (never again)'),
  open: z.array(OpenProblem).optional(),
  channels: z.array(ChannelStatus).optional(),
  lastDeliveryAt: z.string().optional(),
  conditions: z.array(Condition).optional(),
});
export type NotificationPolicyStatus = z.infer<typeof NotificationPolicyStatus>;

export const NotificationPolicy = z.object({
  apiVersion: z.string(),
  kind: z.literal('NotificationPolicy'),
  metadata: ObjectMeta,
  spec: NotificationPolicySpec,
  status: NotificationPolicyStatus.optional(),
});
export type NotificationPolicy = z.infer<typeof NotificationPolicy>;

// ---------------------------------------------------------------------------------------
// What the Event recorder puts on the Events it records (annotations), read by core/notify.

export const EVENT_ANNOTATIONS = {
  /** ISO time with milliseconds (an Event's own timestamps have seconds). */
  recordedAt: 'sluice.dev/recorded-at',
  revision: 'sluice.dev/revision',
  podHash: 'sluice.dev/pod-template-hash',
  gitRevision: 'sluice.dev/git-revision',
  step: 'sluice.dev/step',
  phase: 'sluice.dev/phase',
  retries: 'sluice.dev/retries',
  cause: 'sluice.dev/abort-cause',
  /** A timed pause step (nobody needs to act): its duration. */
  pauseDuration: 'sluice.dev/pause-duration',
  /** JSON of Verdict: the AnalysisRun's decisive measurement. */
  verdict: 'sluice.dev/verdict',
} as const;

/** Every Event the one recorder writes carries this label (the notification controller watches it). */
export const EVENT_LABEL = 'app.kubernetes.io/managed-by';
export const EVENT_LABEL_VALUE = 'sluice';
