import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Notification } from '../../api/notification-policy.ts';
import { alertName, descriptionOf, fillLink, renderAlert, renderSlack, renderWebhook, summaryOf, WEBHOOK_SCHEMA_VERSION } from './render.ts';

const aborted: Notification = {
  id: 'web.0123456789abcdef',
  trigger: 'rollout-aborted',
  triggers: ['rollout-aborted', 'analysis-failed'],
  severity: 'critical',
  reason: 'RolloutAborted',
  message: 'Rollout aborted: metric error-rate: 0.23 > 0.05 (failed 1 > failureLimit 0) at step 2/3',
  at: '2026-01-01T00:00:01.250Z',
  object: { kind: 'Rollout', namespace: 'shop', name: 'web', uid: 'u1' },
  revision: '2',
  podHash: 'abc',
  gitRevision: 'deadbeefcafe',
  step: '2/3',
  cause: 'analysis',
  verdict: { run: 'web-abc-step-1', phase: 'Failed', metric: 'error-rate', value: '[0.23]', condition: 'result[0] <= 0.05' },
  actions: ['kubectl sluice analysis web -n shop', 'kubectl sluice retry web -n shop'],
};

describe('rendering', () => {
  test('the summary says what happened, to what, at which revision', () => {
    assert.equal(summaryOf(aborted), 'Rollout shop/web aborted: analysis failed (revision 2, abc)');
  });

  test('the description has why (metric, value, threshold, step), the commit and how to act', () => {
    const d = descriptionOf(aborted);
    for (const part of [
      '0.23 > 0.05',
      'Metric: error-rate',
      'Value: [0.23]',
      'Condition: result[0] <= 0.05',
      'Step: 2/3',
      'Git commit: deadbeefcafe',
      'kubectl sluice retry web -n shop',
    ]) {
      assert.ok(d.includes(part), `${part} in:\n${d}`);
    }
  });

  test('generic webhook: the versioned schema with the idempotency key', () => {
    const body = renderWebhook(aborted, 'web.0123456789abcdef/hook');
    assert.equal(body.schemaVersion, WEBHOOK_SCHEMA_VERSION);
    assert.equal(body.idempotencyKey, 'web.0123456789abcdef/hook');
    assert.deepEqual(body.object, aborted.object);
    assert.equal(body.gitRevision, 'deadbeefcafe');
    assert.equal(body.podTemplateHash, 'abc');
    assert.deepEqual(body.verdict, aborted.verdict);
    assert.deepEqual(Object.keys(body).sort(), [
      'actions',
      'cause',
      'gitRevision',
      'id',
      'idempotencyKey',
      'message',
      'object',
      'podTemplateHash',
      'reason',
      'revision',
      'schemaVersion',
      'severity',
      'step',
      'summary',
      'time',
      'trigger',
      'triggers',
      'verdict',
    ]);
  });

  test('Slack: Block Kit within its limits, with a text fallback', () => {
    const long = { ...aborted, message: 'x'.repeat(5000), object: { ...aborted.object, name: 'n'.repeat(200) } };
    const msg = renderSlack(long);
    const blocks = msg.blocks as Array<{ type: string; text?: { type: string; text: string }; fields?: Array<{ text: string }> }>;
    assert.equal(blocks[0]?.type, 'header');
    assert.equal(blocks[0]?.text?.type, 'plain_text');
    assert.ok(blocks[0]!.text!.text.length <= 150);
    for (const b of blocks) {
      if (b.text) assert.ok(b.text.text.length <= 3000);
      assert.ok((b.fields ?? []).length <= 10);
    }
    assert.ok(msg.text.length <= 3000);
    const full = renderSlack(aborted);
    assert.ok(JSON.stringify(full).includes('`kubectl sluice retry web -n shop`'));
    assert.ok(JSON.stringify(full).includes('*Metric*\\nerror-rate'));
  });

  test('Alertmanager: labels identify the object and transition; endsAt decides firing or resolved', () => {
    const endsAt = new Date('2026-01-01T04:00:00Z');
    const alert = renderAlert(aborted, endsAt, 'https://k8s.example/apis/x');
    assert.deepEqual(alert.labels, {
      alertname: 'RolloutAborted',
      severity: 'critical',
      namespace: 'shop',
      rollout: 'web',
      sluice_trigger: 'rollout-aborted',
      sluice_id: 'web.0123456789abcdef',
    });
    assert.equal(alert.startsAt, aborted.at);
    assert.equal(alert.endsAt, endsAt.toISOString());
    assert.equal(alert.annotations.summary, summaryOf(aborted));
    assert.equal(alert.annotations.git_revision, 'deadbeefcafe');
    assert.equal(alert.generatorURL, 'https://k8s.example/apis/x');
    const git = renderAlert({ ...aborted, trigger: 'gitsync-failing', object: { kind: 'GitSync', namespace: 'shop', name: 'repo' } }, endsAt, 'x');
    assert.equal(git.labels.gitsync, 'repo');
    assert.equal(alertName('gitsync-failing'), 'GitsyncFailing'.replace('Gitsync', 'GitSync'));
    assert.equal(alertName('progress-deadline-exceeded'), 'ProgressDeadlineExceeded');
  });

  test('generatorURL templates are filled in, URL-encoded', () => {
    assert.equal(
      fillLink('https://grafana/d/sluice?var-ns={namespace}&var-r={name}&k={kind}', aborted),
      'https://grafana/d/sluice?var-ns=shop&var-r=web&k=Rollout',
    );
  });
});
