// Writes the golden plan cases in src/core/rollout/golden/: it drives rollouts through the
// integration harness (the real reconciler over the in-memory API and a fake clock), keeps the
// (observed, now) of every reconcile that made a transition (recorded an Event) or a decision
// worth pinning, and stores each with the plan the planner made. src/core/rollout/golden.test.ts
// replays every file and fails when a plan changes.
//   node scripts/capture-golden-plans.ts
// After a change in the planner that is meant to change plans, run it again and READ the diff of
// src/core/rollout/golden/: every changed line is a behaviour change.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Planned } from '../src/controller/rollout/rollout-reconciler.ts';
import { kinds, type KubeObject } from '../src/ports/kube.ts';
import { blueGreenRollout, canaryRollout, NS, service, startHarness, type Harness } from '../test/helpers/harness.ts';

const dir = join(import.meta.dirname, '..', 'src', 'core', 'rollout', 'golden');

interface Scenario {
  strategy: 'canary' | 'blue-green' | 'analysis' | 'phase';
  name: string;
  run: (h: Harness) => Promise<void>;
}

const errorRate: KubeObject = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'AnalysisTemplate',
  metadata: { name: 'error-rate', namespace: NS },
  spec: {
    args: [{ name: 'hash' }],
    metrics: [
      {
        name: 'error-rate',
        failureCondition: 'result[0] > 0.05',
        interval: '10s',
        count: 2,
        provider: { prometheus: { address: 'http://prometheus.invalid:9090', query: 'error_rate{hash="{{args.hash}}"}' } },
      },
    ],
  },
};
const analysisStep = { analysis: { templates: [{ templateName: 'error-rate' }], args: [{ name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } }] } };

