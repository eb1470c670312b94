// Each action makes exactly the write of the README's field contract, guarded by the
// resourceVersion it was planned from, or refuses with a reason - over Rollouts recorded on the
// e2e cluster in the states where people act.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { loadRecorded } from '../../../test/helpers/cli.ts';
import type { Rollout } from '../../api/rollout.ts';
import {
  parseImageChanges,
  planAbort,
  planPause,
  planPromote,
  planRestart,
  planResume,
  planRetry,
  planSetImage,
  planUndo,
  type ActionPlan,
} from './actions.ts';

const rolloutOf = (name: string) => structuredClone(loadRecorded(name).rollout) as unknown as Rollout;
const NOW = new Date('2026-12-01T09:00:00.000Z');

function written(plan: ActionPlan) {
  assert.ok(plan.ok, plan.ok ? '' : plan.reason);
  return plan.write;
}

function refused(plan: ActionPlan, pattern: RegExp): void {
  assert.equal(plan.ok, false, 'expected a refusal');
  if (!plan.ok) assert.match(plan.reason, pattern);
}

describe('promote', () => {
  test('at an indefinite pause step: removes pauseConditions (status subresource), guarded by resourceVersion', () => {
    const r = rolloutOf('canary-paused');
    const w = written(planPromote(r));
    assert.equal(w.subresource, 'status');
    assert.deepEqual(w.body, { metadata: { resourceVersion: r.metadata.resourceVersion }, status: { pauseConditions: null } });
    assert.match(w.done, /promoted, the pause ended \(CanaryPauseStep\) at step 2\/6/);
  });

  test('not paused (analysis running): skips the step, currentStepIndex + 1', () => {
    const r = rolloutOf('canary-analysis-running');
    assert.equal(r.status?.currentStepIndex, 3);
    const w = written(planPromote(r));
    assert.deepEqual(w.body, { metadata: { resourceVersion: r.metadata.resourceVersion }, status: { currentStepIndex: 4 } });
    assert.match(w.done, /step 4\/6 skipped/);
  });

  test('--full: promoteFull true', () => {
    const r = rolloutOf('canary-paused');
    assert.deepEqual(written(planPromote(r, { full: true })).body, {
      metadata: { resourceVersion: r.metadata.resourceVersion },
      status: { promoteFull: true },
    });
    r.status = { ...r.status, promoteFull: true };
    refused(planPromote(r, { full: true }), /already being promoted to the end/);
  });

  test('inconclusive analysis and a blue-green preview: the pause ends', () => {
    assert.deepEqual(written(planPromote(rolloutOf('canary-inconclusive'))).body.status, { pauseConditions: null });
    assert.deepEqual(written(planPromote(rolloutOf('bluegreen-preview'))).body.status, { pauseConditions: null });
  });

  test('refused: a Healthy rollout, an aborted one, spec.paused, a blue-green that is not paused, past the last step', () => {
    refused(planPromote(rolloutOf('canary-healthy')), /is Healthy on its stable revision k45bhwj6sd: there is nothing to promote/);
    refused(planPromote(rolloutOf('canary-aborted')), /was aborted; kubectl sluice retry web/);
    const paused = rolloutOf('canary-paused');
    paused.spec.paused = true;
    refused(planPromote(paused), /paused by spec\.paused: true, which promote does not change/);
    const bg = rolloutOf('bluegreen-preview');
    bg.status = { ...bg.status, pauseConditions: undefined };
    refused(planPromote(bg), /not paused: it switches on its own once the preview is ready/);
    const last = rolloutOf('canary-analysis-running');
    last.status = { ...last.status, currentStepIndex: 6 };
    refused(planPromote(last), /past its last step/);
  });

  test('a person’s pause only: promote ends it and says the step is not skipped', () => {
    const r = rolloutOf('canary-analysis-running');
    r.status = { ...r.status, pauseConditions: [{ reason: 'UserPause', startTime: '2026-12-01T08:30:00Z' }] };
    assert.match(written(planPromote(r)).done, /resumed \(it was paused by a person; promote ends every pause, the current step is not skipped\)/);
  });
});

