import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { actualWeight, calculateBudgets, calculateCanaryMove, canaryReplicasForWeight, resolveIntOrPercent } from './replicas.ts';

describe('replica arithmetic', () => {
  const table: Array<[number, number, number]> = [
    [10, 20, 2],
    [10, 25, 3],
    [3, 50, 2],
    [1, 1, 1],
    [5, 0, 0],
    [5, 100, 5],
  ];
  for (const [replicas, weight, expected] of table) {
    test(`canary pods for ${weight}% of ${replicas} = ${expected}`, () => assert.equal(canaryReplicasForWeight(replicas, weight), expected));
  }

  test('percentages round up for surge and down for unavailable; both zero becomes one unavailable', () => {
    assert.equal(resolveIntOrPercent('25%', 10, '0%', true), 3);
    assert.equal(resolveIntOrPercent('25%', 10, '0%', false), 2);
    assert.deepEqual(calculateBudgets(10, 0, 0), { maxSurge: 0, maxUnavailable: 1 });
    assert.deepEqual(calculateBudgets(4, undefined, undefined), { maxSurge: 1, maxUnavailable: 1 });
  });

  test('actual weight is the canary share of ready pods', () => {
    assert.equal(actualWeight(1, 2), 33);
    assert.equal(actualWeight(0, 0), 0);
    assert.equal(actualWeight(5, 0), 100);
  });
});

const scenario = fc
  .record({ replicas: fc.integer({ min: 1, max: 40 }), surge: fc.integer({ min: 0, max: 10 }), unavailable: fc.integer({ min: 0, max: 10 }) })
  .chain(({ replicas, surge, unavailable }) =>
    fc.record({
      replicas: fc.constant(replicas),
      surge: fc.constant(surge),
      unavailable: fc.constant(unavailable),
      canarySpec: fc.integer({ min: 0, max: replicas }),
      stableSpec: fc.integer({ min: 0, max: replicas }),
      canaryUnready: fc.integer({ min: 0, max: replicas }),
      stableUnready: fc.integer({ min: 0, max: replicas }),
      weight: fc.integer({ min: 0, max: 100 }),
    }),
  );

describe('calculateCanaryMove properties', () => {
  test('never takes total pods above replicas + maxSurge (unless already above), never below replicas - maxUnavailable available (unless already below)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const budgets = calculateBudgets(s.replicas, s.surge, s.unavailable);
        const canary = { spec: s.canarySpec, available: Math.max(0, s.canarySpec - s.canaryUnready) };
        const stable = { spec: s.stableSpec, available: Math.max(0, s.stableSpec - s.stableUnready) };
        const want = canaryReplicasForWeight(s.replicas, s.weight);
        const next = calculateCanaryMove(s.replicas, budgets, canary, stable, { spec: 0, available: 0 }, { canary: want, stable: s.replicas - want });
        const totalBefore = canary.spec + stable.spec;
        const totalAfter = next.canary + next.stable;
        assert.ok(totalAfter <= Math.max(s.replicas + budgets.maxSurge, totalBefore), `total ${totalAfter} > ${s.replicas}+${budgets.maxSurge}`);
        // Scaled-down ReplicaSets lose their unavailable pods first.
        const availableAfter = Math.min(canary.available, next.canary) + Math.min(stable.available, next.stable);
        const availableBefore = canary.available + stable.available;
        const floor = s.replicas - budgets.maxUnavailable;
        assert.ok(availableAfter >= Math.min(floor, availableBefore), `available ${availableAfter} < ${floor}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('repeated moves reach the targets once pods become available (no deadlock)', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const budgets = calculateBudgets(s.replicas, s.surge, s.unavailable);
        let canary = { spec: s.canarySpec, available: s.canarySpec };
        let stable = { spec: s.stableSpec, available: s.stableSpec };
        const want = canaryReplicasForWeight(s.replicas, s.weight);
        const targets = { canary: want, stable: s.replicas - want };
        for (let i = 0; i < 200; i++) {
          const next = calculateCanaryMove(s.replicas, budgets, canary, stable, { spec: 0, available: 0 }, targets);
          if (next.canary === canary.spec && next.stable === stable.spec) break;
          canary = { spec: next.canary, available: next.canary };
          stable = { spec: next.stable, available: next.stable };
        }
        assert.deepEqual({ canary: canary.spec, stable: stable.spec }, targets);
      }),
      { numRuns: 1000 },
    );
  });
});
