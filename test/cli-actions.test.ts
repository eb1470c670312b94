// kubectl sluice over the in-memory cluster with the real controller: the actions are the writes
// the controller acts on, and status waits on a watch and exits with the documented codes.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { EXIT } from '../src/cli/io.ts';
import { kinds } from '../src/ports/kube.ts';
import { captureIo, eventually, run } from './helpers/cli.ts';
import { main } from '../src/cli/program.ts';
import { canaryRollout, NS, service, startHarness, type Harness } from './helpers/harness.ts';

const steps = [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: { duration: '30s' } }];

describe('actions through kubectl sluice, acted on by the controller', () => {
  let h: Harness;
  const sluice = (...args: string[]) => run([...args, '-n', NS], { kube: h.kube, now: () => h.clock.now() });
  beforeEach(async () => {
    h = await startHarness();
    await h.kube.create(kinds.service, service('app-stable'));
    await h.kube.create(kinds.service, service('app-canary'));
    await h.kube.create(kinds.rollout, canaryRollout({ steps, stableService: 'app-stable', canaryService: 'app-canary', maxSurge: 1, maxUnavailable: 0 }));
    await h.settle();
  });
  afterEach(() => h.stop());

  test('set image, promote, pause, resume, promote --full: each write moves the rollout as documented', async () => {
    let r = await sluice('set', 'image', 'app', 'app=example/app:v2');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /image app example\/app:v1 -> example\/app:v2/);
    await h.settle();
    assert.equal(h.rollout().status.currentStepIndex, 1);
    assert.equal(h.rollout().status.phase, 'Paused');

    r = await sluice('promote', 'app');
    assert.equal(r.code, 0, r.stderr);
    assert.ok(h.kube.writes.includes(`patch rollouts ${NS}/app/status`), 'promote writes the status subresource');
    await h.settle();
    assert.equal(h.rollout().status.currentStepIndex, 3, 'past the indefinite pause and setWeight 60, at the timed pause');

    r = await sluice('pause', 'app');
    assert.equal(r.code, 0, r.stderr);
    await h.advance(60_000);
    assert.equal(h.rollout().status.currentStepIndex, 3, 'a person’s pause holds the rollout past the timed pause');
    assert.deepEqual(
      h.rollout().status.pauseConditions?.map((p) => p.reason),
      ['CanaryPauseStep', 'UserPause'],
    );

    r = await sluice('resume', 'app');
    assert.equal(r.code, 0, r.stderr);
    r = await sluice('promote', 'app', '--full');
    assert.equal(r.code, 0, r.stderr);
    await h.settle();
    const s = h.rollout().status;
    assert.equal(s.phase, 'Healthy', s.message);
    assert.equal(s.stableRS, s.currentPodHash);
    r = await sluice('promote', 'app');
    assert.equal(r.code, EXIT.failed);
    assert.match(r.stderr, /is Healthy on its stable revision .*: there is nothing to promote/);
  });

  test('abort sends traffic back at once; retry starts the revision again; undo goes back to the stable revision', async () => {
    await sluice('set', 'image', 'app', 'app=example/app:v2');
    await h.settle();
    const v1 = h.rollout().status.stableRS;
    let r = await sluice('abort', 'app');
    assert.equal(r.code, 0, r.stderr);
    await h.settle();
    assert.equal(h.rollout().status.phase, 'Degraded');
    assert.deepEqual(
      h.replicaSets().map((rs) => [rs.image, rs.replicas]),
      [
        ['example/app:v1', 10],
        ['example/app:v2', 0],
      ],
    );
    r = await sluice('retry', 'app');
    assert.equal(r.code, 0, r.stderr);
    await h.settle();
    assert.equal(h.rollout().status.phase, 'Paused', 'back at the first pause');
    assert.equal(h.rollout().status.retries, 1);

    r = await sluice('undo', 'app');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /the stable revision: a fast rollback/);
    await h.settle();
    const s = h.rollout().status;
    assert.equal(s.phase, 'Healthy');
    assert.equal(s.currentPodHash, v1, 'the template of revision 1 came back');
  });

  test('restart: every pod is recreated', async () => {
    const before = h.kube.all(kinds.pod, NS).map((p) => p.metadata?.name);
    h.clock.advance(1000);
    const r = await sluice('restart', 'app');
    assert.equal(r.code, 0, r.stderr);
    for (let i = 0; i < 20; i++) await h.advance(1000);
    const after = h.kube.all(kinds.pod, NS).map((p) => p.metadata?.name);
    assert.equal(after.filter((n) => before.includes(n)).length, 0, 'no pod from before the restart is left');
    assert.equal(h.rollout().status.restartedAt, h.rollout().spec.restartAt);
  });

  test('a write refused with 409 (the controller wrote meanwhile) is planned again and made', async () => {
    await sluice('set', 'image', 'app', 'app=example/app:v2');
    await h.settle();
    h.kube.failNext.push({ verb: 'patch', plural: 'rollouts', status: 409 });
    const r = await sluice('promote', 'app');
    assert.equal(r.code, 0, r.stderr);
    await h.settle();
    assert.equal(h.rollout().status.currentStepIndex, 3);
  });

  test('status --no-watch: the exit code of the current state', async () => {
    assert.equal((await sluice('status', 'app', '--no-watch')).code, EXIT.ok);
    await sluice('set', 'image', 'app', 'app=example/app:v2');
    await h.settle();
    assert.equal((await sluice('status', 'app', '--no-watch')).code, EXIT.timeout);
    assert.equal((await sluice('status', 'app', '--no-watch', '--success-on-pause')).code, EXIT.ok);
    await sluice('abort', 'app');
    await h.settle();
    assert.equal((await sluice('status', 'app', '--no-watch')).code, EXIT.failed);
    assert.equal((await sluice('status', 'nope')).code, EXIT.usage);
  });

  test('status waits on the watch until Healthy, printing each change', async () => {
    await sluice('set', 'image', 'app', 'app=example/app:v2');
    await h.settle();
    const c = captureIo({ kube: h.kube, now: () => h.clock.now() });
    const done = main(['status', 'app', '-n', NS, '--timeout', '30s'], c.io);
    await eventually('first line', () => assert.match(c.stdout(), /Paused/));
    await h.patchStatus('app', { pauseConditions: null });
    await h.advance(30_000);
    assert.equal(await done, EXIT.ok, c.stderr());
    const lines = c.stdout().trimEnd().split('\n');
    assert.match(lines[0] as string, /Paused {2}step 2\/4 {2}weight 20\/20/);
    assert.match(lines.at(-1) as string, /^Rollout default\/app is Healthy on revision 2/);
    assert.ok(
      lines.some((l) => /step 4\/4/.test(l)),
      'the timed pause was printed on the way',
    );
  });

  test('status: Degraded exits 1, --timeout exits 2, deletion exits 1, Ctrl-C ends the wait', async () => {
    await sluice('set', 'image', 'app', 'app=example/app:v2');
    await h.settle();
    let c = captureIo({ kube: h.kube, now: () => h.clock.now() });
    let done = main(['status', 'app', '-n', NS, '-o', 'json'], c.io);
    await eventually('first object', () => assert.match(c.stdout(), /"phase":"Paused"/));
    await h.patchStatus('app', { abort: true });
    assert.equal(await done, EXIT.failed);
    const last = JSON.parse(c.stdout().trimEnd().split('\n').at(-1) as string);
    assert.deepEqual([last.done, last.result, last.exitCode, last.aborted], [true, 'Degraded', 1, true]);

    await sluice('retry', 'app');
    await h.settle();
    c = captureIo({ kube: h.kube, now: () => h.clock.now() });
    assert.equal(await main(['status', 'app', '-n', NS, '--timeout', '200ms'], c.io), EXIT.timeout);
    assert.match(c.stdout(), /Timed out after 0s waiting for Rollout default\/app \(last phase Paused/);

    const ctrl = new AbortController();
    c = captureIo({ kube: h.kube, now: () => h.clock.now(), signal: ctrl.signal });
    done = main(['status', 'app', '-n', NS], c.io);
    await eventually('first line', () => assert.match(c.stdout(), /Paused/));
    ctrl.abort();
    assert.equal(await done, EXIT.timeout);
    assert.match(c.stderr(), /Interrupted while waiting/);

    c = captureIo({ kube: h.kube, now: () => h.clock.now() });
    done = main(['status', 'app', '-n', NS], c.io);
    await eventually('first line', () => assert.match(c.stdout(), /Paused/));
    // Without the controller (which would keep its finalizer on), the Rollout goes at once.
    await h.controller.stop();
    await h.kube.patch(kinds.rollout, NS, 'app', { metadata: { finalizers: null } }, { type: 'merge' });
    await h.kube.delete(kinds.rollout, NS, 'app');
    assert.equal(await done, EXIT.failed);
    assert.match(c.stdout(), /was deleted/);
  });

  test('status: a Healthy status for an older generation is not the end', async () => {
    await h.controller.stop();
    const r = h.rollout();
    const template = structuredClone(r.spec.template) as any;
    template.spec.containers[0].image = 'example/app:v2';
    await h.kube.patch(kinds.rollout, NS, 'app', { spec: { template } }, { type: 'merge' });
    assert.equal(h.rollout().status.phase, 'Healthy');
    assert.equal((await sluice('status', 'app', '--no-watch')).code, EXIT.timeout, 'status is for the previous generation');
  });
});
