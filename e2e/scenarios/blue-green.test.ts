// Blue-green rollouts on the real cluster: the preview Service sees the new revision at once,
// the active Service switches only when promotion is allowed and the new ReplicaSet is fully
// available, the old revision is kept for scaleDownDelaySeconds, and an abort puts the active
// Service back on stable. User actions are `kubectl patch --subresource=status`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import {
  assertHealthyOn,
  blueGreenRollout,
  blueGreenServices,
  manifest,
  scenario,
  type BlueGreenOptions,
  type Scenario,
  type View,
} from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;

async function withBlueGreen(prefix: string, opts: BlueGreenOptions, fn: (s: Scenario, h1: string) => Promise<void>, extra: string = ''): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns);
      if (extra) await s.apply(extra);
      await s.apply(manifest(blueGreenServices(), blueGreenRollout({ replicas: 3, ...opts })));
      const v1 = await s.waitFor('first revision Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, opts.replicas ?? 3, 'blueGreen'));
      await fn(s, v1.rollout.status.stableRS as string);
    });
  } finally {
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

/** The new revision is in preview: preview Service on it, active Service still on stable. */
function inPreview(v: View, h1: string, previewCount: number, replicas: number): string {
  const h2 = v.rollout.status.currentPodHash as string;
  assert.notEqual(h2, h1, 'a new revision');
  assert.equal(v.rollout.status.stableRS, h1);
  assert.equal(v.selectors['demo-active'], h1, 'active still on stable');
  assert.equal(v.selectors['demo-preview'], h2, 'preview on the new revision');
  assert.equal(v.rs[h2]?.spec, previewCount);
  assert.equal(v.rs[h2]?.available, previewCount);
  assert.equal(v.rs[h1]?.spec, replicas);
  assert.equal(v.rs[h1]?.available, replicas);
  return h2;
}

function pausedForPromotion(v: View): void {
  assert.equal(v.rollout.status.phase, 'Paused');
  assert.deepEqual(
    (v.rollout.status.pauseConditions ?? []).map((p: { reason: string }) => p.reason),
    ['BlueGreenPause'],
  );
}

/** Watches the active Service: it may only ever point at a fully available ReplicaSet. */
function switchWatch(replicas: number) {
  const violations: string[] = [];
  return {
    check(v: View) {
      const active = v.selectors['demo-active'];
      const rs = active ? v.rs[active] : undefined;
      if (!rs || rs.available < replicas) violations.push(`active -> ${active} with ${rs?.available ?? 0}/${replicas} available`);
    },
    violations,
  };
}

/** An AnalysisTemplate whose runs stay Running (and pass) for ten minutes. */
function holdTemplate(): string {
  return manifest({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'hold' },
    spec: {
      metrics: [
        {
          name: 'always-one',
          interval: '1s',
          count: 600,
          successCondition: 'result[0] == 1.0',
          provider: { prometheus: { address: env.descriptor.prometheus.url, query: 'vector(1)' } },
        },
      ],
    },
  });
}

