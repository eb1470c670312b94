// What a person sees when a Rollout is wrong: the CRD's schema and CEL rules reject what
// can be judged alone at admission, with kubectl messages that name the field and the
// problem; what depends on other objects (a missing Service) becomes an InvalidSpec
// condition that the controller clears by itself once the Service exists.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { canaryRollout, canaryServices, manifest, scenario } from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;
let ns = '';

/** `kubectl apply` of a Rollout named `bad` with this strategy; must be refused, nothing created. */
async function rejected(strategy: Record<string, unknown>): Promise<string> {
  const r = canaryRollout({ name: 'bad', replicas: 1 });
  r.spec.strategy = strategy;
  const res = await k.tryApply(manifest(r), { namespace: ns });
  assert.notEqual(res.code, 0, `kubectl apply should fail; stdout: ${res.stdout}`);
  const msg = res.stderr.trim();
  assert.match(msg, /The Rollout "bad" is invalid/, msg);
  const get = await k.run(['get', 'rollout', 'bad', '-n', ns, '-o', 'name']);
  assert.match(get.stderr, /NotFound/, 'nothing was created');
  return msg;
}

describe('admission and invalid specs', () => {
  before(async () => {
    ns = await k.createNamespace('admission');
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
    await k.deleteNamespace(ns);
  });

  test('both strategies set', async () => {
    const msg = await rejected({ canary: { steps: [{ setWeight: 10 }] }, blueGreen: { activeService: 'a' } });
    assert.match(msg, /spec\.strategy/);
    assert.match(msg, /exactly one of strategy\.canary and strategy\.blueGreen must be set/);
  });

  test('no strategy at all', async () => {
    const msg = await rejected({});
    assert.match(msg, /exactly one of strategy\.canary and strategy\.blueGreen must be set/);
  });

  test('setWeight 150', async () => {
    const msg = await rejected({ canary: { steps: [{ setWeight: 20 }, { setWeight: 150 }] } });
    assert.match(msg, /spec\.strategy\.canary\.steps\[1\]\.setWeight/, 'names the step');
    assert.match(msg, /150/, 'shows the value');
    assert.match(msg, /less than or equal to 100/);
  });

  test('pause duration "ten seconds" is refused, naming the field and value', async () => {
    const msg = await rejected({ canary: { steps: [{ setWeight: 20 }, { pause: { duration: 'ten seconds' } }] } });
    assert.match(msg, /spec\.strategy\.canary\.steps\[1\]\.pause\.duration/);
    assert.match(msg, /"ten seconds"/);
  });

  test('pause duration message says what a duration looks like', async () => {
    // The schema (src/api/meta.ts Duration) has the message "must be a duration like 30s, 5m,
    // 1h30m or whole seconds"; a person should see that, not only the regular expression.
    const msg = await rejected({ canary: { steps: [{ pause: { duration: 'ten seconds' } }] } });
    assert.match(msg, /like 30s/, `message: ${msg}`);
  });

  test('a step with two actions', async () => {
    const msg = await rejected({ canary: { steps: [{ setWeight: 20, pause: { duration: '10s' } }] } });
    assert.match(msg, /spec\.strategy\.canary\.steps\[0\]/);
    assert.match(msg, /each step sets exactly one of setWeight, pause, analysis, setCanaryScale/);
  });

  test('a missing Service is an InvalidSpec condition, cleared when the Service appears', () =>
    env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns, 'nosvc');
      await s.apply(manifest(canaryRollout({ name: 'nosvc', replicas: 2, steps: [{ setWeight: 50 }, { pause: {} }] })));
      const invalid = await s.waitFor('InvalidSpec', (v) => {
        assert.equal(v.rollout.status.phase, 'Degraded');
        const c = v.rollout.status.conditions?.find((x: { type: string }) => x.type === 'InvalidSpec');
        assert.equal(c?.status, 'True');
      });
      const message: string = invalid.rollout.status.message;
      assert.match(message, /Service "nosvc-stable" not found/);
      assert.match(message, /Service "nosvc-canary" not found/);
      assert.equal(invalid.replicaSets.length, 0, 'nothing is created for an invalid spec');
      const events = await s.waitEvent('InvalidSpec', 'nosvc-stable');
      assert.equal(events.find((e) => e.reason === 'InvalidSpec')?.type, 'Warning');
      // what `kubectl get rollout` shows
      const line = await k.ok(['get', 'rollout', 'nosvc', '-n', ns, '-o', 'wide', '--no-headers']);
      assert.match(line, /Degraded/);
      assert.match(line, /not found/);

      // one Service is not enough
      await s.apply(manifest(canaryServices('nosvc').filter((svc) => svc.metadata.name === 'nosvc-stable')));
      await s.waitFor('only the canary Service is missing now', (v) => {
        assert.doesNotMatch(v.rollout.status.message, /nosvc-stable/);
        assert.match(v.rollout.status.message, /Service "nosvc-canary" not found/);
      });

      await s.apply(manifest(canaryServices('nosvc')));
      const ok = await s.waitFor(
        'Healthy once the Services exist',
        (v) => {
          assert.equal(v.rollout.status.phase, 'Healthy');
          assert.equal(v.rs[v.rollout.status.stableRS]?.available, 2);
        },
        15_000,
      );
      assert.equal(
        ok.rollout.status.conditions.find((x: { type: string }) => x.type === 'InvalidSpec'),
        undefined,
        'InvalidSpec removed',
      );
      assert.equal(ok.selectors['nosvc-stable'], ok.rollout.status.stableRS);
      assert.equal(ok.selectors['nosvc-canary'], ok.rollout.status.stableRS);
      await k.run(['delete', 'rollout', 'nosvc', '-n', ns, '--wait=true', '--timeout=30s']);
    }));

  test('a pod template the API server refuses is an InvalidSpec with its reason; fixing it recovers', () =>
    env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns, 'noimage');
      const ro = canaryRollout({ name: 'noimage', replicas: 2, steps: [{ setWeight: 50 }] });
      delete ro.spec.template.spec.containers[0].image; // the CRD keeps pod templates opaque; ReplicaSets need an image
      await s.apply(manifest(canaryServices('noimage'), ro));
      const invalid = await s.waitFor('InvalidSpec from the API server', (v) => {
        assert.equal(v.rollout.status.phase, 'Degraded');
        assert.match(v.rollout.status.message, /the API server rejects spec.template: .*containers\[0\]\.image: Required value/);
      });
      assert.equal(invalid.replicaSets.length, 0, 'nothing is created');
      await k.ok([
        'patch',
        'rollout',
        'noimage',
        '-n',
        ns,
        '--type=json',
        '-p',
        '[{"op":"add","path":"/spec/template/spec/containers/0/image","value":"example/app:v1"}]',
      ]);
      await s.waitFor('Healthy once the template is fixed', (v) => assert.equal(v.rollout.status.phase, 'Healthy'), 15_000);
      await k.run(['delete', 'rollout', 'noimage', '-n', ns, '--wait=true', '--timeout=30s']);
    }));
});
