// What each channel is sent, pure: the generic webhook's versioned JSON, a Slack Block Kit
// message, and Alertmanager v2 alerts. Every message says what happened, why (the explained
// verdict when analysis decided), the revision, the Git commit when known, and how to act.
// Formats are documented in docs/alerts.md; a change of the webhook body's fields is a new
// schemaVersion.
import type { Notification, Trigger } from '../../api/notification-policy.ts';

export const WEBHOOK_SCHEMA_VERSION = 'sluice.dev/notification/v1';

const WHAT: Record<Trigger, string> = {
  'rollout-aborted': 'aborted',
  'analysis-failed': 'aborted: analysis failed',
  'analysis-errored': 'aborted: analysis errored',
  'analysis-inconclusive': 'paused: analysis inconclusive',
  'rollout-paused': 'paused, waiting for a person',
  'rollout-completed': 'completed',
  'progress-deadline-exceeded': 'exceeded its progress deadline',
  'gitsync-failing': 'failing',
  'gitsync-recovered': 'recovered',
};

/** The most specific trigger names what happened (an abort by failed analysis says so). */
function headline(n: Notification): Trigger {
  if (n.triggers.includes('analysis-failed')) return 'analysis-failed';
  if (n.triggers.includes('analysis-errored')) return 'analysis-errored';
  return n.trigger;
}

/** e.g. "Rollout shop/web aborted: analysis failed (revision 3)". */
export function summaryOf(n: Notification): string {
  const revision = n.revision ? ` (revision ${n.revision}${n.podHash ? `, ${n.podHash}` : ''})` : '';
  return `${n.object.kind} ${n.object.namespace}/${n.object.name} ${WHAT[headline(n)]}${revision}`;
}

/** Labelled facts, in the order a person reads them; absent ones are left out. */
export function factsOf(n: Notification): Array<[string, string]> {
  const facts: Array<[string, string | undefined]> = [
    ['Reason', n.reason],
    ['Revision', n.revision && n.podHash ? `${n.revision} (${n.podHash})` : (n.revision ?? n.podHash)],
    ['Git commit', n.gitRevision],
    ['Step', n.step],
    ['Phase', n.phase],
    ['Cause', n.cause],
    ['Metric', n.verdict?.metric],
    ['Value', n.verdict?.value],
    ['Condition', n.verdict?.condition],
    ['Verdict', n.verdict?.phase && n.verdict.message ? `${n.verdict.phase}: ${n.verdict.message}` : n.verdict?.phase],
    ['Analysis run', n.verdict?.run],
  ];
  return facts.filter((f): f is [string, string] => typeof f[1] === 'string' && f[1] !== '');
}

/** The message, the facts and the commands, as plain text. */
export function descriptionOf(n: Notification): string {
  const lines = [n.message, ...factsOf(n).map(([k, v]) => `${k}: ${v}`)];
  if (n.actions.length) lines.push(`To act: ${n.actions.join('; ')}`);
  return lines.join('\n');
}

export interface WebhookBody {
  schemaVersion: typeof WEBHOOK_SCHEMA_VERSION;
  idempotencyKey: string;
  id: string;
  trigger: Trigger;
  triggers: Trigger[];
  severity: string;
  summary: string;
  reason: string;
  message: string;
  time: string;
  object: Notification['object'];
  revision?: string;
  podTemplateHash?: string;
  gitRevision?: string;
  step?: string;
  phase?: string;
  cause?: string;
  verdict?: Notification['verdict'];
  actions: string[];
}

export function renderWebhook(n: Notification, idempotencyKey: string): WebhookBody {
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    idempotencyKey,
    id: n.id,
    trigger: n.trigger,
    triggers: n.triggers,
    severity: n.severity,
    summary: summaryOf(n),
    reason: n.reason,
    message: n.message,
    time: n.at,
    object: n.object,
    ...(n.revision ? { revision: n.revision } : {}),
    ...(n.podHash ? { podTemplateHash: n.podHash } : {}),
    ...(n.gitRevision ? { gitRevision: n.gitRevision } : {}),
    ...(n.step ? { step: n.step } : {}),
    ...(n.phase ? { phase: n.phase } : {}),
    ...(n.cause ? { cause: n.cause } : {}),
    ...(n.verdict ? { verdict: n.verdict } : {}),
    actions: n.actions,
  };
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);
const EMOJI: Record<string, string> = { critical: ':red_circle:', warning: ':large_yellow_circle:', info: ':large_green_circle:' };

/** A Slack incoming-webhook message (Block Kit, with `text` as the notification fallback). */
export function renderSlack(n: Notification): { text: string; blocks: unknown[] } {
  const summary = summaryOf(n);
  const facts = factsOf(n).slice(0, 10);
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cut(summary, 150), emoji: true } },
    { type: 'section', text: { type: 'mrkdwn', text: cut(`${EMOJI[n.severity] ?? ''} ${n.message}`.trim(), 3000) } },
  ];
  if (facts.length) blocks.push({ type: 'section', fields: facts.map(([k, v]) => ({ type: 'mrkdwn', text: cut(`*${k}*\n${v}`, 2000) })) });
  if (n.actions.length) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: cut(`*To act*\n${n.actions.map((a) => `\`${a}\``).join('\n')}`, 3000) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: cut(`${n.trigger} · ${n.at} · ${n.id}`, 3000) }] });
  return { text: cut(`${summary}: ${n.message}`, 3000), blocks };
}

/** The alertname of a problem's Alertmanager alert. */
export function alertName(trigger: Trigger): string {
  return trigger
    .split('-')
    .map((w) => (w === 'gitsync' ? 'GitSync' : `${w[0]?.toUpperCase() ?? ''}${w.slice(1)}`))
    .join('');
}

export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
}

/**
 * The Alertmanager v2 alert of a notification. Its labels identify the object and the transition
 * (the same labels on every post, so a refresh or a resolve updates the same alert); `endsAt` in
 * the future keeps it firing until then, `endsAt` now resolves it.
 */
export function renderAlert(n: Notification, endsAt: Date, generatorURL: string): AlertmanagerAlert {
  const objectLabel = n.object.kind === 'GitSync' ? 'gitsync' : 'rollout';
  const annotations: Record<string, string> = {
    summary: summaryOf(n),
    description: descriptionOf(n),
    ...(n.revision ? { revision: n.revision } : {}),
    ...(n.gitRevision ? { git_revision: n.gitRevision } : {}),
    ...(n.actions.length ? { actions: n.actions.join('\n') } : {}),
  };
  return {
    labels: {
      alertname: alertName(n.trigger),
      severity: n.severity,
      namespace: n.object.namespace,
      [objectLabel]: n.object.name,
      sluice_trigger: n.trigger,
      sluice_id: n.id,
    },
    annotations,
    startsAt: n.at,
    endsAt: endsAt.toISOString(),
    generatorURL,
  };
}

/** `{namespace}`, `{name}` and `{kind}` of a generatorURL template filled in (URL-encoded). */
export function fillLink(template: string, n: Notification): string {
  return template
    .replaceAll('{namespace}', encodeURIComponent(n.object.namespace))
    .replaceAll('{name}', encodeURIComponent(n.object.name))
    .replaceAll('{kind}', encodeURIComponent(n.object.kind));
}

/** The object's path on the API server: the default generatorURL under the server's URL. */
export function objectPath(n: Notification): string {
  const plural = n.object.kind === 'GitSync' ? 'gitsyncs' : 'rollouts';
  return `/apis/sluice.dev/v1alpha1/namespaces/${encodeURIComponent(n.object.namespace)}/${plural}/${encodeURIComponent(n.object.name)}`;
}
