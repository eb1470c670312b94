// Analysis on the real cluster: real Prometheus scraping the traffic helper, whose error rate
// is chosen by image tag (`bad` = 50% errors, `idle` = no traffic) or overridden at runtime.
// The controller sees nothing but PromQL results. Each test has its own namespace and its
// own AnalysisTemplate (the query is pinned to that namespace); one controller serves the file.
//
// Timing: templates measure every 1-2s after an initialDelay of a few seconds, so that
// rate() over a 10s window has samples before the first verdict (e2e/README.md, "Traffic").
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { freePort } from '../harness/proc.ts';
import { waitFor } from '../harness/wait.ts';
import {
  assertHealthyOn,
  blueGreenRollout,
  blueGreenServices,
  canaryRollout,
  canaryServices,
  completedSteps,
  manifest,
  PINNED_SERVICES,
  scenario,
  type Scenario,
  type View,
} from '../harness/rollouts.ts';
import {
  analysisRef,
  analysisRuns,
  analysisStep,
  describeRuns,
  errorRateTemplate,
  measuredValue,
  trafficByTag,
  waitRun,
  type TemplateOptions,
} from '../harness/analysis.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;

type Obj = Record<string, any>;

/**
 * Runs `fn` in a fresh namespace holding an AnalysisTemplate and a Rollout (v1, already
 * Healthy). `rollout` builds the Rollout; `strategy` says which Services it uses.
 */
