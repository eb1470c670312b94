// Argo Rollouts' blue-green e2e tests (test/e2e/bluegreen_test.go, functional_test.go; v1.10),
// ported: each Argo manifest from e2e/compat/ with only apiVersion changed, each Argo assertion
// checked on the real cluster. docs/compat.md lists what is ported and why the rest is not.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { HASH_LABEL, type View } from '../harness/rollouts.ts';
import { applyDocs, argoDocs, argoScenario, argoService, expectReplicaCounts, hashOfRevision, inNamespace, phaseIs, revisionPodCount } from './compat-argo.ts';

const env = attach();
let ctl: ControllerHandle | undefined;
const logs = () => [ctl!.logFile];

/** Argo's ExpectActiveRevision: status.activeSelector, the Service's selector and the revision's hash agree. */
function activeRevision(v: View, service: string, revision: number): void {
  const hash = hashOfRevision(v, revision);
  assert.ok(hash, `revision ${revision} exists`);
  assert.equal(v.rollout.status.activeSelector, hash, 'status.activeSelector');
  assert.equal(v.selectors[service], hash, `${service} selects revision ${revision}`);
}

describe('Argo Rollouts blue-green e2e, ported', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('TestBlueGreenUpdate: 3/3/3/3/3, then 3/6/3/3/3 at the switch and still at Healthy (old stack kept for scaleDownDelaySeconds)', () =>
    inNamespace(env, 'argo-bg-update', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'bluegreen');
      await applyDocs(s, argoDocs('functional/rollout-bluegreen.yaml'));
      await s.waitFor('Healthy 3/3/3/3/3', (v) => {
        phaseIs(v, 'Healthy');
        expectReplicaCounts(v, 3, 3, 3, 3, 3);
      });
      await s.updateSpec();
      const switched = await s.waitFor('active on revision 2', (v) => activeRevision(v, 'bluegreen', 2));
      assert.notEqual(switched.rollout.status.phase, undefined);
      await s.waitFor('Healthy with both stacks: 3/6/3/3/3', (v) => {
        phaseIs(v, 'Healthy');
        expectReplicaCounts(v, 3, 6, 3, 3, 3);
      });
      await s.waitFor('old stack scaled down after 10s', (v) => assert.equal(revisionPodCount(v, 1), 0), 40_000);
    }));

  test('TestBlueGreenPreviewReplicaCount: paused 2/3/1/2/2 with 1 preview pod, Healthy 2/4/2/2/2 after promotion', () =>
    inNamespace(env, 'argo-bg-preview', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'bluegreen-preview-replicas');
      await applyDocs(s, [
        argoService('bluegreen-preview-replicas-active', 'bluegreen-preview-replicas'),
        argoService('bluegreen-preview-replicas-preview', 'bluegreen-preview-replicas'),
        ...argoDocs('inline/bluegreen-TestBlueGreenPreviewReplicaCount.yaml'),
      ]);
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('Paused: 1 preview pod, 2 active; 2/3/1/2/2', (v) => {
        phaseIs(v, 'Paused');
        assert.equal(revisionPodCount(v, 2), 1);
        assert.equal(revisionPodCount(v, 1), 2);
        expectReplicaCounts(v, 2, 3, 1, 2, 2);
      });
      await s.promote();
      await s.waitFor('Healthy 2/4/2/2/2', (v) => {
        phaseIs(v, 'Healthy');
        expectReplicaCounts(v, 2, 4, 2, 2, 2);
      });
    }));

  test('TestBlueGreenPreviewReplicaCountPromoteFull: a pause longer than progressDeadlineSeconds is not Degraded; promote --full', () =>
    inNamespace(env, 'argo-bg-promote-full', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'bluegreen-preview-replicas-promote-full');
      await applyDocs(s, [
        argoService('bluegreen-preview-replicas-active', 'bluegreen-preview-replicas-promote-full'),
        ...argoDocs('inline/bluegreen-TestBlueGreenPreviewReplicaCountPromoteFull.yaml'),
      ]);
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitPhase('Paused');
      await s.holds('Paused for longer than progressDeadlineSeconds (1s)', (v) => phaseIs(v, 'Paused'), 2_000);
      expectReplicaCounts(await s.view(), 2, 3, 1, 2, 2);
      await s.promoteFull();
      await s.waitFor('Healthy 2/4/2/2/2', (v) => {
        phaseIs(v, 'Healthy');
        expectReplicaCounts(v, 2, 4, 2, 2, 2);
      });
    }));

  test('TestBlueGreenScaleDownDelay: scaleDownDelayRevisionLimit keeps only the newest old revisions up', () =>
    inNamespace(env, 'argo-bg-sdd', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'bluegreen-scaledowndelay');
      await applyDocs(s, [
        argoService('bluegreen-scaledowndelay-active', 'bluegreen-scaledowndelay'),
        ...argoDocs('inline/functional-TestBlueGreenScaleDownDelay.yaml'),
      ]);
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('Healthy on revision 2, revision 1 kept: 1/2/1/1/1', (v) => {
        phaseIs(v, 'Healthy');
        activeRevision(v, 'bluegreen-scaledowndelay-active', 2);
        assert.equal(revisionPodCount(v, 2), 1);
        assert.equal(revisionPodCount(v, 1), 1);
        expectReplicaCounts(v, 1, 2, 1, 1, 1);
      });
      await s.updateSpec();
      await s.waitFor('Healthy on revision 3', (v) => {
        phaseIs(v, 'Healthy');
        activeRevision(v, 'bluegreen-scaledowndelay-active', 3);
      });
      await s.updateSpec();
      await s.waitFor('Healthy on revision 4; 3 and 2 kept, 1 scaled down: 1/3/1/1/1', (v) => {
        phaseIs(v, 'Healthy');
        activeRevision(v, 'bluegreen-scaledowndelay-active', 4);
        assert.deepEqual(
          [1, 2, 3, 4].map((r) => revisionPodCount(v, r)),
          [0, 1, 1, 1],
        );
        expectReplicaCounts(v, 1, 3, 1, 1, 1);
      });
      await s.patchSpec({ strategy: { blueGreen: { scaleDownDelayRevisionLimit: 1 } } });
      await s.waitFor('limit 1: revision 2 scaled down: 1/2/1/1/1', (v) => {
        assert.deepEqual(
          [1, 2, 3, 4].map((r) => revisionPodCount(v, r)),
          [0, 0, 1, 1],
        );
        expectReplicaCounts(v, 1, 2, 1, 1, 1);
      });
    }));

  test('TestBlueGreenScaleDownOnAbort: the aborted preview is scaled down after abortScaleDownDelaySeconds (1s)', () =>
    inNamespace(env, 'argo-bg-abort', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'bluegreen-scaledown-on-abort');
      await applyDocs(s, [
        argoService('bluegreen-preview-replicas-active', 'bluegreen-preview-replicas'),
        argoService('bluegreen-preview-replicas-preview', 'bluegreen-preview-replicas'),
        ...argoDocs('inline/functional-TestBlueGreenScaleDownOnAbort.yaml'),
      ]);
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('Paused: 1 preview pod, 2 active', (v) => {
        phaseIs(v, 'Paused');
        assert.equal(revisionPodCount(v, 2), 1);
        assert.equal(revisionPodCount(v, 1), 2);
      });
      await s.abort();
      await s.waitPhase('Degraded');
      await s.waitFor('revision 2 has no pods (within the 3s Argo allows)', (v) => assert.equal(revisionPodCount(v, 2), 0), 3_000);
    }));

  test('TestEphemeralMetadata (blue-green): preview/active role labels follow the switch', () =>
    inNamespace(env, 'argo-ephemeral-bg', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'ephemeral-metadata-bg');
      await applyDocs(s, argoDocs('inline/bluegreen-TestEphemeralMetadata.yaml'));
      const all = (v: View, revision: number, labels: Record<string, string | undefined>) => {
        const ps = v.pods.filter((p) => p.metadata.labels?.[HASH_LABEL] === hashOfRevision(v, revision) && !p.metadata.deletionTimestamp);
        assert.ok(ps.length > 0, `revision ${revision} has pods`);
        for (const p of ps) for (const [k, val] of Object.entries(labels)) assert.equal(p.metadata.labels?.[k], val, `${p.metadata.name} ${k}`);
      };
      await s.waitFor('pods with active metadata', (v) => all(v, 1, { role: 'active' }));
      await s.waitPhase('Healthy');
      await s.updateSpec();
      await s.waitFor('paused: revision 2 preview, revision 1 active', (v) => {
        phaseIs(v, 'Paused');
        all(v, 2, { role: 'preview' });
        all(v, 1, { role: 'active' });
      });
      await s.patchSpec({ strategy: { blueGreen: { previewMetadata: { labels: { role: null, role2: 'preview2' } } } } });
      await s.waitFor('revision 2 carries preview metadata 2', (v) => all(v, 2, { role: undefined, role2: 'preview2' }));
      await s.promote();
      await s.waitFor('Healthy: revision 2 active', (v) => {
        phaseIs(v, 'Healthy');
        all(v, 2, { role: 'active', role2: undefined });
      });
      await s.patchSpec({ strategy: { blueGreen: { activeMetadata: { labels: { role: null, role2: 'active2' } } } } });
      await s.waitFor('revision 2 carries active metadata 2', (v) => all(v, 2, { role: undefined, role2: 'active2' }));
    }));

  test('TestKubectlWaitForPaused: kubectl wait --for=condition=Paused, then Paused=False after promotion', () =>
    inNamespace(env, 'argo-bg-wait', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'kubectl-wait-paused');
      await applyDocs(s, argoDocs('inline/functional-TestKubectlWaitForPaused.yaml'));
      await s.waitPhase('Healthy');
      await s.updateSpec();
      const wait = (cond: string) => s.k.ok(['wait', `--for=condition=${cond}`, 'rollouts.sluice.dev/kubectl-wait-paused', '-n', ns, '--timeout=60s']);
      assert.match(await wait('Paused'), /condition met/);
      await s.waitFor('Paused, active on revision 1', (v) => {
        phaseIs(v, 'Paused');
        activeRevision(v, 'kubectl-wait-paused', 1);
      });
      await s.promote();
      assert.match(await wait('Paused=False'), /condition met/);
      assert.match(await wait('Healthy=True'), /condition met/);
      await s.waitFor('Healthy on revision 2', (v) => {
        phaseIs(v, 'Healthy');
        activeRevision(v, 'kubectl-wait-paused', 2);
      });
    }));
});
