// Argo Rollouts' canary e2e tests (test/e2e/canary_test.go, functional_test.go; v1.10), ported:
// each Argo manifest from e2e/compat/ with only apiVersion changed, each Argo assertion checked on
// the real cluster. docs/compat.md lists what is ported and why the rest is not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { HASH_LABEL, type View } from '../harness/rollouts.ts';
import {
  applyDocs,
  argoDocs,
  argoScenario,
  expectCanaryStable,
  expectReplicaCounts,
  inNamespace,
  phaseIs,
  revisionPodCount,
  rolloutOf,
} from './compat-argo.ts';

const env = attach();
let ctl: ControllerHandle | undefined;
const logs = () => [ctl!.logFile];

describe('Argo Rollouts canary e2e, ported', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('TestRolloutScalingWhenPaused: 1+1 pods for 25% of 1, then 2+6 of 8 and 1+3 of 4 while paused', () =>
    inNamespace(env, 'argo-scaling-paused', logs(), async (ns) => {
      const docs = argoDocs('functional/rollout-basic.yaml');
      rolloutOf(docs).spec.strategy.canary.steps = [{ setWeight: 25 }, { pause: {} }]; // Argo's SetSteps
      const s = argoScenario(env, ns, 'basic');
      await applyDocs(s, docs);
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('Paused with 1 canary and 1 stable pod', (v) => {
        phaseIs(v, 'Paused');
        expectCanaryStable(v, 1, 1);
      });
      await s.scale(8);
      await s.waitFor('8 available: 2 canary + 6 stable', (v) => {
        assert.equal(v.rollout.status.availableReplicas, 8);
        expectCanaryStable(v, 2, 6);
      });
      await s.scale(4);
      await s.waitFor('4 available: 1 canary + 3 stable', (v) => {
        assert.equal(v.rollout.status.availableReplicas, 4);
        expectCanaryStable(v, 1, 3);
      });
    }));

  test('TestRolloutAbortRetryPromote: 50% of 1 replica is 1+1 pods; abort, retry, promote after the 3s pause', () =>
    inNamespace(env, 'argo-abort-retry', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'abort-retry-promote');
      await applyDocs(s, argoDocs('inline/functional-TestRolloutAbortRetryPromote.yaml'));
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('Paused, revision 1 and 2 with one pod each', (v) => {
        phaseIs(v, 'Paused');
        assert.equal(revisionPodCount(v, 1), 1);
        assert.equal(revisionPodCount(v, 2), 1);
      });
      await s.abort();
      await s.waitPhase('Degraded');
      await s.retry();
      await s.waitFor('Paused again after retry, one pod each', (v) => {
        phaseIs(v, 'Paused');
        assert.equal(revisionPodCount(v, 1), 1);
        assert.equal(revisionPodCount(v, 2), 1);
      });
      await s.waitFor('Healthy on revision 2 after the pause', (v) => {
        phaseIs(v, 'Healthy');
        assert.equal(revisionPodCount(v, 1), 0);
        assert.equal(revisionPodCount(v, 2), 1);
      });
      const reasons = (await s.events()).map((e) => e.reason);
      for (const r of ['RolloutUpdated', 'StepCompleted', 'RolloutPaused', 'RolloutAborted', 'RolloutCompleted'])
        assert.ok(reasons.includes(r), `event ${r} in ${reasons}`);
    }));

  test('TestCanaryScaleDownOnAbortNoTrafficRouting: abort points the canary Service at stable and removes the canary pods', () =>
    inNamespace(env, 'argo-abort-notr', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'canary-scaledownd-on-abort');
      // The file's Ingress is for a load balancer that is not there; it is applied all the same.
      await applyDocs(s, argoDocs('functional/canary-scaledownonabortnotrafficrouting.yaml'));
      const v1 = await s.waitPhase('Healthy');
      const stableHash = v1.rollout.status.stableRS;
      await s.updateSpec();
      await s.waitPhase('Paused');
      await s.abort();
      await s.waitFor('Degraded, canary Service on stable, no revision 2 pods', (v) => {
        phaseIs(v, 'Degraded');
        assert.equal(v.selectors['canary-scaledowndelay-canary'], stableHash);
        assert.equal(revisionPodCount(v, 2), 0);
      });
    }));

  test('TestCanaryWithPausedRollout: a new revision while paused starts over from stable (3 stable, 0 of revision 2, 1 of revision 3)', () =>
    inNamespace(env, 'argo-paused-update', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'rollout-canary-with-pause');
      await applyDocs(s, argoDocs('functional/rollout-canary-with-pause.yaml'));
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitPhase('Paused');
      await s.updateSpec();
      await s.waitFor('Paused on revision 3', (v) => {
        phaseIs(v, 'Paused');
        assert.equal(revisionPodCount(v, 1), 3);
        assert.equal(revisionPodCount(v, 2), 0);
        assert.equal(revisionPodCount(v, 3), 1);
      });
    }));

  test('TestEphemeralMetadata (canary): role labels follow canary/stable, and spec changes replace the old ones', () =>
    inNamespace(env, 'argo-ephemeral-canary', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'ephemeral-metadata-canary');
      await applyDocs(s, argoDocs('inline/canary-TestEphemeralMetadata.yaml'));
      const pods = (v: View, revision: number) =>
        v.pods.filter((p) => p.metadata.labels?.[HASH_LABEL] === v.replicaSets.find((r) => r.revision === revision)?.hash);
      const all = (v: View, revision: number, labels: Record<string, string | undefined>) => {
        const ps = pods(v, revision);
        assert.ok(ps.length > 0, `revision ${revision} has pods`);
        for (const p of ps) for (const [k, val] of Object.entries(labels)) assert.equal(p.metadata.labels?.[k], val, `${p.metadata.name} ${k}`);
      };
      await s.waitFor('2 pods with stable metadata', (v) => {
        assert.equal(v.rollout.status.replicas, 2);
        all(v, 1, { role: 'stable' });
      });
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('paused: revision 2 canary, revision 1 stable', (v) => {
        phaseIs(v, 'Paused');
        all(v, 2, { role: 'canary' });
        all(v, 1, { role: 'stable' });
      });
      await s.patchSpec({ strategy: { canary: { canaryMetadata: { labels: { role: null, role2: 'canary2' } } } } });
      await s.waitFor('revision 2 carries canary metadata 2', (v) => all(v, 2, { role: undefined, role2: 'canary2' }));
      await s.promote();
      await s.waitFor('Healthy: revision 2 has stable metadata', (v) => {
        phaseIs(v, 'Healthy');
        all(v, 2, { role: 'stable', role2: undefined });
      });
      await s.patchSpec({ strategy: { canary: { stableMetadata: { labels: { role: null, role2: 'stable2' } } } } });
      await s.waitFor('revision 2 carries stable metadata 2', (v) => all(v, 2, { role: undefined, role2: 'stable2' }));
    }));

  test('TestSpecAndReplicaChangeSameTime: replicas and template changed together, twice; ends Healthy with 4/4/4/4/4', () =>
    inNamespace(env, 'argo-same-time', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'canary-change-same-time');
      await applyDocs(s, argoDocs('inline/functional-TestSpecAndReplicaChangeSameTime.yaml'));
      await s.waitPhase('Healthy');
      // Argo's PatchSpec is a client-side strategic merge (containers merged by name): a JSON patch of container 0 does the same.
      const change = (replicas: number, value: string) =>
        s.k.ok([
          'patch',
          'rollout',
          s.name,
          '-n',
          ns,
          '--type=json',
          '-p',
          JSON.stringify([
            { op: 'replace', path: '/spec/replicas', value: replicas },
            { op: 'add', path: '/spec/template/spec/containers/0/env', value: [{ name: 'TEST', value }] },
          ]),
        ]);
      await change(3, 'test');
      await s.waitPhase('Paused');
      await change(4, 'test-new');
      await s.waitFor(
        'Healthy with 4 of everything',
        (v) => {
          phaseIs(v, 'Healthy');
          expectReplicaCounts(v, 4, 4, 4, 4, 4);
        },
        120_000,
      );
    }));

  for (const [file, name] of [
    ['functional/canary-dynamic-stable-scale.yaml', 'dynamic-stable-scale'],
    ['functional/canary-scaledowndelay.yaml', 'canary-scaledowndelay'],
    ['functional/canary-unscaledownonabort.yaml', 'canary-scaledownd-on-abort'],
  ] as const) {
    test(`${file}: trafficRouting is accepted by the API server and refused by a condition naming it (never replica weights instead)`, () =>
      inNamespace(env, 'argo-trafficrouting', logs(), async (ns) => {
        const s = argoScenario(env, ns, name);
        await applyDocs(s, argoDocs(file));
        const v = await s.waitFor('InvalidSpec naming trafficRouting', (v) => {
          phaseIs(v, 'Degraded');
          const c = (v.rollout.status.conditions ?? []).find((c: { type: string }) => c.type === 'InvalidSpec');
          assert.equal(c?.status, 'True');
          assert.match(c.message, /spec\.strategy\.canary\.trafficRouting \(alb\) is not supported/);
        });
        assert.equal(v.replicaSets.length, 0, 'nothing is rolled out with a different traffic model');
      }));
  }
});