async function withAnalysis(
  prefix: string,
  o: { template?: TemplateOptions; rollout: Obj; strategy: 'canary' | 'blueGreen' },
  fn: (s: Scenario, h1: string) => Promise<void>,
): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns);
      const services = o.strategy === 'canary' ? canaryServices() : blueGreenServices();
      await s.apply(manifest(errorRateTemplate(env, ns, o.template), services, o.rollout));
      const replicas = o.rollout.spec.replicas as number;
      const v1 = await s.waitFor('first revision Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, replicas, o.strategy));
      try {
        await fn(s, v1.rollout.status.stableRS as string);
      } catch (err) {
        // the AnalysisRuns with every measurement: the first thing to read when a verdict is wrong
        (err as Error).message += `\n  analysis runs:\n    ${describeRuns(await analysisRuns(k, ns).catch(() => []))}`;
        throw err;
      }
    });
  } finally {
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

/** Aborted back to `h1`: Degraded, every Service on stable, the new revision at 0, stable at full size. */
function abortedTo(v: View, h1: string, h2: string, replicas: number, strategy: 'canary' | 'blueGreen'): void {
  const s = v.rollout.status;
  assert.equal(s.phase, 'Degraded');
  assert.equal(s.abort, true);
  assert.equal(s.stableRS, h1, 'stable is still the old revision');
  // A canary's pods take traffic: gone at once. An aborted blue-green preview takes none (no Service
  // selects it) and is kept for abortScaleDownDelaySeconds (default 30 s, as Argo Rollouts).
  if (strategy === 'canary') assert.equal(v.rs[h2]?.spec, 0, 'new revision scaled to 0');
  assert.equal(v.rs[h1]?.spec, replicas, 'stable at full size');
  for (const svc of PINNED_SERVICES[strategy]) assert.equal(v.selectors[svc], h1, `${svc} back on stable`);
}

/**
 * Records, on every poll, anything that would mean the new revision was promoted: stableRS
 * changing, or (canary) the stable ReplicaSet scaled below its share.
 */
function neverPromoted(h1: string) {
  const violations: string[] = [];
  return {
    check(v: View) {
      if (v.rollout.status.stableRS !== h1) violations.push(`stableRS became ${v.rollout.status.stableRS}`);
      if (v.rollout.status.phase === 'Healthy' && v.rollout.status.currentPodHash !== h1) violations.push(`Healthy on ${v.rollout.status.currentPodHash}`);
    },
    violations,
  };
}

const ABORT_MESSAGE = (where: string) =>
  new RegExp(`^Rollout aborted: metric error-rate: (\\d+(?:\\.\\d+)?) > 0\\.05 \\(failed 1 > failureLimit 0\\) ${where}$`);

describe('analysis', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('a good version passes its analysis step and is promoted', () =>
    withAnalysis(
      'an-good',
      { strategy: 'canary', rollout: canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] }) },
      async (s, h1) => {
        await s.setImage('example/app:v2');
        const analysing = await s.waitFor('analysis step 2/3 running on 1 canary pod', (v) => {
          assert.notEqual(v.rollout.status.currentPodHash, h1);
          assert.equal(v.rollout.status.currentStepIndex, 1);
          assert.equal(v.rollout.status.analysis?.kind, 'step');
          assert.ok(['Pending', 'Running'].includes(v.rollout.status.analysis?.phase), `analysis phase ${v.rollout.status.analysis?.phase}`);
          assert.equal(v.rs[v.rollout.status.currentPodHash]?.available, 1);
        });
        const h2 = analysing.rollout.status.currentPodHash as string;
        assert.equal(analysing.rollout.status.phase, 'Progressing', 'an analysis step is not a pause');
        // the canary pod really takes traffic while it is judged
        await waitFor('traffic to the v2 pod', async () => {
          const t = await trafficByTag(env, s.ns);
          assert.equal(t.v2?.pods, 1);
          assert.ok((t.v2?.requests ?? 0) > 0);
          return true;
        });

        await s.waitFor('Healthy on v2', (v) => assertHealthyOn(v, h2, 2, 'canary'), 60_000);

        const runs = await analysisRuns(k, s.ns);
        assert.equal(runs.length, 1, describeRuns(runs));
        const run = runs[0]!;
        assert.equal(run.kind, 'step');
        assert.equal(run.hash, h2);
        assert.equal(run.phase, 'Successful');
        const m = run.metrics[0]!;
        assert.equal(m.successful, 3, `three measurements: ${describeRuns(runs)}`);
        assert.equal(m.failed + m.inconclusive + m.error, 0);
        for (const x of m.measurements) {
          assert.equal(x.phase, 'Successful');
          assert.equal(measuredValue(x), 0, `no errors measured: ${x.value}`);
          assert.ok(x.query?.includes(`rollouts_pod_template_hash="${h2}"`), `the query names the canary hash: ${x.query}`);
          assert.ok(x.query?.includes(`namespace="${s.ns}"`));
        }
        // initialDelay 5s, then 2s apart: the first verdict waited for data
        const started = Date.parse(run.raw.status.startedAt);
        assert.ok(Date.parse(m.measurements[0]!.startedAt) - started >= 4500, 'first measurement after initialDelay');
        assert.ok(Date.parse(m.measurements[2]!.startedAt) - Date.parse(m.measurements[1]!.finishedAt) >= 1500, 'measurements an interval apart');

        const events = await s.waitEvent('RolloutCompleted');
        assert.deepEqual(completedSteps(events), ['1/3', '2/3', '3/3']);
        assert.equal(events.filter((e) => e.reason === 'AnalysisStarted').length, 1);
        assert.equal(events.filter((e) => e.reason === 'AnalysisSucceeded').length, 1);
        assert.deepEqual(
          events.filter((e) => e.type === 'Warning'),
          [],
          'no warnings',
        );
        await s.settled();
      },
    ));

  test('a bad version is rolled back by its step analysis, with metric, value, threshold and step', () =>
    withAnalysis(
      'an-bad',
      { strategy: 'canary', rollout: canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] }) },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        await s.setImage('example/app:v2-bad');
        const aborted = await s.waitFor(
          'Degraded by the analysis',
          (v) => {
            watch.check(v);
            assert.equal(v.rollout.status.phase, 'Degraded');
          },
          60_000,
        );
        const h2 = aborted.rollout.status.currentPodHash as string;
        abortedTo(aborted, h1, h2, 2, 'canary');
        const message = aborted.rollout.status.message as string;
        const match = ABORT_MESSAGE('at step 2/3').exec(message);
        assert.ok(match, `status.message names metric, value, threshold and step: ${message}`);
        const value = Number(match[1]);
        assert.ok(value >= 0.3 && value <= 0.7, `the measured error ratio is about 50%: ${value}`);
        assert.equal(aborted.rollout.status.abortMessage, message);

        const runs = await analysisRuns(k, s.ns);
        const run = runs.find((r) => r.kind === 'step' && r.hash === h2);
        assert.ok(run, describeRuns(runs));
        assert.equal(run.phase, 'Failed');
        assert.equal(run.metrics[0]!.failed, 1);
        const failing = run.metrics[0]!.measurements.at(-1)!;
        assert.equal(failing.phase, 'Failed');
        assert.equal(measuredValue(failing), value, 'the message quotes the measured value');
        assert.match(failing.message, /> 0\.05/);
        // time to safety: everything went back to stable in the reconcile after the verdict
        const safeAfter = Date.parse(aborted.rollout.status.abortedAt) - Date.parse(failing.finishedAt);
        assert.ok(safeAfter < 5000, `aborted ${safeAfter}ms after the failing measurement`);

        const events = await s.waitEvent('RolloutAborted');
        const ev = events.find((e) => e.reason === 'RolloutAborted')!;
        assert.equal(ev.type, 'Warning');
        assert.equal(ev.message, message, 'the Event says the same as status.message');
        assert.deepEqual(completedSteps(events), ['1/3'], 'the analysis step never completed');

        await s.waitFor('canary pods gone', (v) => {
          watch.check(v);
          assert.equal(v.rs[h2]?.current, 0);
          assert.equal(v.rs[h1]?.available, 2);
        });
        await s.holds(
          'stays aborted',
          (v) => {
            watch.check(v);
            abortedTo(v, h1, h2, 2, 'canary');
          },
          2000,
        );
        assert.deepEqual(watch.violations, [], 'never promoted');
        await s.settled();
      },
    ));

  test('background analysis failing mid-way aborts at the step it is at', () => {
    // A tag of its own: the runtime override below must touch no other test's pods.
    const tag = 'v2-midway';
    return withAnalysis(
      'an-background',
      {
        strategy: 'canary',
        template: { metric: { initialDelay: '4s', interval: '2s', count: undefined } }, // no count: runs until terminated
        rollout: canaryRollout({
          replicas: 4,
          steps: [{ setWeight: 25 }, { pause: {} }, { setWeight: 75 }, { pause: {} }],
          canary: { analysis: { ...analysisRef(), startingStep: 1 } },
        }),
      },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        try {
          await s.setImage(`example/app:${tag}`);
          const paused = await s.waitFor('paused at step 2/4', (v) => {
            assert.notEqual(v.rollout.status.currentPodHash, h1);
            assert.equal(v.rollout.status.currentStepIndex, 1);
            assert.equal(v.rollout.status.phase, 'Paused');
          });
          const h2 = paused.rollout.status.currentPodHash as string;
          // the version is good for a while: background measurements pass
          const good = await waitRun(
            k,
            s.ns,
            'background',
            'two successful background measurements',
            (r) => {
              assert.equal(r.hash, h2);
              assert.equal(r.phase, 'Running');
              assert.ok(r.metrics[0]!.successful >= 2, `successful ${r.metrics[0]!.successful}`);
              assert.equal(r.metrics[0]!.failed, 0);
            },
            30_000,
          );
          assert.equal(good.metrics[0]!.inconclusive, 0, 'data from the first measurement on');
          await s.holds(
            'still paused at step 2/4 while the version is good',
            (v) => {
              watch.check(v);
              assert.equal(v.rollout.status.phase, 'Paused');
            },
            1000,
          );

          // the version turns bad at runtime
          const turnedBad = Date.now();
          await env.traffic.setErrorRate(tag, 0.5);
          const aborted = await s.waitFor(
            'Degraded by the background analysis',
            (v) => {
              watch.check(v);
              assert.equal(v.rollout.status.phase, 'Degraded');
            },
            30_000,
          );
          abortedTo(aborted, h1, h2, 4, 'canary');
          const message = aborted.rollout.status.message as string;
          assert.match(message, ABORT_MESSAGE('at step 2/4'), 'the step it was at');
          assert.ok(Date.now() - turnedBad < 20_000, 'noticed within a few measurements');

          const runs = await analysisRuns(k, s.ns);
          const run = runs.find((r) => r.kind === 'background');
          assert.ok(run, describeRuns(runs));
          assert.equal(run.phase, 'Failed');
          assert.ok(run.metrics[0]!.successful >= 2, 'passed before it failed');
          assert.equal(run.metrics[0]!.failed, 1);
          const events = await s.waitEvent('RolloutAborted');
          assert.equal(events.find((e) => e.reason === 'RolloutAborted')!.message, message);
          assert.deepEqual(watch.violations, [], 'never promoted');
          await s.settled();
        } finally {
          await env.traffic.clearErrorRate(tag);
        }
      },
    );
  });

  test('no data (a version without traffic) is inconclusive: paused until a person promotes', () =>
    withAnalysis(
      'an-nodata',
      {
        strategy: 'canary',
        template: { metric: { initialDelay: '3s' } },
        rollout: canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] }),
      },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        await s.setImage('example/app:v2-idle');
        const paused = await s.waitFor(
          'paused by an inconclusive analysis',
          (v) => {
            watch.check(v);
            assert.equal(v.rollout.status.phase, 'Paused');
            assert.deepEqual(
              (v.rollout.status.pauseConditions ?? []).map((p: Obj) => p.reason),
              ['InconclusiveAnalysis'],
            );
          },
          45_000,
        );
        const h2 = paused.rollout.status.currentPodHash as string;
        assert.equal(paused.rollout.status.currentStepIndex, 1, 'at the analysis step');
        assert.equal(paused.rollout.status.analysis?.phase, 'Inconclusive');
        assert.match(paused.rollout.status.analysis?.message ?? '', /no data/, 'says why');
        assert.match(paused.rollout.status.message, /inconclusive/i);
        assert.notEqual(paused.rollout.status.abort, true, 'inconclusive is not an abort');
        assert.equal(paused.rs[h2]?.spec, 1, 'the canary keeps its pod');
        assert.equal(paused.rs[h1]?.spec, 1);

        const runs = await analysisRuns(k, s.ns);
        const run = runs.find((r) => r.kind === 'step')!;
        assert.equal(run.phase, 'Inconclusive');
        const m = run.metrics[0]!.measurements.at(-1)!;
        assert.equal(m.phase, 'Inconclusive');
        assert.equal(m.noData, true);
        assert.match(m.message, /no data/);
        const events = await s.waitEvent('AnalysisInconclusive');
        assert.match(events.find((e) => e.reason === 'AnalysisInconclusive')!.message, /paused for a person/);

        // nobody decides: it waits (no timeout turns "no data" into a pass)
        await s.holds(
          'stays paused at step 2/3',
          (v) => {
            watch.check(v);
            assert.equal(v.rollout.status.phase, 'Paused');
            assert.equal(v.rollout.status.currentStepIndex, 1);
          },
          3000,
        );
        assert.deepEqual(watch.violations, [], 'not promoted while inconclusive');

        // a person promotes: the README's contract is "remove pauseConditions"
        await s.promote();
        await s.waitFor('Healthy on v2-idle', (v) => assertHealthyOn(v, h2, 2, 'canary'), 30_000);
        const done = await s.waitEvent('RolloutCompleted');
        assert.deepEqual(completedSteps(done), ['1/3', '2/3', '3/3']);
        assert.equal((await analysisRuns(k, s.ns)).length, 1, 'promoting past the verdict does not start another run');
        await s.settled();
      },
    ));

  test('Prometheus unreachable: error measurements, aborted after consecutiveErrorLimit, never promoted', async () => {
    const closed = await freePort(); // nothing listens there
    const address = `http://127.0.0.1:${closed}`;
    return withAnalysis(
      'an-unreachable',
      {
        strategy: 'canary',
        template: { address, metric: { initialDelay: '0s', interval: '1s', count: 3, consecutiveErrorLimit: 2 } },
        rollout: canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] }),
      },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        await s.setImage('example/app:v2'); // a good version: only the measuring is broken
        const aborted = await s.waitFor(
          'Degraded after 3 errors',
          (v) => {
            watch.check(v);
            assert.equal(v.rollout.status.phase, 'Degraded');
          },
          45_000,
        );
        const h2 = aborted.rollout.status.currentPodHash as string;
        abortedTo(aborted, h1, h2, 2, 'canary');
        const message = aborted.rollout.status.message as string;
        assert.match(message, /^Rollout aborted: metric error-rate: /);
        assert.match(message, /\(3 consecutive errors > consecutiveErrorLimit 2\) at step 2\/3$/);
        assert.match(message, new RegExp(`unreachable|ECONNREFUSED|127\\.0\\.0\\.1:${closed}`), 'says what went wrong');

        const run = (await analysisRuns(k, s.ns)).find((r) => r.kind === 'step')!;
        assert.equal(run.phase, 'Error');
        const m = run.metrics[0]!;
        assert.equal(m.error, 3);
        assert.equal(m.count, 0, 'errors do not count towards count');
        assert.equal(m.successful, 0);
        for (const x of m.measurements) {
          assert.equal(x.phase, 'Error');
          assert.match(x.message, /unreachable/i);
          assert.match(x.message, /ECONNREFUSED/);
        }
        const events = await s.waitEvent('RolloutAborted');
        assert.equal(events.find((e) => e.reason === 'RolloutAborted')!.message, message);
        await s.holds(
          'stays aborted',
          (v) => {
            watch.check(v);
            abortedTo(v, h1, h2, 2, 'canary');
          },
          2000,
        );
        assert.deepEqual(watch.violations, [], 'never promoted');
        await s.settled();
      },
    );
  });

  test('Prometheus stopped during an analysis: errors until the limit, aborted, never promoted', () =>
    withAnalysis(
      'an-promstop',
      {
        strategy: 'canary',
        template: { metric: { initialDelay: '4s', interval: '1s', count: 60, consecutiveErrorLimit: 2 } },
        rollout: canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] }),
      },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        await s.setImage('example/app:v2');
        const passing = await waitRun(
          k,
          s.ns,
          'step',
          'measurements passing',
          (r) => {
            assert.equal(r.phase, 'Running');
            assert.ok(r.metrics[0]!.successful >= 2);
          },
          30_000,
        );
        const h2 = passing.hash;
        let stopped = false;
        try {
          await env.stopPrometheus();
          stopped = true;
          const aborted = await s.waitFor(
            'Degraded after 3 errors',
            (v) => {
              watch.check(v);
              assert.equal(v.rollout.status.phase, 'Degraded');
            },
            30_000,
          );
          abortedTo(aborted, h1, h2, 2, 'canary');
          assert.match(aborted.rollout.status.message, /\(3 consecutive errors > consecutiveErrorLimit 2\) at step 2\/3$/);
          const run = (await analysisRuns(k, s.ns)).find((r) => r.kind === 'step')!;
          assert.equal(run.phase, 'Error');
          assert.ok(run.metrics[0]!.successful >= 2);
          assert.equal(run.metrics[0]!.consecutiveError, 3);
          assert.match(run.metrics[0]!.measurements.at(-1)!.message, /unreachable/i);
        } finally {
          if (stopped) await env.startPrometheus();
        }
        await s.holds(
          'stays aborted with Prometheus back',
          (v) => {
            watch.check(v);
            abortedTo(v, h1, h2, 2, 'canary');
          },
          2000,
        );
        assert.deepEqual(watch.violations, [], 'never promoted');
      },
    ));

  test('blue-green: failing pre-promotion analysis never switches the active Service', () =>
    withAnalysis(
      'an-bg-pre',
      { strategy: 'blueGreen', rollout: blueGreenRollout({ replicas: 2, blueGreen: { prePromotionAnalysis: analysisRef() } }) },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        const activeMoved: string[] = [];
        await s.setImage('example/app:v2-bad');
        const preview = await s.waitFor('preview running, pre-promotion analysis started', (v) => {
          if (v.selectors['demo-active'] !== h1) activeMoved.push(v.selectors['demo-active'] ?? '');
          assert.notEqual(v.rollout.status.currentPodHash, h1);
          assert.equal(v.selectors['demo-preview'], v.rollout.status.currentPodHash);
          assert.equal(v.rollout.status.analysis?.kind, 'prePromotion');
        });
        const h2 = preview.rollout.status.currentPodHash as string;
        const aborted = await s.waitFor(
          'Degraded by the pre-promotion analysis',
          (v) => {
            watch.check(v);
            if (v.selectors['demo-active'] !== h1) activeMoved.push(v.selectors['demo-active'] ?? '');
            assert.equal(v.rollout.status.phase, 'Degraded');
          },
          45_000,
        );
        abortedTo(aborted, h1, h2, 2, 'blueGreen');
        const message = aborted.rollout.status.message as string;
        assert.match(message, ABORT_MESSAGE('before promotion'));
        assert.deepEqual(activeMoved, [], 'the active Service never left stable');

        const run = (await analysisRuns(k, s.ns)).find((r) => r.kind === 'prePromotion')!;
        assert.equal(run.phase, 'Failed');
        assert.equal(run.hash, h2);
        const events = await s.waitEvent('RolloutAborted');
        assert.equal(events.find((e) => e.reason === 'RolloutAborted')!.message, message);
        assert.equal(events.filter((e) => e.reason === 'ActiveSwitched').length, 0, 'no switch');
        await s.waitFor('preview pods gone after abortScaleDownDelaySeconds (30 s)', (v) => assert.equal(v.rs[h2]?.current, 0), 45_000);
        assert.deepEqual(watch.violations, [], 'never promoted');
        await s.settled();
      },
    ));

  test('blue-green: failing post-promotion analysis switches the active Service back', () =>
    withAnalysis(
      'an-bg-post',
      { strategy: 'blueGreen', rollout: blueGreenRollout({ replicas: 2, blueGreen: { postPromotionAnalysis: analysisRef(), scaleDownDelaySeconds: 60 } }) },
      async (s, h1) => {
        const watch = neverPromoted(h1);
        await s.setImage('example/app:v2-bad');
        const switched = await s.waitFor(
          'active switched to v2, post-promotion analysis running',
          (v) => {
            watch.check(v);
            const h2 = v.rollout.status.currentPodHash;
            assert.notEqual(h2, h1);
            assert.equal(v.selectors['demo-active'], h2);
            assert.equal(v.rollout.status.analysis?.kind, 'postPromotion');
          },
          30_000,
        );
        const h2 = switched.rollout.status.currentPodHash as string;
        assert.equal(switched.rollout.status.stableRS, h1, 'not stable before the post-promotion verdict');
        assert.equal(switched.rs[h1]?.spec, 2, 'the old revision keeps its pods for a switch back');

        const aborted = await s.waitFor(
          'Degraded by the post-promotion analysis',
          (v) => {
            watch.check(v);
            assert.equal(v.rollout.status.phase, 'Degraded');
          },
          45_000,
        );
        abortedTo(aborted, h1, h2, 2, 'blueGreen');
        assert.equal(aborted.rs[h1]?.available, 2, 'the old revision serves at once');
        const message = aborted.rollout.status.message as string;
        assert.match(message, ABORT_MESSAGE('after promotion'));

        const run = (await analysisRuns(k, s.ns)).find((r) => r.kind === 'postPromotion')!;
        assert.equal(run.phase, 'Failed');
        assert.equal(run.hash, h2);
        const events = await s.waitEvent('RolloutAborted');
        assert.equal(events.find((e) => e.reason === 'RolloutAborted')!.message, message);
        assert.equal(events.filter((e) => e.reason === 'ActiveSwitched').length, 1, 'switched once (then back by the abort)');
        assert.equal(events.filter((e) => e.reason === 'RolloutCompleted').length, 0, 'never completed');
        await s.waitFor('v2 pods gone after abortScaleDownDelaySeconds (30 s)', (v) => assert.equal(v.rs[h2]?.current, 0), 45_000);
        assert.deepEqual(watch.violations, [], 'never promoted');
        await s.settled();
      },
    ));
});
