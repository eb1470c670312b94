import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_ANNOTATIONS, type Notification } from '../../api/notification-policy.ts';
import { eventTime, notificationFromEvent, recoveredNotification, stillOpen } from './triggers.ts';

function event(reason: string, o: { kind?: string; type?: string; annotations?: Record<string, string>; message?: string } = {}) {
  return {
    metadata: {
      name: `web.${reason.toLowerCase()}`,
      namespace: 'shop',
      annotations: { [EVENT_ANNOTATIONS.recordedAt]: '2026-01-01T00:00:01.250Z', ...o.annotations },
    },
    involvedObject: { kind: o.kind ?? 'Rollout', name: 'web', namespace: 'shop', uid: 'u1' },
    reason,
    message: o.message ?? `${reason} happened`,
    type: o.type ?? 'Normal',
    firstTimestamp: '2026-01-01T00:00:01Z',
  };
}

const verdict = (phase: string) => JSON.stringify({ run: 'web-abc-step-2', phase, metric: 'error-rate', value: '[0.23]', condition: 'result[0] <= 0.05' });

describe('which Event makes which notification', () => {
  const table: Array<[string, ReturnType<typeof event>, string[] | undefined]> = [
    [
      'an abort by failed analysis',
      event('RolloutAborted', { type: 'Warning', annotations: { [EVENT_ANNOTATIONS.cause]: 'analysis', [EVENT_ANNOTATIONS.verdict]: verdict('Failed') } }),
      ['rollout-aborted', 'analysis-failed'],
    ],
    [
      'an abort by erroring analysis',
      event('RolloutAborted', { annotations: { [EVENT_ANNOTATIONS.cause]: 'analysis', [EVENT_ANNOTATIONS.verdict]: verdict('Error') } }),
      ['rollout-aborted', 'analysis-errored'],
    ],
    ['an abort by a person', event('RolloutAborted', { annotations: { [EVENT_ANNOTATIONS.cause]: 'user' } }), ['rollout-aborted']],
    ['inconclusive analysis (paused for a person)', event('AnalysisInconclusive'), ['analysis-inconclusive', 'rollout-paused']],
    ['an indefinite pause', event('RolloutPaused'), ['rollout-paused']],
    ['a timed pause step (nobody is waited for)', event('RolloutPaused', { annotations: { [EVENT_ANNOTATIONS.pauseDuration]: '30s' } }), undefined],
    ['completed', event('RolloutCompleted'), ['rollout-completed']],
    ['progress deadline', event('ProgressDeadlineExceeded'), ['progress-deadline-exceeded']],
    ['a step completed', event('StepCompleted'), undefined],
    ['a GitSync failure', event('DryRunFailed', { kind: 'GitSync', type: 'Warning' }), ['gitsync-failing']],
    ['a GitSync sync window', event('SyncWindowDenied', { kind: 'GitSync', type: 'Warning' }), undefined],
    ['a GitSync synced', event('Synced', { kind: 'GitSync' }), undefined],
    ['another kind', event('RolloutAborted', { kind: 'Deployment' }), undefined],
  ];
  for (const [what, e, want] of table) {
    test(what, () => assert.deepEqual(notificationFromEvent(e)?.triggers, want));
  }

  test('the notification carries the transition facts from the annotations', () => {
    const n = notificationFromEvent(
      event('RolloutAborted', {
        type: 'Warning',
        message: 'Rollout aborted: metric error-rate: 0.23 > 0.05 (failed 1 > failureLimit 0) at step 2/3',
        annotations: {
          [EVENT_ANNOTATIONS.revision]: '2',
          [EVENT_ANNOTATIONS.podHash]: 'abc',
          [EVENT_ANNOTATIONS.gitRevision]: 'deadbeef',
          [EVENT_ANNOTATIONS.step]: '2/3',
          [EVENT_ANNOTATIONS.retries]: '0',
          [EVENT_ANNOTATIONS.cause]: 'analysis',
          [EVENT_ANNOTATIONS.verdict]: verdict('Failed'),
        },
      }),
    )!;
    assert.equal(n.id, 'web.rolloutaborted');
    assert.equal(n.at, '2026-01-01T00:00:01.250Z');
    assert.equal(n.severity, 'critical');
    assert.deepEqual([n.revision, n.podHash, n.gitRevision, n.step, n.retries], ['2', 'abc', 'deadbeef', '2/3', 0]);
    assert.deepEqual(n.verdict, { run: 'web-abc-step-2', phase: 'Failed', metric: 'error-rate', value: '[0.23]', condition: 'result[0] <= 0.05' });
    assert.deepEqual(n.actions, [
      'kubectl sluice analysis web -n shop',
      'kubectl sluice retry web -n shop',
      'kubectl sluice undo web -n shop',
      'kubectl sluice get rollout web -n shop',
    ]);
  });

  test('a broken verdict annotation is left out, not fatal', () => {
    const n = notificationFromEvent(
      event('RolloutAborted', { annotations: { [EVENT_ANNOTATIONS.cause]: 'analysis', [EVENT_ANNOTATIONS.verdict]: '{not json' } }),
    );
    assert.equal(n?.verdict, undefined);
    assert.deepEqual(n?.triggers, ['rollout-aborted']);
  });

  test('time: the millisecond annotation first, else the Event time, always in one form', () => {
    const e = event('RolloutCompleted');
    assert.equal(eventTime(e), '2026-01-01T00:00:01.250Z');
    delete (e.metadata.annotations as Record<string, string>)[EVENT_ANNOTATIONS.recordedAt];
    assert.equal(eventTime(e), '2026-01-01T00:00:01.000Z');
    assert.equal(eventTime({ nope: true }), undefined);
  });
});

