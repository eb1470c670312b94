// Nothing gets stuck, on the real API server: a namespace holding a Rollout deletes completely
// (a terminating namespace refuses creates, even dry runs, and the finalizer must still come off);
// a Rollout deleted while the controller is down is cleaned up when it starts; a status the API
// server refuses as invalid (422) becomes a condition and a slow retry, never a hot loop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { canaryRollout, canaryServices, HASH_LABEL, manifest, scenario } from '../harness/rollouts.ts';
import { waitFor } from '../harness/wait.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;

const namespaceGone = async (ns: string) => (await k.run(['get', 'namespace', ns, '-o', 'name'])).code !== 0;
const rolloutGone = async (ns: string) => (await k.run(['get', 'rollout', 'demo', '-n', ns, '-o', 'name'])).code !== 0;

describe('hardening: nothing gets stuck', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('deleting a namespace that holds a Rollout mid-rollout completes', async () => {
    const ns = await k.createNamespace('ns-delete');
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] })));
      await s.waitFor('Healthy at v1', (v) => assert.equal(v.rollout.status.phase, 'Healthy'));
      await s.setImage('example/app:v2');
      await s.waitFor('paused at 50%', (v) => assert.equal(v.rollout.status.phase, 'Paused'));
      // The controller restarts as the namespace goes, so it has nothing remembered about the template.
      await ctl!.stop();
      await k.deleteNamespace(ns);
      await ctl!.restart();
      // What the controller owes: its finalizer off, so the Rollout goes (the rest is the namespace
      // controller's, which retries with its own backoff: minutes on a busy machine).
      await waitFor('the Rollout is gone', () => rolloutGone(ns), { timeoutMs: 60_000 });
      await waitFor(`namespace ${ns} deleted`, () => namespaceGone(ns), { timeoutMs: 240_000, intervalMs: 1_000 });
    });
  });

  test('a Rollout deleted while the controller is down is cleaned up when it starts', async () => {
    const ns = await k.createNamespace('down-delete');
    try {
      await env.withDiagnostics(ns, [ctl!.logFile], async () => {
        const s = scenario(env, ns);
        await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }] })));
        await s.waitFor('Healthy, Services pinned', (v) => {
          assert.equal(v.rollout.status.phase, 'Healthy');
          assert.equal(v.selectors['demo-stable'], v.rollout.status.stableRS);
        });
        await ctl!.stop();
        await k.ok(['delete', 'rollout', 'demo', '-n', ns, '--wait=false']);
        const held = await k.json<{ metadata: { deletionTimestamp?: string; finalizers?: string[] } }>(['get', 'rollout', 'demo', '-n', ns]);
        assert.ok(held.metadata.deletionTimestamp && held.metadata.finalizers?.length, 'held by its finalizer while no controller runs');
        await ctl!.restart();
        await waitFor('the Rollout is gone', () => rolloutGone(ns), { timeoutMs: 30_000 });
        const svc = await k.json<{ spec: { selector: Record<string, string> } }>(['get', 'service', 'demo-stable', '-n', ns]);
        assert.equal(svc.spec.selector[HASH_LABEL], undefined, 'the stable Service was unpinned');
      });
    } finally {
      await k.deleteNamespace(ns);
    }
  });

  test('a status the API server refuses (422) is a StatusWriteRejected condition and a slow retry, not a hot loop', async () => {
    const ns = await k.createNamespace('status-422');
    const policy = `sluice-e2e-refuse-degraded-${ns}`;
    try {
      await env.withDiagnostics(ns, [ctl!.logFile], async () => {
        const s = scenario(env, ns);
        await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] })));
        await s.waitFor('Healthy at v1', (v) => assert.equal(v.rollout.status.phase, 'Healthy'));
        // An admission policy that refuses every Rollout status with phase Degraded in this namespace:
        // the status the controller computes after an abort can then never be written.
        await k.apply(
          manifest(
            {
              apiVersion: 'admissionregistration.k8s.io/v1',
              kind: 'ValidatingAdmissionPolicy',
              metadata: { name: policy },
              spec: {
                failurePolicy: 'Fail',
                matchConstraints: {
                  resourceRules: [{ apiGroups: ['sluice.dev'], apiVersions: ['*'], operations: ['UPDATE'], resources: ['rollouts/status'] }],
                },
                validations: [
                  { expression: "!has(object.status) || !has(object.status.phase) || object.status.phase != 'Degraded'", message: 'e2e: no Degraded here' },
                ],
              },
            },
            {
              apiVersion: 'admissionregistration.k8s.io/v1',
              kind: 'ValidatingAdmissionPolicyBinding',
              metadata: { name: policy },
              spec: {
                policyName: policy,
                validationActions: ['Deny'],
                matchResources: { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } },
              },
            },
          ),
        );
        await s.setImage('example/app:v2');
        await s.waitFor('paused at 50%', (v) => assert.equal(v.rollout.status.phase, 'Paused'));
        // The policy takes effect asynchronously; wait until it refuses a Degraded status.
        // A dry-run write of a Degraded status: what the policy refuses while it is in force.
        const tryDegraded = () =>
          k.run(['patch', 'rollout', 'demo', '-n', ns, '--subresource=status', '--type=merge', '-p', '{"status":{"phase":"Degraded"}}', '--dry-run=server']);
        await waitFor(
          'the admission policy is in force',
          async () => {
            const r = await tryDegraded();
            return r.code !== 0 && /e2e: no Degraded here/.test(r.stderr);
          },
          { timeoutMs: 30_000 },
        );
        const terminal = async () =>
          Number(/sluice_controller_reconcile_total\{controller="rollout",result="terminal"\} (\d+)/.exec(await ctl!.metrics())?.[1] ?? 0);
        const before = await terminal();
        await s.abort();
        const rejected = await s.waitFor('the refusal is reported as a condition', (v) => {
          const c = (v.rollout.status.conditions ?? []).find((x: { type: string }) => x.type === 'StatusWriteRejected');
          assert.equal(c?.status, 'True');
          assert.match(c?.message ?? '', /e2e: no Degraded here/);
        });
        assert.notEqual(rejected.rollout.status.phase, 'Degraded', 'nothing of the refused status was written');
        // Slow retry: over 20 seconds the controller gives up on this Rollout at most a few times (a
        // hot loop would be hundreds). The wait is the measurement window itself, not synchronisation.
        await s.holds('no hot loop', () => {}, 20_000);
        const refusals = (await terminal()) - before;
        assert.ok(refusals >= 1 && refusals <= 5, `the controller gave up ${refusals} times in 20 s`);
        // Once the policy goes, the next (slow) retry or any change writes the abort.
        await k.run(['delete', 'validatingadmissionpolicybinding', policy]);
        // Its removal takes effect asynchronously too: wait until a Degraded status is accepted.
        await waitFor('the admission policy is gone', async () => (await tryDegraded()).code === 0, { timeoutMs: 30_000 });
        await s.patchSpec({ minReadySeconds: 1 });
        await s.waitFor('Degraded once allowed, the condition gone', (v) => {
          assert.equal(v.rollout.status.phase, 'Degraded');
          assert.equal(
            (v.rollout.status.conditions ?? []).find((x: { type: string }) => x.type === 'StatusWriteRejected'),
            undefined,
          );
        });
      });
    } finally {
      await k.run(['delete', 'validatingadmissionpolicybinding', policy, '--ignore-not-found']);
      await k.run(['delete', 'validatingadmissionpolicy', policy, '--ignore-not-found']);
      await k.deleteNamespace(ns);
    }
  });
});
