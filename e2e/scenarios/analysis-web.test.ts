// Web metrics on the real cluster: an AnalysisTemplate with Argo Rollouts' `provider.web` reads the
// traffic helper's JSON summary of the canary revision (GET /summary on 127.0.0.1, e2e/README.md
// "Traffic"), with a bearer token from an opted-in Secret in a header. A good version is promoted,
// a bad one (`v2-bad`: 50% errors) rolled back with the value and threshold; the token never
// appears in the AnalysisRun.
//
// Run alone: npx node e2e/run.ts e2e/scenarios/analysis-web.test.ts
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { assertHealthyOn, canaryRollout, canaryServices, completedSteps, manifest, scenario, type Scenario } from '../harness/rollouts.ts';
import { analysisRuns, analysisStep, describeRuns, HASH_ARG } from '../harness/analysis.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;

type Obj = Record<string, any>;

const TOKEN = 'e2e-web-token-5f3a9c';

/** The Secret the header's token comes from, opted in to analysis. */
function tokenSecret(): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'summary-api', labels: { 'sluice.dev/allow-analysis': 'true' } },
    stringData: { token: TOKEN },
  };
}

/** A web metric over the traffic helper's summary of the canary revision: more than 5% errors fails it. */
function webTemplate(ns: string): Obj {
  return {
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'AnalysisTemplate',
    metadata: { name: 'error-rate' }, // the name analysisStep() refers to
    spec: {
      args: [{ name: HASH_ARG }, { name: 'api-token', valueFrom: { secretKeyRef: { name: 'summary-api', key: 'token' } } }],
      metrics: [
        {
          name: 'web-health',
          initialDelay: '5s',
          interval: '2s',
          count: 3,
          // Without requests errorRate is null: the failure condition cannot be evaluated, an error measurement (retried).
          successCondition: 'result.requests > 0 && result.errorRate <= 0.05',
          failureCondition: 'result.errorRate > 0.05',
          provider: {
            web: {
              url: `${env.traffic.url}/summary?namespace=${ns}&hash={{args.${HASH_ARG}}}`,
              headers: [{ key: 'Authorization', value: 'Bearer {{args.api-token}}' }],
              timeoutSeconds: 5,
              jsonPath: '{$.data}',
            },
          },
        },
      ],
    },
  };
}

async function withWebAnalysis(prefix: string, fn: (s: Scenario, h1: string) => Promise<void>): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const s = scenario(env, ns);
      const rollout = canaryRollout({ replicas: 2, steps: [{ setWeight: 50 }, analysisStep(), { setWeight: 100 }] });
      await s.apply(manifest(tokenSecret(), webTemplate(ns), canaryServices(), rollout));
      const v1 = await s.waitFor('first revision Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 2, 'canary'));
      try {
        await fn(s, v1.rollout.status.stableRS as string);
      } catch (err) {
        (err as Error).message += `\n  analysis runs:\n    ${describeRuns(await analysisRuns(k, ns).catch(() => []))}`;
        throw err;
      }
    });
  } finally {
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

describe('analysis with a web metric', () => {
  before(async () => {
    ctl = await env.startController();
  });
  after(async () => {
    await ctl?.stop();
  });

  test('a good version passes its web analysis step and is promoted; the token stays out of the run', () =>
    withWebAnalysis('an-web-good', async (s, h1) => {
      await s.setImage('example/app:v2');
      const v = await s.waitFor(
        'Healthy on v2',
        (x) => {
          assert.notEqual(x.rollout.status.currentPodHash, h1);
          assertHealthyOn(x, x.rollout.status.currentPodHash, 2, 'canary');
        },
        60_000,
      );
      const h2 = v.rollout.status.currentPodHash as string;
      const runs = await analysisRuns(k, s.ns);
      assert.equal(runs.length, 1, describeRuns(runs));
      const run = runs[0]!;
      assert.equal(run.phase, 'Successful');
      assert.equal(run.hash, h2);
      const m = run.metrics[0]!;
      assert.equal(m.successful, 3, describeRuns(runs));
      assert.equal(m.failed + m.inconclusive, 0, describeRuns(runs));
      // An error (a measurement before the canary's first request: errorRate null) is retried and not counted.
      for (const x of m.measurements.filter((y) => y.phase !== 'Error')) {
        assert.equal(x.phase, 'Successful');
        assert.equal(x.query, `GET ${env.traffic.url}/summary?namespace=${s.ns}&hash=${h2}`, 'the request as sent, recorded');
        const value = JSON.parse(x.value ?? 'null') as { requests: number; errorRate: number; pods: number };
        assert.ok(value.requests > 0, `the canary took traffic: ${x.value}`);
        assert.equal(value.errorRate, 0);
      }
      assert.ok(!JSON.stringify(run.raw).includes(TOKEN), 'the Secret token is nowhere in the AnalysisRun');
      const events = await s.waitEvent('RolloutCompleted');
      assert.deepEqual(completedSteps(events), ['1/3', '2/3', '3/3']);
      await s.settled();
    }));

  test('a bad version is rolled back by its web analysis, with metric, value and threshold', () =>
    withWebAnalysis('an-web-bad', async (s, h1) => {
      await s.setImage('example/app:v2-bad');
      const aborted = await s.waitFor(
        'Degraded by the web analysis',
        (v) => {
          assert.equal(v.rollout.status.stableRS, h1, 'never promoted');
          assert.equal(v.rollout.status.phase, 'Degraded');
        },
        60_000,
      );
      const message = aborted.rollout.status.message as string;
      const match = /^Rollout aborted: metric web-health: result\.errorRate \((\d(?:\.\d+)?)\) > 0\.05 \(failed 1 > failureLimit 0\) at step 2\/3$/.exec(
        message,
      );
      assert.ok(match, `status.message names metric, value, threshold and step: ${message}`);
      const rate = Number(match[1]);
      assert.ok(rate >= 0.3 && rate <= 0.7, `about 50% errors: ${rate}`);
      const h2 = aborted.rollout.status.currentPodHash as string;
      await s.waitFor('canary pods gone, stable at full size', (v) => {
        assert.equal(v.rs[h2]?.current, 0);
        assert.equal(v.rs[h1]?.available, 2);
      });
      const run = (await analysisRuns(k, s.ns)).find((r) => r.hash === h2);
      assert.equal(run?.phase, 'Failed');
      assert.ok(!JSON.stringify(run?.raw).includes(TOKEN));
      await s.settled();
    }));
});
