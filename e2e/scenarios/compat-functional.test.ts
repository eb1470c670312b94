// Argo Rollouts' functional e2e tests that are neither canary steps nor blue-green switches
// (test/e2e/functional_test.go, v1.10): malformed templates, resource formats, workloadRef.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { applyDocs, argoDocs, argoScenario, argoService, expectReplicaCounts, inNamespace, phaseIs } from './compat-argo.ts';

const env = attach();
let ctl: ControllerHandle | undefined;
const logs = () => [ctl!.logFile];

const deploymentReplicas = async (ns: string, name: string): Promise<number> =>
  ((await env.kubectl.json(['get', 'deployment', name, '-n', ns])) as { spec: { replicas: number } }).spec.replicas;

describe('Argo Rollouts functional e2e, ported', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  // Argo drops the field it cannot decode and goes Healthy (a known complaint: argoproj/argo-rollouts
  // #389, #800, #2804); Sluice says what the API server says instead.
  for (const [file, name] of [
    ['expectedfailures/malformed-rollout.yaml', 'malformed-rollout'],
    ['expectedfailures/malformed-rollout-ephemeral.yaml', 'malformed-rollout-ephemeral'],
  ] as const) {
    test(`TestMalformedRollout (${file}): InvalidSpec quoting the API server, nothing created (Argo: Healthy, the field dropped)`, () =>
      inNamespace(env, 'argo-malformed', logs(), async (ns) => {
        const s = argoScenario(env, ns, name);
        await applyDocs(s, argoDocs(file));
        const v = await s.waitFor('InvalidSpec quoting the API server', (v) => {
          phaseIs(v, 'Degraded');
          const c = (v.rollout.status.conditions ?? []).find((c: { type: string }) => c.type === 'InvalidSpec');
          assert.equal(c?.status, 'True');
          assert.match(c.message, /the API server rejects spec\.template: .*(quantit|invalid)/i);
        });
        assert.equal(v.replicaSets.length, 0);
      }));
  }

  test('TestBlueGreenToCanary: switched to canary, Paused at 50% with 2+1 pods, and the old active Service no longer pinned', () =>
    inNamespace(env, 'argo-bg-to-canary', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'bluegreen-to-canary');
      await applyDocs(s, [argoService('bluegreen-to-canary', 'bluegreen-to-canary'), ...argoDocs('inline/functional-TestBlueGreenToCanary.yaml')]);
      const v1 = await s.waitPhase('Healthy');
      assert.equal(v1.selectors['bluegreen-to-canary'], v1.rollout.status.stableRS, 'blue-green pins its active Service');
      const patch = {
        spec: {
          template: { metadata: { annotations: { foo: 'bar' } } },
          strategy: { blueGreen: null, canary: { steps: [{ setWeight: 50 }, { pause: {} }] } },
        },
      };
      await s.k.ok(['patch', 'rollouts.sluice.dev', 'bluegreen-to-canary', '-n', ns, '--type=merge', '-p', JSON.stringify(patch)]);
      await s.waitFor('Paused, 2 available, the Service selecting by its own labels again', (v) => {
        phaseIs(v, 'Paused');
        expectReplicaCounts(v, 2, 2, 1, 2, 2);
        assert.equal(v.selectors['bluegreen-to-canary'], '', 'no pod-template hash in the selector');
      });
      const svc = await s.k.json(['get', 'service', 'bluegreen-to-canary', '-n', ns]);
      assert.deepEqual(svc.spec.selector, { app: 'bluegreen-to-canary' });
    }));

  test('TestContainerResourceFormats: cpu 0.001, "0.001" and 1m are all accepted and kept as 1m', () =>
    inNamespace(env, 'argo-resource-formats', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'container-resource-formats');
      await applyDocs(s, argoDocs('inline/functional-TestContainerResourceFormats.yaml'));
      const v = await s.waitPhase('Healthy');
      const pod = v.pods[0]!;
      for (const c of pod.spec.containers) assert.equal(c.resources.requests.cpu, '1m');
    }));

  test('TestRolloutPodVolumesItemsSpec: a volume with items applies and goes Healthy', () =>
    inNamespace(env, 'argo-volume-items', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'rollout-items');
      await applyDocs(s, argoDocs('inline/functional-TestRolloutPodVolumesItemsSpec.yaml'));
      await s.waitPhase('Healthy');
    }));

  test('TestWorkloadRefTemplate: workloadRef and a template together is Degraded, the template must be empty', () =>
    inNamespace(env, 'argo-wlref-template', logs(), async (ns) => {
      const s = argoScenario(env, ns, 'rollout-ref-deployment');
      await applyDocs(s, [
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'rollout-bluegreen-active' },
          spec: { selector: { app: 'rollout-ref-deployment' }, ports: [{ port: 80 }] },
        },
        ...argoDocs('inline/functional-TestWorkloadRefTemplate.yaml'),
      ]);
      await s.waitFor('Degraded: template must be empty', (v) => {
        phaseIs(v, 'Degraded');
        assert.match(v.rollout.status.message, /spec\.template: must be empty when spec\.workloadRef is set/);
      });
    }));

  for (const [testName, mode, expected] of [
    ['TestScaleDownOnSuccess', 'onsuccess', 0],
    ['TestScaleDownProgressively', 'progressively', 0],
    ['TestNeverScaleDown', 'never', 2],
  ] as const) {
    test(`${testName}: workloadRef with scaleDown ${mode}: Healthy, the Deployment at ${expected} replicas`, () =>
      inNamespace(env, `argo-wlref-${mode}`, logs(), async (ns) => {
        const s = argoScenario(env, ns, 'rollout-ref-deployment');
        await applyDocs(s, argoDocs(`inline/functional-${testName}.yaml`));
        await s.waitFor('Healthy from the Deployment template', (v) => {
          phaseIs(v, 'Healthy');
          assert.equal(v.replicaSets[0]?.template.spec.containers[0].image, 'argoproj/rollouts-demo:green');
        });
        const replicas = await (async () => {
          for (let i = 0; i < 40; i++) {
            const r = await deploymentReplicas(ns, 'rollout-ref-deployment');
            if (r === expected) return r;
            await new Promise((res) => setTimeout(res, 250));
          }
          return deploymentReplicas(ns, 'rollout-ref-deployment');
        })();
        assert.equal(replicas, expected);
      }));
  }

  test('TestWorkloadRef: Degraded until the Deployment exists; a Deployment change is a new revision', () =>
    inNamespace(env, 'argo-wlref', logs(), async (ns) => {
      const [svc, ro, dep] = argoDocs('inline/functional-TestWorkloadRef.yaml');
      const s = argoScenario(env, ns, 'rollout-ref-deployment');
      await applyDocs(s, [svc!, ro!]);
      await s.waitFor('Degraded: Deployment not found', (v) => {
        phaseIs(v, 'Degraded');
        assert.match(v.rollout.status.message, /Deployment "rollout-ref-deployment" not found/);
      });
      await applyDocs(s, [dep!]);
      await s.waitFor('Healthy, active Service pinned', (v) => {
        phaseIs(v, 'Healthy');
        assert.equal(v.rollout.status.workloadObservedGeneration, '1');
        assert.ok(v.selectors['rollout-bluegreen-active']);
      });
      await env.kubectl.ok(['set', 'image', 'deployment/rollout-ref-deployment', 'rollouts-demo=argoproj/rollouts-demo:blue', '-n', ns]);
      await s.waitFor(
        "Healthy on the Deployment's new template",
        (v) => {
          phaseIs(v, 'Healthy');
          assert.equal(v.rollout.status.workloadObservedGeneration, '2');
          const active = v.rs[v.rollout.status.stableRS];
          assert.equal(active?.image, 'argoproj/rollouts-demo:blue');
        },
        60_000,
      );
      const r = await env.kubectl.json(['get', 'rollouts.sluice.dev', 'rollout-ref-deployment', '-n', ns]);
      assert.equal(r.spec.template, undefined, 'the resolved template is not written back');
      expectReplicaCounts(await s.view(), 1, 2, 1, 1, 1);
    }));
});
