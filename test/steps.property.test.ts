// Step progression over the whole controller loop: random step lists, every step completes
// exactly once and in order, and each setWeight is reached before the next step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { kinds } from '../src/ports/kube.ts';
import { canaryRollout, startHarness } from './helpers/harness.ts';

const step = fc.oneof(
  fc.integer({ min: 0, max: 100 }).map((w) => ({ setWeight: w })),
  fc.integer({ min: 1, max: 120 }).map((s) => ({ pause: { duration: `${s}s` } })),
);

test('steps complete once each, in order, never skipping a weight', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 12 }), async (steps, replicas) => {
      const h = await startHarness();
      try {
        await h.kube.create(kinds.rollout, canaryRollout({ steps, maxSurge: '25%', maxUnavailable: '25%' }, { replicas }));
        await h.settle();
        await h.setImage('app', 'example/app:v2');
        const seenWeights: number[] = [];
        for (let i = 0; i < 50 && h.rollout().status.phase !== 'Healthy'; i++) {
          const s = h.rollout().status;
          if (s.desiredWeight !== undefined && seenWeights.at(-1) !== s.desiredWeight) seenWeights.push(s.desiredWeight);
          await h.advance(30_000);
        }
        assert.equal(h.rollout().status.phase, 'Healthy');
        const completed = h
          .events()
          .filter((e) => e.startsWith('StepCompleted'))
          .map((e) => Number(/Step (\d+)\//.exec(e)?.[1]));
        assert.deepEqual(
          completed,
          steps.map((_, i) => i + 1),
        );
        const weights = steps.filter((st) => 'setWeight' in st).map((st) => (st as { setWeight: number }).setWeight);
        for (const w of seenWeights) assert.ok(w === 100 || w === 0 || weights.includes(w), `unexpected weight ${w}`);
      } finally {
        await h.stop();
      }
    }),
    { numRuns: 25 },
  );
});