describe('blue-green', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('preview, then promote; the old revision is scaled down after scaleDownDelaySeconds', () =>
    withBlueGreen('bg-promote', { blueGreen: { autoPromotionEnabled: false, scaleDownDelaySeconds: 4 } }, async (s, h1) => {
      const watch = switchWatch(3);
      await s.setImage('example/app:v2');
      const p = await s.waitFor('preview ready, paused for promotion', (v) => {
        watch.check(v);
        inPreview(v, h1, 3, 3);
        pausedForPromotion(v);
      });
      const h2 = p.rollout.status.currentPodHash as string;
      assert.equal(p.rs[h2]?.image, 'example/app:v2');
      await s.waitEvent('RolloutPaused');
      await s.holds(
        'waits for a person',
        (v) => {
          inPreview(v, h1, 3, 3);
          pausedForPromotion(v);
        },
        2000,
      );

      await s.promote();
      const switched = await s.waitFor('active switched to v2', (v) => {
        watch.check(v);
        assert.equal(v.selectors['demo-active'], h2);
      });
      const promotedAt = Date.now();
      assert.equal(switched.rollout.status.stableRS, h2);
      assert.equal(switched.rollout.status.pauseConditions, undefined);
      const scaleDownAt = Date.parse(switched.rollout.status.scaleDownAt?.[h1]);
      assert.ok(Number.isFinite(scaleDownAt), `scaleDownAt for ${h1}: ${JSON.stringify(switched.rollout.status.scaleDownAt)}`);

      // the old revision keeps its pods for the delay (a quick switch back needs no new pods) …
      await s.holds(
        'old revision kept during scaleDownDelaySeconds',
        (v) => {
          assert.equal(v.rs[h1]?.spec, 3);
          assert.equal(v.rs[h1]?.available, 3);
          assert.equal(v.selectors['demo-active'], h2);
        },
        Math.max(0, scaleDownAt - Date.now() - 1000),
      );
      // … and loses them after it
      await s.waitFor(
        'Healthy on v2, old revision scaled to 0',
        (v) => {
          watch.check(v);
          assertHealthyOn(v, h2, 3, 'blueGreen');
        },
        20_000,
      );
      assert.ok(Date.now() - promotedAt >= 2500, 'not scaled down before the delay');
      const events = await s.waitEvent('RolloutCompleted');
      assert.equal(events.filter((e) => e.reason === 'ActiveSwitched').length, 1);
      assert.deepEqual(watch.violations, [], 'active only ever pointed at a fully available ReplicaSet');
      await s.settled();
    }));

  test('auto-promotion after autoPromotionSeconds', () =>
    withBlueGreen('bg-auto', { blueGreen: { autoPromotionSeconds: 4, scaleDownDelaySeconds: 1 } }, async (s, h1) => {
      await s.setImage('example/app:v2');
      const p = await s.waitFor('preview ready', (v) => {
        inPreview(v, h1, 3, 3);
        assert.ok(v.rollout.status.previewReadyAt);
      });
      const h2 = p.rollout.status.currentPodHash as string;
      assert.notEqual(p.rollout.status.phase, 'Paused', 'auto-promotion is not a pause');
      const readyAt = Date.parse(p.rollout.status.previewReadyAt);
      await s.holds('active stays on v1 until autoPromotionSeconds pass', (v) => inPreview(v, h1, 3, 3), Math.max(0, readyAt + 3000 - Date.now()));
      await s.waitFor('active switched to v2', (v) => assert.equal(v.selectors['demo-active'], h2), 15_000);
      await s.waitFor('Healthy on v2', (v) => assertHealthyOn(v, h2, 3, 'blueGreen'), 15_000);
      await s.settled();
    }));

  test('previewReplicaCount: a small preview, scaled up before the switch', () =>
    withBlueGreen(
      'bg-previewcount',
      { replicas: 4, blueGreen: { autoPromotionEnabled: false, previewReplicaCount: 1, scaleDownDelaySeconds: 1 } },
      async (s, h1) => {
        const watch = switchWatch(4);
        await s.setImage('example/app:v2');
        const p = await s.waitFor('1 preview pod, paused', (v) => {
          watch.check(v);
          inPreview(v, h1, 1, 4);
          pausedForPromotion(v);
        });
        const h2 = p.rollout.status.currentPodHash as string;
        await s.holds('preview stays at 1 pod', (v) => inPreview(v, h1, 1, 4), 1500);
        await s.promote();
        await s.waitFor(
          'Healthy on v2 with 4 pods',
          (v) => {
            watch.check(v);
            assertHealthyOn(v, h2, 4, 'blueGreen');
          },
          30_000,
        );
        assert.deepEqual(watch.violations, [], 'the switch waited for all 4 pods');
        await s.settled();
      },
    ));

  test('abort during preview: preview back to stable, new revision scaled down', () =>
    withBlueGreen('bg-abort-preview', { blueGreen: { autoPromotionEnabled: false } }, async (s, h1) => {
      await s.setImage('example/app:v2');
      const p = await s.waitFor('paused in preview', (v) => {
        inPreview(v, h1, 3, 3);
        pausedForPromotion(v);
      });
      const h2 = p.rollout.status.currentPodHash as string;
      await s.abort();
      const a = await s.waitFor('Degraded (aborted)', (v) => assert.equal(v.rollout.status.phase, 'Degraded'));
      assert.equal(a.selectors['demo-active'], h1);
      assert.equal(a.selectors['demo-preview'], h1);
      assert.equal(a.rs[h1]?.spec, 3);
      assert.equal(a.rollout.status.pauseConditions, undefined);
      // As Argo Rollouts: the aborted revision goes after abortScaleDownDelaySeconds (default 30s); no Service selects it meanwhile.
      await s.waitFor('new revision scaled down after abortScaleDownDelaySeconds', (v) => assert.equal(v.rs[h2]?.spec, 0), 45_000);
      await s.waitFor('new revision has no pods', (v) => assert.equal(v.rs[h2]?.current, 0));
      await s.waitEvent('RolloutAborted');
      await s.settled();
    }));

  test('abort after the switch (post-promotion analysis running) switches active back', () =>
    withBlueGreen(
      'bg-abort-switched',
      { replicas: 2, blueGreen: { postPromotionAnalysis: { templates: [{ templateName: 'hold' }] } } },
      async (s, h1) => {
        await s.setImage('example/app:v2');
        const sw = await s.waitFor(
          'switched, post-promotion analysis running',
          (v) => {
            const h2 = v.rollout.status.currentPodHash;
            assert.notEqual(h2, h1);
            assert.equal(v.selectors['demo-active'], h2);
            assert.equal(v.rollout.status.analysis?.kind, 'postPromotion');
            assert.equal(v.rollout.status.analysis?.phase, 'Running');
          },
          45_000,
        );
        const h2 = sw.rollout.status.currentPodHash as string;
        assert.equal(sw.rollout.status.stableRS, h1, 'not stable until post-promotion analysis passes');
        assert.equal(sw.rs[h1]?.spec, 2, 'the old revision keeps its pods');

        await s.abort();
        const a = await s.waitFor('Degraded (aborted)', (v) => assert.equal(v.rollout.status.phase, 'Degraded'));
        assert.equal(a.selectors['demo-active'], h1, 'active switched back to stable at once');
        assert.equal(a.selectors['demo-preview'], h1);
        assert.equal(a.rs[h1]?.spec, 2);
        assert.equal(a.rs[h1]?.available, 2, 'stable was never scaled down: it serves at once');
        // As Argo Rollouts: the aborted revision goes after abortScaleDownDelaySeconds (default 30s).
        await s.waitFor('new revision scaled down after abortScaleDownDelaySeconds', (v) => assert.equal(v.rs[h2]?.spec, 0), 45_000);
        assert.equal(a.rollout.status.stableRS, h1);
        await s.waitFor('the analysis run is terminated', async () => {
          const runs = await k.json<{ items: Array<{ spec: { terminate?: boolean } }> }>(['get', 'analysisruns.sluice.dev', '-n', s.ns]);
          assert.ok(runs.items.length > 0 && runs.items.every((r) => r.spec.terminate === true));
        });
        await s.waitEvent('RolloutAborted');
        await s.settled();
      },
      holdTemplate(),
    ));
});