describe('abort and retry', () => {
  test('abort: abort true; refused when already aborted or nothing is in progress', () => {
    const r = rolloutOf('canary-paused');
    const w = written(planAbort(r));
    assert.equal(w.subresource, 'status');
    assert.deepEqual(w.body, { metadata: { resourceVersion: r.metadata.resourceVersion }, status: { abort: true } });
    assert.match(w.done, /all traffic goes back to the stable revision n298rxtrsz/);
    refused(planAbort(rolloutOf('canary-aborted')), /already aborted \(since 2026-12-01T08:31:14/);
    refused(planAbort(rolloutOf('canary-healthy')), /nothing to abort/);
  });

  test('retry: abort false, abortedAt and abortMessage removed, step 0, retries + 1; refused when not aborted', () => {
    const r = rolloutOf('canary-aborted');
    const w = written(planRetry(r));
    assert.deepEqual(w.body, {
      metadata: { resourceVersion: r.metadata.resourceVersion },
      status: { abort: false, abortedAt: null, abortMessage: null, currentStepIndex: 0, retries: 1 },
    });
    r.status = { ...r.status, retries: 2 };
    assert.equal((written(planRetry(r)).body.status as { retries: number }).retries, 3);
    refused(planRetry(rolloutOf('canary-paused')), /is not aborted \(phase Paused\): there is nothing to retry/);
  });
});

describe('pause and resume', () => {
  test('pause adds a UserPause to the pauses there are; resume removes only it', () => {
    const r = rolloutOf('canary-paused');
    const w = written(planPause(r, NOW));
    const pauses = (w.body.status as { pauseConditions: Array<{ reason: string; startTime: string }> }).pauseConditions;
    assert.deepEqual(
      pauses.map((p) => p.reason),
      ['CanaryPauseStep', 'UserPause'],
    );
    assert.equal(pauses[1]?.startTime, NOW.toISOString());
    r.status = { ...r.status, pauseConditions: pauses as NonNullable<Rollout['status']>['pauseConditions'] };
    refused(planPause(r, NOW), /already paused by a person \(since 2026-12-01T09:00:00.000Z\)/);
    const resumed = written(planResume(r));
    assert.deepEqual(
      (resumed.body.status as { pauseConditions: Array<{ reason: string }> }).pauseConditions.map((p) => p.reason),
      ['CanaryPauseStep'],
    );
    assert.match(resumed.done, /still waiting at CanaryPauseStep/);
  });

  test('resume of the last pause writes null; refused without a UserPause, pointing at promote for a pause step', () => {
    const r = rolloutOf('canary-healthy');
    r.status = { ...r.status, pauseConditions: [{ reason: 'UserPause', startTime: NOW.toISOString() }] };
    assert.deepEqual(written(planResume(r)).body.status, { pauseConditions: null });
    refused(planResume(rolloutOf('canary-paused')), /not paused by a person; it waits at CanaryPauseStep: kubectl sluice promote web goes on/);
    refused(planResume(rolloutOf('canary-healthy')), /is not paused$/);
  });
});

describe('undo', () => {
  test('default: the previous revision, the template of its ReplicaSet without the hash label, as a spec merge patch', () => {
    const rec = loadRecorded('canary-aborted');
    const r = rec.rollout as unknown as Rollout;
    const w = written(planUndo(r, rec.replicaSets));
    assert.equal(w.subresource, undefined);
    const template = (w.body.spec as { template: { spec: { containers: Array<{ image: string }> }; metadata: { labels: Record<string, string> } } }).template;
    assert.equal(template.spec.containers[0]?.image, 'example/web:v2');
    assert.equal((w.body.metadata as { resourceVersion: string }).resourceVersion, r.metadata.resourceVersion);
    assert.match(w.done, /template set to revision 2 \(k45bhwj6sd, example\/web:v2\), the stable revision: a fast rollback, no steps/);
    assert.deepEqual(w.warnings, []);
  });

  test('--to-revision: that revision; refused for one that does not exist or is the current one', () => {
    const rec = loadRecorded('canary-aborted');
    const r = rec.rollout as unknown as Rollout;
    const w = written(planUndo(r, rec.replicaSets, 1));
    assert.match(w.done, /revision 1 \(n298rxtrsz, example\/web:v1\)/);
    refused(planUndo(r, rec.replicaSets, 9), /has no revision 9 \(revisions: 1, 2, 3\)/);
    refused(planUndo(r, rec.replicaSets, 3), /Revision 3 is the current revision/);
  });

  test('the merge patch turns the current template into the old one exactly (fields only the new one has are removed)', () => {
    const rec = loadRecorded('canary-aborted');
    const r = rec.rollout as unknown as Rollout;
    (r.spec.template as { spec: { containers: Array<Record<string, unknown>> } }).spec.containers[0]!.args = ['--new-flag'];
    const patch = (written(planUndo(r, rec.replicaSets, 1)).body.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template;
    assert.equal(patch.spec.containers[0]?.args, undefined, 'containers are replaced whole');
    assert.equal(patch.spec.containers[0]?.image, 'example/web:v1');
  });

  test('a Rollout managed by a GitSync: the undo is made, with a warning to revert in Git', () => {
    const rec = loadRecorded('canary-git');
    const w = written(planUndo(rec.rollout as unknown as Rollout, rec.replicaSets, 1));
    assert.equal(w.warnings.length, 1);
    assert.match(w.warnings[0] as string, /managed by GitSync shop-git\/apps: its next sync puts the template from Git back.*git revert 58ad84fa4311/);
  });
});

describe('restart and set image', () => {
  test('restart: spec.restartAt now', () => {
    const r = rolloutOf('canary-healthy');
    const w = written(planRestart(r, NOW));
    assert.deepEqual(w.body, { metadata: { resourceVersion: r.metadata.resourceVersion }, spec: { restartAt: NOW.toISOString() } });
  });

  test('set image: the containers list with the new image; unknown containers and no-ops refused; * for all', () => {
    const r = rolloutOf('canary-healthy');
    const w = written(planSetImage(r, [{ container: 'app', image: 'example/web:v9' }]));
    const containers = (w.body.spec as { template: { spec: { containers: Array<{ name: string; image: string }> } } }).template.spec.containers;
    assert.deepEqual(
      containers.map((c) => [c.name, c.image]),
      [['app', 'example/web:v9']],
    );
    assert.match(w.done, /image app example\/web:v2 -> example\/web:v9/);
    refused(planSetImage(r, [{ container: 'db', image: 'x' }]), /has no container "db" \(containers: app\)/);
    refused(planSetImage(r, [{ container: 'app', image: 'example/web:v2' }]), /already runs app=example\/web:v2/);
    assert.ok(planSetImage(r, [{ container: '*', image: 'example/web:v9' }]).ok);
    assert.match(written(planSetImage(rolloutOf('canary-git'), [{ container: 'app', image: 'x:1' }])).warnings[0] as string, /managed by GitSync/);
  });

  test('a Rollout whose template comes from a Deployment (workloadRef): undo and set image point at the Deployment', () => {
    const rec = loadRecorded('canary-healthy');
    const r = structuredClone(rec.rollout) as unknown as Rollout;
    r.spec.workloadRef = { apiVersion: 'apps/v1', kind: 'Deployment', name: 'web' };
    refused(
      planSetImage(r, [{ container: 'app', image: 'x:2' }]),
      /takes its pod template from Deployment web \(spec\.workloadRef\): set the image of that Deployment instead/,
    );
    refused(planUndo(r, rec.replicaSets), /roll back that Deployment instead/);
  });

  test('CONTAINER=IMAGE arguments', () => {
    assert.deepEqual(parseImageChanges(['app=web:v2', 'side=proxy:1']), [
      { container: 'app', image: 'web:v2' },
      { container: 'side', image: 'proxy:1' },
    ]);
    assert.equal(parseImageChanges(['app']), '"app" is not CONTAINER=IMAGE');
    assert.equal(parseImageChanges(['=x']), '"=x" is not CONTAINER=IMAGE');
    assert.equal(parseImageChanges([]), 'give at least one CONTAINER=IMAGE');
  });
});
