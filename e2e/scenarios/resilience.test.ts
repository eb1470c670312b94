// The controller's state lives in the Rollout's status, not in the process: a controller
// killed with SIGKILL mid-rollout and started again carries on without repeating or skipping
// a step, and a kube-apiserver restart mid-rollout is only a pause in the conversation
// (watches come back, the rollout completes, later changes are still seen).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { log } from '../harness/proc.ts';
import { assertHealthyOn, canaryRollout, canaryServices, completedSteps, manifest, scenario, type Scenario } from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;

const STEPS = [
  { setWeight: 20 },
  { pause: { duration: '2s' } },
  { setWeight: 40 },
  { pause: { duration: '2s' } },
  { setWeight: 60 },
  { pause: { duration: '2s' } },
  { setWeight: 80 },
  { pause: { duration: '2s' } },
];
const ALL_STEPS = STEPS.map((_, i) => `${i + 1}/${STEPS.length}`);

async function withRollout(prefix: string, fn: (s: Scenario, h1: string) => Promise<void>): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 5, steps: STEPS })));
      const v1 = await s.waitFor('first revision Healthy', (v) => {
        assert.equal(v.rollout.status.phase, 'Healthy');
        assert.equal(v.rs[v.rollout.status.stableRS]?.available, 5);
      });
      await fn(s, v1.rollout.status.stableRS as string);
    });
  } finally {
    if (ctl && !ctl.isRunning()) await ctl.restart();
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

/** Every step completed exactly once, in order, and the rollout completed once. */
async function stepsExactlyOnce(s: Scenario, hash: string): Promise<void> {
  const events = await s.waitEvent('RolloutCompleted', hash);
  assert.deepEqual(completedSteps(events), ALL_STEPS, `events: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
  assert.equal(events.filter((e) => e.reason === 'RolloutCompleted' && e.message.includes(hash)).length, 1);
}

describe('resilience', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('controller killed with SIGKILL mid-rollout resumes without repeating or skipping a step', () =>
    withRollout('resilience-kill', async (s, h1) => {
      const c = ctl!;
      await s.setImage('example/app:v2');

      // 1. killed during a timed pause, and kept down past its end
      const p = await s.waitFor('in the first pause', (v) => {
        assert.equal(v.rollout.status.currentStepIndex, 1);
        assert.equal(v.rollout.status.phase, 'Paused');
      });
      const h2 = p.rollout.status.currentPodHash as string;
      await c.kill();
      log('resilience', `controller killed in the pause at step 2/${STEPS.length}`);
      const pauseEnd = Date.parse(p.rollout.status.pauseConditions[0].startTime) + 2000;
      // nothing moves while the controller is down (the pause ends meanwhile)
      await s.holds(
        'no progress while the controller is down',
        (v) => assert.equal(v.rollout.status.currentStepIndex, 1),
        Math.max(1000, pauseEnd + 500 - Date.now()),
      );
      await c.restart();
      log('resilience', 'controller restarted');

      // 2. killed as soon as a setWeight step is entered (scaling in flight), back at once
      await s.waitFor('at step 5/8 (setWeight 60)', (v) => assert.ok(v.rollout.status.currentStepIndex >= 4), 20_000);
      await c.kill();
      log('resilience', 'controller killed around step 5/8');
      await c.restart();

      // 3. killed when the last pause is entered
      await s.waitFor('in the last pause', (v) => assert.ok(v.rollout.status.currentStepIndex >= 7), 20_000);
      await c.kill();
      log('resilience', 'controller killed around step 8/8');
      await c.restart();

      await s.waitFor('Healthy on v2', (v) => assertHealthyOn(v, h2, 5), 30_000);
      const done = await s.view();
      assert.equal(done.replicaSets.length, 2, 'no ReplicaSet created twice');
      assert.equal(done.rs[h1]?.spec, 0);
      await stepsExactlyOnce(s, h2);
      await s.settled();
    }));

  test('kube-apiserver restarted mid-rollout: the rollout completes and later changes are still seen', async (t) => {
    if (env.descriptor.external) {
      t.skip('restartApiserver is not available for an external cluster (E2E_KUBECONFIG)');
      return;
    }
    await withRollout('resilience-apiserver', async (s, h1) => {
      await s.setImage('example/app:v2');
      const p = await s.waitFor('in the first pause', (v) => {
        assert.equal(v.rollout.status.currentStepIndex, 1);
        assert.equal(v.rollout.status.phase, 'Paused');
      });
      const h2 = p.rollout.status.currentPodHash as string;
      const t0 = Date.now();
      await env.restartApiserver();
      log('resilience', `kube-apiserver restarted in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      assert.ok(ctl!.isRunning(), `the controller survived the apiserver restart; log tail:\n${ctl!.logTail(30)}`);

      await s.waitFor('Healthy on v2', (v) => assertHealthyOn(v, h2, 5), 60_000);
      await stepsExactlyOnce(s, h2);
      assert.ok(ctl!.isRunning(), 'the controller is still running');

      // the watches came back: a new image is noticed and rolled out
      await s.setImage('example/app:v3');
      const v3 = await s.waitFor(
        'v3 noticed (watch re-established)',
        (v) => {
          assert.notEqual(v.rollout.status.currentPodHash, h2);
          assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation);
        },
        15_000,
      );
      const h3 = v3.rollout.status.currentPodHash as string;
      await s.waitFor('Healthy on v3', (v) => assertHealthyOn(v, h3, 5), 60_000);
      assert.notEqual(h3, h1);
      await s.settled();
    });
  });
});