describe('a problem stays open until the live object shows it is over', () => {
  const aborted = notificationFromEvent(event('RolloutAborted', { annotations: { [EVENT_ANNOTATIONS.podHash]: 'abc', [EVENT_ANNOTATIONS.retries]: '0' } }))!;
  test('an abort: open while aborted on that revision and attempt', () => {
    assert.equal(stillOpen(aborted, { uid: 'u1', status: { abort: true, currentPodHash: 'abc', retries: 0 } }), true);
    assert.equal(stillOpen(aborted, { uid: 'u1', status: { abort: false, currentPodHash: 'abc', retries: 1 } }), false, 'retried');
    assert.equal(
      stillOpen(aborted, { uid: 'u1', status: { abort: true, currentPodHash: 'abc', retries: 1 } }),
      false,
      'retried and aborted again: a new problem',
    );
    assert.equal(stillOpen(aborted, { uid: 'u1', status: { abort: true, currentPodHash: 'xyz' } }), false, 'a new revision');
    assert.equal(stillOpen(aborted, undefined), false, 'deleted');
    assert.equal(stillOpen(aborted, { uid: 'u2', status: { abort: true, currentPodHash: 'abc' } }), false, 're-created under the same name');
  });
  test('a pause: open while Paused at that step', () => {
    const paused = notificationFromEvent(event('RolloutPaused', { annotations: { [EVENT_ANNOTATIONS.podHash]: 'abc', [EVENT_ANNOTATIONS.step]: '2/4' } }))!;
    assert.equal(stillOpen(paused, { status: { phase: 'Paused', currentPodHash: 'abc', currentStepIndex: 1 } }), true);
    assert.equal(stillOpen(paused, { status: { phase: 'Progressing', currentPodHash: 'abc', currentStepIndex: 2 } }), false);
  });
  test('a progress deadline: open while the condition says so', () => {
    const n = notificationFromEvent(event('ProgressDeadlineExceeded'))!;
    const cond = (reason: string) => ({ status: { conditions: [{ type: 'Progressing', status: 'False' as const, reason }] } });
    assert.equal(stillOpen(n, cond('ProgressDeadlineExceeded')), true);
    assert.equal(stillOpen(n, cond('ReplicaSetUpdated')), false);
  });
  test('a GitSync failure: open until Ready; then reported recovered with the commit', () => {
    const failing = notificationFromEvent(event('ApplyFailed', { kind: 'GitSync', type: 'Warning', message: 'apply failed' }))!;
    const ready = (status: 'True' | 'False') => ({ uid: 'u1', status: { lastSyncedCommit: '0123456789abcdef', conditions: [{ type: 'Ready', status }] } });
    assert.equal(stillOpen(failing, ready('False')), true);
    assert.equal(stillOpen(failing, ready('True')), false);
    const r: Notification = recoveredNotification(failing, ready('True'), new Date('2026-01-01T01:00:00Z'));
    assert.equal(r.trigger, 'gitsync-recovered');
    assert.equal(r.id, `${failing.id}.recovered`);
    assert.equal(r.gitRevision, '0123456789abcdef');
    assert.match(r.message, /^Synced again at commit 0123456789ab after: apply failed/);
  });
});
