// Canary rollouts on the real cluster, driven the way a person drives them: `kubectl apply`,
// image changes, and user actions written with `kubectl patch --subresource=status` exactly
// as the README's field contract says. Each test has its own namespace; one controller
// process serves the whole file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { waitFor } from '../harness/wait.ts';
import {
  assertHealthyOn,
  canaryRollout,
  canaryServices,
  completedSteps,
  manifest,
  NEVER_READY_NODE_SELECTOR,
  podReady,
  scenario,
  templateOf,
  type CanaryOptions,
  type Scenario,
  type View,
} from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;

/** Runs a test in a fresh namespace with a canary Rollout (v1) already Healthy. */
async function withCanary(prefix: string, opts: CanaryOptions, fn: (s: Scenario, v1: View) => Promise<void>): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout(opts)));
      const v1 = await s.waitFor('first revision Healthy', (v) => healthyOn(v, v.rollout.status.currentPodHash, opts.replicas ?? 4));
      assert.equal(v1.replicaSets.length, 1, 'the first revision has one ReplicaSet');
      await fn(s, v1);
    });
  } finally {
    // the controller removes its finalizer; then the namespace can go
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

/** Healthy on `hash` (see assertHealthyOn), and the plain Service is never touched. */
function healthyOn(v: View, hash: string | undefined, replicas: number): void {
  assertHealthyOn(v, hash, replicas);
  assert.equal(v.selectors.demo, '', 'the plain Service is not touched');
}

/** The canary holds `canary` available pods and the stable `stable`, at the step index given, paused. */
function pausedAt(v: View, index: number, stableHash: string, canaryHash: string, canary: number, stable: number): void {
  const s = v.rollout.status;
  assert.equal(s.currentPodHash, canaryHash);
  assert.equal(s.currentStepIndex, index);
  assert.equal(s.phase, 'Paused');
  assert.deepEqual(
    (s.pauseConditions ?? []).map((p: { reason: string }) => p.reason),
    ['CanaryPauseStep'],
  );
  assert.equal(v.rs[canaryHash]?.spec, canary);
  assert.equal(v.rs[canaryHash]?.available, canary);
  assert.equal(v.rs[stableHash]?.spec, stable);
  assert.equal(v.rs[stableHash]?.available, stable);
  assert.equal(v.rs[stableHash]?.current, stable);
  assert.equal(v.selectors['demo-stable'], stableHash);
  assert.equal(v.selectors['demo-canary'], canaryHash);
}

/** Records violations of maxSurge 1 / maxUnavailable 0 seen while polling (a throw would only mean "not yet"). */
function budgetWatch(replicas: number) {
  const violations: string[] = [];
  return {
    check(v: View) {
      const total = v.replicaSets.reduce((n, r) => n + r.spec, 0);
      const available = v.replicaSets.reduce((n, r) => n + r.available, 0);
      if (total > replicas + 1) violations.push(`spec total ${total} > ${replicas}+1: ${v.replicaSets.map((r) => `${r.hash}=${r.spec}`).join(' ')}`);
      if (available < replicas) violations.push(`available ${available} < ${replicas}: ${v.replicaSets.map((r) => `${r.hash}=${r.available}`).join(' ')}`);
    },
    violations,
  };
}

describe('canary', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('happy path: setWeight, timed pause, indefinite pause, promote, completion', () =>
    withCanary(
      'canary-happy',
      { steps: [{ setWeight: 25 }, { pause: { duration: '3s' } }, { setWeight: 50 }, { pause: {} }, { setWeight: 75 }] },
      async (s, v1) => {
        const h1 = v1.rollout.status.stableRS as string;
        const budget = budgetWatch(4);
        await s.setImage('example/app:v2');

        // step 1 (setWeight 25) done, step 2 is the 3s pause: one canary pod of four
        const p1 = await s.waitFor('paused at step 2/5 with 25%', (v) => {
          budget.check(v);
          const h2 = v.rollout.status.currentPodHash;
          assert.notEqual(h2, h1);
          pausedAt(v, 1, h1, h2, 1, 3);
          assert.equal(v.rollout.status.desiredWeight, 25);
          assert.equal(v.rollout.status.actualWeight, 25);
          assert.equal(v.rollout.status.stepCount, 5);
        });
        const h2 = p1.rollout.status.currentPodHash as string;
        assert.equal(p1.rs[h2]?.image, 'example/app:v2');
        assert.equal(p1.rs[h2]?.name, `demo-${h2}`);

        // the timed pause lasts its 3s, then the rollout goes on by itself to the indefinite pause
        const pauseStart = Date.parse(p1.rollout.status.pauseConditions[0].startTime);
        await s.holds('step 2/5 (pause 3s) still paused', (v) => assert.equal(v.rollout.status.currentStepIndex, 1), pauseStart + 2500 - Date.now());
        const p3 = await s.waitFor(
          'paused at step 4/5 (until promoted) with 50%',
          (v) => {
            budget.check(v);
            pausedAt(v, 3, h1, h2, 2, 2);
            assert.equal(v.rollout.status.desiredWeight, 50);
            assert.equal(v.rollout.status.actualWeight, 50);
          },
          15_000,
        );
        assert.match(p3.rollout.status.message, /until promoted/);
        const paused = p3.rollout.status.conditions.find((c: { type: string }) => c.type === 'Paused');
        assert.equal(paused?.status, 'True');

        // the traffic helper sends requests to 2 v1 and 2 v2 pods
        await waitFor('traffic to 2 v1 and 2 v2 pods', async () => {
          const st = await env.traffic.state();
          const mine = st.pods.filter((p) => p.namespace === s.ns && p.ready);
          assert.equal(mine.filter((p) => p.imageTag === 'v1').length, 2);
          assert.equal(mine.filter((p) => p.imageTag === 'v2').length, 2);
          assert.ok(
            mine.every((p) => p.requests > 0),
            'every ready pod gets requests',
          );
          return true;
        });

        // an indefinite pause stays
        await s.holds('paused until promoted', (v) => pausedAt(v, 3, h1, h2, 2, 2), 2000);

        // promote: the person removes the pause condition
        await s.promote();
        const done = await s.waitFor(
          'Healthy on v2',
          (v) => {
            budget.check(v);
            healthyOn(v, h2, 4);
          },
          30_000,
        );
        assert.equal(done.rs[h1]?.spec, 0);
        assert.equal(done.rollout.status.currentStepIndex, 5);
        assert.equal(done.rollout.status.desiredWeight, 100);
        assert.equal(done.rollout.status.actualWeight, 100);
        assert.equal(done.rollout.status.pauseConditions, undefined);
        assert.equal(done.rollout.status.currentRevision, 2);

        const events = await s.waitEvent('RolloutCompleted');
        assert.deepEqual(completedSteps(events), ['1/5', '2/5', '3/5', '4/5', '5/5'], 'each step completed exactly once, in order');
        assert.equal(events.filter((e) => e.reason === 'Promoted').length, 1, 'one Promoted event');
        assert.equal(events.filter((e) => e.reason === 'RolloutCompleted').length, 1);
        assert.equal(events.filter((e) => e.type === 'Warning').length, 0, `no warnings: ${JSON.stringify(events)}`);
        assert.deepEqual(budget.violations, [], 'maxSurge 1 / maxUnavailable 0 respected');
        await s.settled();
      },
    ));

  test('promote --full skips the remaining steps', () =>
    withCanary('canary-full', { steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const p = await s.waitFor('paused at step 2/4', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 1, 3));
      const h2 = p.rollout.status.currentPodHash as string;
      await s.promoteFull();
      const done = await s.waitFor('Healthy on v2', (v) => healthyOn(v, h2, 4));
      assert.equal(done.rollout.status.promoteFull, undefined, 'promoteFull is cleared once promoted');
      const events = await s.waitEvent('RolloutCompleted');
      assert.deepEqual(completedSteps(events), ['1/4'], 'steps 2-4 were skipped, not run');
      assert.equal(events.filter((e) => e.reason === 'PromotedFull').length, 1);
      await s.settled();
    }));

  test('abort returns all traffic to stable at once; retry starts the steps again', () =>
    withCanary('canary-abort', { steps: [{ setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const p = await s.waitFor('paused at step 2/2 with 50%', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 2, 2));
      const h2 = p.rollout.status.currentPodHash as string;

      await s.abort();
      // The first status that shows the abort was written after the ReplicaSets and Services
      // were changed: everything moved in one reconcile.
      const aborted = await s.waitFor('Degraded (aborted)', (v) => assert.equal(v.rollout.status.phase, 'Degraded'));
      assert.equal(aborted.rs[h2]?.spec, 0, 'canary ReplicaSet scaled to 0 at once');
      assert.equal(aborted.rs[h1]?.spec, 4, 'stable ReplicaSet scaled to full at once');
      assert.equal(aborted.selectors['demo-stable'], h1);
      assert.equal(aborted.selectors['demo-canary'], h1, 'the canary Service points at stable too');
      assert.equal(aborted.rollout.status.abort, true);
      assert.equal(aborted.rollout.status.desiredWeight, 0);
      assert.ok(aborted.rollout.status.abortedAt, 'abortedAt set');
      assert.match(aborted.rollout.status.abortMessage, /aborted/i);
      const progressing = aborted.rollout.status.conditions.find((c: { type: string }) => c.type === 'Progressing');
      assert.equal(progressing?.reason, 'RolloutAborted');

      const settledAbort = await s.waitFor('canary pods gone, stable 4 available', (v) => {
        assert.equal(v.rs[h2]?.current, 0);
        assert.equal(v.rs[h1]?.available, 4);
        assert.equal(v.rollout.status.actualWeight, 0);
      });
      assert.equal(settledAbort.rollout.status.stableRS, h1);
      await s.holds(
        'stays aborted',
        (v) => {
          assert.equal(v.rollout.status.phase, 'Degraded');
          assert.equal(v.rs[h2]?.spec, 0);
        },
        1500,
      );
      await s.waitEvent('RolloutAborted');

      await s.retry();
      const again = await s.waitFor('retried: paused at step 2/2 with 50% again', (v) => pausedAt(v, 1, h1, h2, 2, 2));
      assert.equal(again.rollout.status.retries, 1);
      assert.equal(again.rollout.status.abort, false);
      assert.equal(again.rollout.status.abortMessage, undefined);
      await s.promote();
      await s.waitFor('Healthy on v2', (v) => healthyOn(v, h2, 4));
      const events = await s.waitEvent('RolloutCompleted');
      assert.deepEqual(completedSteps(events), ['1/2', '1/2', '2/2'], 'step 1 ran once per attempt');
      assert.equal(events.filter((e) => e.reason === 'RolloutAborted').length, 1, 'one abort event');
      await s.settled();
    }));

  test("undo: spec.template set to an earlier ReplicaSet's template reuses that ReplicaSet", () =>
    withCanary('canary-undo', { replicas: 2, steps: [{ setWeight: 50 }, { pause: { duration: '1s' } }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const v2 = await s.waitFor('Healthy on v2', (v) =>
        healthyOn(v, v.rs[v.rollout.status.currentPodHash]?.image === 'example/app:v2' ? v.rollout.status.currentPodHash : undefined, 2),
      );
      const h2 = v2.rollout.status.stableRS as string;
      await s.setImage('example/app:v3');
      const v3 = await s.waitFor('Healthy on v3', (v) =>
        healthyOn(v, v.rs[v.rollout.status.currentPodHash]?.image === 'example/app:v3' ? v.rollout.status.currentPodHash : undefined, 2),
      );
      const h3 = v3.rollout.status.stableRS as string;
      assert.equal(new Set([h1, h2, h3]).size, 3);
      assert.deepEqual(
        v3.replicaSets.map((r) => r.revision),
        [1, 2, 3],
      );

      // undo to revision 1, as `kubectl sluice undo --to-revision=1` would: the template of that ReplicaSet
      const rs1 = v3.replicaSets.find((r) => r.revision === 1)!;
      await k.ok([
        'patch',
        'rollout',
        'demo',
        '-n',
        s.ns,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: '/spec/template', value: templateOf(rs1) }]),
      ]);
      const seen = await s.waitFor('the controller sees the undo', (v) => {
        assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation);
        assert.notEqual(v.rollout.status.currentPodHash, h3);
      });
      assert.equal(
        seen.rollout.status.currentPodHash,
        h1,
        `the desired revision is the first one (${h1}), not a new ReplicaSet: ${seen.replicaSets.map((r) => r.name).join(', ')}`,
      );
      const undone = await s.waitFor("Healthy on revision 1's template", (v) => healthyOn(v, h1, 2));
      assert.equal(undone.replicaSets.length, 3, 'no new ReplicaSet: the first one was reused');
      assert.equal(undone.rs[h1]?.revision, 4, 'the reused ReplicaSet becomes the newest revision');
      assert.equal(undone.rs[h3]?.spec, 0);
      const events = await s.waitEvent('RolloutCompleted', h1);
      assert.deepEqual(completedSteps(events), ['1/2', '2/2', '1/2', '2/2', '1/2', '2/2'], 'the undo went through the steps');
      await s.settled();
    }));

  test("undo mid-rollout to the stable ReplicaSet's template is a fast rollback", () =>
    withCanary('canary-undo-stable', { steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 75 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const p = await s.waitFor('v2 paused at step 2/4', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 2, 2));
      const h2 = p.rollout.status.currentPodHash as string;
      const before = (await s.events()).length;
      await k.ok([
        'patch',
        'rollout',
        'demo',
        '-n',
        s.ns,
        '--type=json',
        '-p',
        JSON.stringify([{ op: 'replace', path: '/spec/template', value: templateOf(p.rs[h1]!) }]),
      ]);
      const seen = await s.waitFor('the controller sees the undo', (v) => {
        assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation);
        assert.notEqual(v.rollout.status.currentPodHash, h2);
      });
      assert.equal(
        seen.rollout.status.currentPodHash,
        h1,
        `the desired revision is the stable one (${h1}), not a new ReplicaSet: ${seen.replicaSets.map((r) => r.name).join(', ')}`,
      );
      const back = await s.waitFor('Healthy on the stable revision again', (v) => healthyOn(v, h1, 4));
      assert.equal(back.replicaSets.length, 2, 'no new ReplicaSet');
      assert.equal(back.rs[h2]?.spec, 0);
      const events = (await s.waitEvent('RolledBack')).slice(before);
      assert.deepEqual(completedSteps(events), [], 'no step ran after the rollback');
      await s.settled();
    }));

  test('a new version pushed mid-rollout starts over from stable', () =>
    withCanary('canary-newver', { steps: [{ setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const p = await s.waitFor('v2 paused at step 2/2', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 2, 2));
      const h2 = p.rollout.status.currentPodHash as string;

      await s.setImage('example/app:v3');
      const p3 = await s.waitFor('v3 paused at step 2/2; v2 scaled down', (v) => {
        const h3 = v.rollout.status.currentPodHash;
        assert.ok(h3 !== h1 && h3 !== h2, `a third hash (${h3})`);
        pausedAt(v, 1, h1, h3, 2, 2);
        assert.equal(v.rs[h2]?.spec, 0);
        assert.equal(v.rs[h2]?.current, 0);
        assert.equal(v.rollout.status.stableRS, h1, 'stable is still v1');
      });
      const h3 = p3.rollout.status.currentPodHash as string;
      assert.equal(p3.rs[h3]?.image, 'example/app:v3');
      const evs = await s.waitEvent('RolloutUpdated', h3);
      assert.match(evs.find((e) => e.reason === 'RolloutUpdated' && e.message.includes(h3))!.message, new RegExp(`starting from the stable revision ${h1}`));
      assert.deepEqual(completedSteps(evs), ['1/2', '1/2'], 'the steps started over for v3');

      await s.promote();
      await s.waitFor('Healthy on v3', (v) => healthyOn(v, h3, 4));
      await s.settled();
    }));

  test('fast rollback: going back to the stable template skips the steps', () =>
    withCanary('canary-rollback', { steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 75 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const p = await s.waitFor('v2 paused at step 2/4', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 2, 2));
      const h2 = p.rollout.status.currentPodHash as string;
      const before = (await s.events()).length;

      await s.setImage('example/app:v1');
      const back = await s.waitFor('Healthy on v1 again', (v) => healthyOn(v, h1, 4));
      assert.equal(back.replicaSets.length, 2, 'no new ReplicaSet');
      assert.equal(back.rs[h2]?.spec, 0);
      assert.equal(back.rollout.status.pauseConditions, undefined);
      const events = (await s.waitEvent('RolledBack')).slice(before);
      assert.deepEqual(completedSteps(events), [], `no step ran after the rollback: ${events.map((e) => e.message).join(' | ')}`);
      assert.match(events.find((e) => e.reason === 'RolledBack')!.message, /fast rollback/);
      await s.settled();
    }));

  for (const abort of [false, true]) {
    test(`progress deadline exceeded with pods never Ready (progressDeadlineAbort: ${abort})`, () =>
      withCanary(
        `canary-deadline-${abort ? 'abort' : 'noabort'}`,
        { replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }], spec: { progressDeadlineSeconds: 5, ...(abort ? { progressDeadlineAbort: true } : {}) } },
        async (s, v1) => {
          const h1 = v1.rollout.status.stableRS as string;
          // A nodeSelector no Node matches: the new pods stay Pending, never Ready.
          await s.patchSpec({ template: { spec: { nodeSelector: NEVER_READY_NODE_SELECTOR } } });
          const pending = await s.waitFor('a canary pod Pending', (v) => {
            const h2 = v.rollout.status.currentPodHash;
            assert.notEqual(h2, h1);
            const pods = v.pods.filter((p) => p.metadata.labels?.['rollouts-pod-template-hash'] === h2);
            assert.equal(pods.length, 1);
            assert.equal(pods[0]!.status?.phase, 'Pending');
          });
          const h2 = pending.rollout.status.currentPodHash as string;
          const started = Date.now();
          const degraded = await s.waitFor(
            'Degraded: ProgressDeadlineExceeded',
            (v) => {
              assert.equal(v.rollout.status.phase, 'Degraded');
              const c = v.rollout.status.conditions.find((x: { type: string }) => x.type === 'Progressing');
              assert.equal(c?.reason, abort ? 'RolloutAborted' : 'ProgressDeadlineExceeded');
            },
            30_000,
          );
          assert.ok(Date.now() - started < 25_000, 'the deadline (5s) was noticed in time');
          assert.equal(degraded.selectors['demo-stable'], h1);
          assert.equal(degraded.rs[h1]?.available, 2, 'stable keeps serving');
          if (abort) {
            assert.equal(degraded.rollout.status.abort, true);
            assert.match(degraded.rollout.status.abortMessage, /progressDeadlineSeconds/);
            assert.equal(degraded.rs[h2]?.spec, 0, 'aborted: canary scaled to 0');
            assert.equal(degraded.rs[h1]?.spec, 2);
            assert.equal(degraded.selectors['demo-canary'], h1);
            await s.waitEvent('RolloutAborted');
          } else {
            assert.notEqual(degraded.rollout.status.abort, true, 'not aborted');
            assert.equal(degraded.rs[h2]?.spec, 1, 'the canary is left as it is');
            assert.match(degraded.rollout.status.message, /deadline/i);
          }
          await s.holds('stays Degraded', (v) => assert.equal(v.rollout.status.phase, 'Degraded'), 1500);
          const events = await s.waitEvent('ProgressDeadlineExceeded');
          assert.equal(events.filter((e) => e.reason === 'ProgressDeadlineExceeded').length, 1, 'one ProgressDeadlineExceeded event');

          // a fixed version (no impossible nodeSelector) rolls out normally
          await k.ok([
            'patch',
            'rollout',
            'demo',
            '-n',
            s.ns,
            '--type=json',
            '-p',
            JSON.stringify([
              { op: 'remove', path: '/spec/template/spec/nodeSelector' },
              { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'example/app:v3' },
            ]),
          ]);
          const fixed = await s.waitFor('v3 paused at step 2/2', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 1, 1));
          assert.equal(fixed.rs[h2]?.spec, 0, 'the stuck revision is scaled down');
          await s.promote();
          await s.waitFor('Healthy on v3', (v) => healthyOn(v, fixed.rollout.status.currentPodHash, 2));
        },
      ));
  }

  test('scale change during a rollout keeps the weight', () =>
    withCanary('canary-scale', { steps: [{ setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      const p = await s.waitFor('paused at 2 + 2', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 2, 2));
      const h2 = p.rollout.status.currentPodHash as string;

      await k.ok(['scale', 'rollout', 'demo', '-n', s.ns, '--replicas=6']); // the scale subresource
      const scaled = await s.waitFor('3 + 3 at 50%', (v) => {
        pausedAt(v, 1, h1, h2, 3, 3);
        assert.equal(v.rollout.status.actualWeight, 50);
      });
      assert.equal(scaled.rollout.spec.replicas, 6);

      await k.ok(['scale', 'rollout', 'demo', '-n', s.ns, '--replicas=2']);
      await s.waitFor('1 + 1 at 50%', (v) => pausedAt(v, 1, h1, h2, 1, 1));

      await s.promote();
      await s.waitFor('Healthy on v2 with 2 pods', (v) => healthyOn(v, h2, 2));
      await s.settled();
    }));

  test('restart: spec.restartAt recreates every pod, a few at a time', () =>
    withCanary('canary-restart', { steps: [{ setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      const oldPods = new Set(v1.pods.map((p) => p.metadata.name as string));
      assert.equal(oldPods.size, 4);
      // whole seconds, as creationTimestamp has; the next second, so every current pod is older
      const restartAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000).toISOString().replace('.000Z', 'Z');
      await s.patchSpec({ restartAt });
      let minAvailable = 4;
      const done = await s.waitFor(
        'every pod recreated',
        (v) => {
          minAvailable = Math.min(minAvailable, v.rs[h1]?.available ?? 0);
          assert.equal(v.rollout.status.restartedAt, restartAt);
          const names = v.pods.map((p) => p.metadata.name as string);
          assert.equal(names.filter((n) => oldPods.has(n)).length, 0, 'no pod from before restartAt is left');
          assert.equal(v.pods.filter(podReady).length, 4);
          healthyOn(v, h1, 4);
        },
        60_000,
      );
      for (const p of done.pods) assert.ok(Date.parse(p.metadata.creationTimestamp) >= Date.parse(restartAt));
      assert.equal(done.replicaSets.length, 1, 'a restart is not a new revision');
      assert.ok(minAvailable >= 3, `at most one pod at a time was missing (min available ${minAvailable})`);
      const events = await s.waitEvent('RolloutRestarted');
      assert.equal(events.filter((e) => e.reason === 'RolloutRestarted').length, 1);
      await s.settled();
    }));

  test('restart: pods are evicted, so a PodDisruptionBudget that allows no disruption holds the restart back until it does', () =>
    withCanary('canary-pdb-restart', { steps: [{ setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      const oldPods = new Set(v1.pods.map((p) => p.metadata.name as string));
      // minAvailable as a number: the disruption controller counts the pods it selects (with
      // maxUnavailable it must also resolve their controller's scale, which it did not do here)
      const budget = {
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'demo' },
        spec: { minAvailable: 4, selector: { matchLabels: { app: 'demo' } } },
      };
      await s.apply(manifest(budget));
      await waitFor(
        'the disruption controller counts 4 healthy pods and allows no disruption',
        async () => {
          const pdb = await s.k.json(['get', 'poddisruptionbudget', 'demo', '-n', s.ns]);
          assert.equal(pdb.status?.currentHealthy, 4);
          assert.equal(pdb.status?.disruptionsAllowed, 0);
          return pdb;
        },
        { timeoutMs: 30_000 },
      );
      const restartAt = new Date(Math.floor(Date.now() / 1000) * 1000 + 1000).toISOString().replace('.000Z', 'Z');
      await s.patchSpec({ restartAt });
      const refused = () =>
        readFileSync(ctl!.logFile, 'utf8')
          .split('\n')
          .some((l) => l.includes('Eviction refused for restart') && l.includes(`"namespace":"${s.ns}"`));
      await waitFor('the controller asked for an eviction and the API server refused it', () => refused(), { timeoutMs: 30_000 });
      await s.holds(
        'every pod from before restartAt stays while the budget refuses',
        (v) => {
          assert.equal(v.pods.filter((p) => oldPods.has(p.metadata.name as string) && !p.metadata.deletionTimestamp).length, 4);
          assert.equal(v.rollout.status.restartedAt, undefined);
        },
        3000,
      );
      // one disruption at a time now: the restart goes on (the controller asks again within 30 s)
      await s.k.ok(['patch', 'poddisruptionbudget', 'demo', '-n', s.ns, '--type=merge', '-p', '{"spec":{"minAvailable":3}}']);
      await s.waitFor(
        'every pod recreated',
        (v) => {
          assert.equal(v.rollout.status.restartedAt, restartAt);
          assert.equal(v.pods.filter((p) => oldPods.has(p.metadata.name as string)).length, 0);
          healthyOn(v, h1, 4);
        },
        120_000,
      );
      await s.settled();
    }));

  test('deleting a Rollout removes its ReplicaSets and unpins the Services', () =>
    withCanary('canary-delete', { steps: [{ setWeight: 50 }, { pause: {} }] }, async (s, v1) => {
      const h1 = v1.rollout.status.stableRS as string;
      await s.setImage('example/app:v2');
      await s.waitFor('paused mid-rollout', (v) => pausedAt(v, 1, h1, v.rollout.status.currentPodHash, 2, 2));
      await k.ok(['delete', 'rollout', 'demo', '-n', s.ns, '--wait=true', '--timeout=30s']);
      await waitFor('ReplicaSets and pods gone, Services unpinned', async () => {
        const list = await k.json<{ items: Array<{ kind: string; metadata: { name: string }; spec: { selector?: Record<string, string> } }> }>([
          'get',
          'replicasets,pods,services',
          '-n',
          s.ns,
        ]);
        assert.deepEqual(
          list.items.filter((o) => o.kind !== 'Service').map((o) => `${o.kind}/${o.metadata.name}`),
          [],
        );
        for (const svc of list.items.filter((o) => o.kind === 'Service')) {
          assert.deepEqual(svc.spec.selector, { app: 'demo' }, `${svc.metadata.name} selector`);
        }
        return true;
      });
    }));
});