const scenarios: Scenario[] = [
  {
    strategy: 'canary',
    name: 'steps',
    run: async (h) => {
      await h.kube.create(kinds.service, service('app-stable'));
      await h.kube.create(kinds.service, service('app-canary'));
      const steps = [{ setWeight: 25 }, { pause: { duration: '30s' } }, { setWeight: 75 }, { pause: {} }];
      await h.kube.create(
        kinds.rollout,
        canaryRollout({ steps, stableService: 'app-stable', canaryService: 'app-canary', maxSurge: 1, maxUnavailable: 0 }, { replicas: 4 }),
      );
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.advance(30_000);
      await h.patchStatus('app', { pauseConditions: null });
      await h.settle();
    },
  },
  {
    strategy: 'canary',
    name: 'abort-retry-full',
    run: async (h) => {
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 80 }] }, { replicas: 4 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.patchStatus('app', { abort: true });
      const retries = h.rollout().status.retries ?? 0;
      await h.patchStatus('app', { abort: false, abortedAt: null, abortMessage: null, currentStepIndex: 0, retries: retries + 1 });
      await h.patchStatus('app', { promoteFull: true });
    },
  },
  {
    strategy: 'canary',
    name: 'new-version-mid-rollout',
    run: async (h) => {
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }, { pause: {} }] }, { replicas: 4 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.setImage('app', 'example/app:v3');
      await h.setImage('app', 'example/app:v1');
    },
  },
  {
    strategy: 'blue-green',
    name: 'preview-promote',
    run: async (h) => {
      await h.kube.create(kinds.service, service('app-active'));
      await h.kube.create(kinds.service, service('app-preview'));
      await h.kube.create(
        kinds.rollout,
        blueGreenRollout(
          { activeService: 'app-active', previewService: 'app-preview', autoPromotionEnabled: false, scaleDownDelaySeconds: 30 },
          { replicas: 3 },
        ),
      );
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.patchStatus('app', { pauseConditions: null });
      await h.advance(30_000);
    },
  },
  {
    strategy: 'blue-green',
    name: 'auto-promotion',
    run: async (h) => {
      await h.kube.create(kinds.service, service('app-active'));
      await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'app-active', autoPromotionSeconds: 20, previewReplicaCount: 1 }, { replicas: 3 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.advance(20_000);
      await h.advance(30_000);
    },
  },
  {
    strategy: 'analysis',
    name: 'step-analysis-fails',
    run: async (h) => {
      await h.kube.create(kinds.analysisTemplate, errorRate);
      h.metrics.answer('error_rate', 0.01);
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 25 }, analysisStep, { setWeight: 75 }] }, { replicas: 4 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2'); // the first measurement passes
      h.metrics.answer('error_rate', 0.5);
      await h.advance(10_000); // the second fails
    },
  },
  {
    strategy: 'analysis',
    name: 'no-data-inconclusive',
    run: async (h) => {
      await h.kube.create(kinds.analysisTemplate, errorRate);
      h.metrics.answer('error_rate', 'empty');
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 25 }, analysisStep] }, { replicas: 4 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.advance(10_000);
      await h.patchStatus('app', { pauseConditions: null });
      await h.settle();
    },
  },
  {
    strategy: 'analysis',
    name: 'pre-promotion-fails',
    run: async (h) => {
      await h.kube.create(kinds.analysisTemplate, errorRate);
      h.metrics.answer('error_rate', 0.5);
      await h.kube.create(kinds.service, service('app-active'));
      await h.kube.create(kinds.rollout, blueGreenRollout({ activeService: 'app-active', prePromotionAnalysis: analysisStep.analysis }, { replicas: 2 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.advance(10_000);
    },
  },
  {
    strategy: 'phase',
    name: 'progress-deadline-abort',
    run: async (h) => {
      await h.kube.create(
        kinds.rollout,
        canaryRollout({ steps: [{ setWeight: 50 }] }, { replicas: 2, progressDeadlineSeconds: 60, progressDeadlineAbort: true }),
      );
      await h.settle();
      h.cluster.neverReady.add('example/app:v2');
      await h.setImage('app', 'example/app:v2');
      await h.advance(61_000);
    },
  },
  {
    strategy: 'phase',
    name: 'user-pause-and-invalid-spec',
    run: async (h) => {
      await h.kube.create(kinds.rollout, canaryRollout({ steps: [{ setWeight: 50 }, { pause: { duration: '1m' } }] }, { replicas: 2 }));
      await h.settle();
      await h.setImage('app', 'example/app:v2');
      await h.patchStatus('app', { pauseConditions: [{ reason: 'UserPause', startTime: h.clock.now().toISOString() }] });
      await h.patchStatus('app', { pauseConditions: null });
      await h.patchSpec('app', { strategy: { canary: { steps: [{ setWeight: 50 }], stableService: 'missing' } } });
    },
  },
];

const slug = (s: string) =>
  s
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .toLowerCase();

rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
let written = 0;
// One case per scenario and transition; the first deploy and a new revision only once per strategy.
const seen = new Set<string>();
const once = new Set(['RolloutCreated', 'RolloutUpdated']);
for (const scenario of scenarios) {
  const captured: Planned[] = [];
  const h = await startHarness({ onPlanned: (p) => captured.push(structuredClone(p)) });
  try {
    await scenario.run(h);
  } finally {
    await h.stop();
  }
  for (const p of captured) {
    const reasons = p.plan.actions.flatMap((a) => (a.type === 'event' ? [a.reason] : []));
    if (reasons.length === 0) continue; // a transition is what makes a case worth pinning
    const key = reasons.every((r) => once.has(r)) ? `${scenario.strategy} ${reasons.join(' ')}` : `${scenario.name} ${reasons.join(' ')}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const label = slug(`${scenario.name} ${reasons.join(' ')}`);
    const file = join(dir, `${scenario.strategy}--${label}.json`);
    writeFileSync(file, `${JSON.stringify({ observed: p.observed, now: p.now.toISOString(), expected: p.plan }, null, 1)}\n`);
    written++;
  }
}
console.log(`wrote ${written} golden cases (${readdirSync(dir).length} files) in ${dir}`);
