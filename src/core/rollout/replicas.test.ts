import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { IntOrPercent } from '../../api/meta.ts';
import { actualWeight, approximateWeight, calculateBudgets, calculateCanaryMove, canaryReplicasForWeight, resolveIntOrPercent } from './replicas.ts';

describe('replica arithmetic', () => {
  test('setCanaryScale weight: ceil(replicas * weight / 100)', () => {
    assert.equal(canaryReplicasForWeight(10, 25), 3);
    assert.equal(canaryReplicasForWeight(5, 0), 0);
    assert.equal(canaryReplicasForWeight(5, 100), 5);
  });

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

// Expected values from Argo Rollouts' own unit tests (utils/replicaset/canary_test.go, v1.10):
// [replicas, weight, maxSurge, expected canary, expected stable].
const approximations: Array<[number, number, number, number, number]> = [
  [0, 50, 1, 0, 0],
  [1, 0, 0, 0, 1],
  [1, 1, 0, 0, 1],
  [1, 49, 0, 0, 1],
  [1, 100, 0, 1, 0],
  [1, 0, 1, 0, 1],
  [1, 1, 1, 1, 1],
  [1, 49, 1, 1, 1],
  [1, 50, 1, 1, 1],
  [1, 99, 1, 1, 1],
  [1, 100, 1, 1, 0],
  [2, 0, 0, 0, 2],
  [2, 1, 0, 1, 1],
  [2, 50, 0, 1, 1],
  [2, 99, 0, 1, 1],
  [2, 100, 0, 2, 0],
  [2, 0, 1, 0, 2],
  [2, 1, 1, 1, 2],
  [2, 50, 1, 1, 1],
  [2, 99, 1, 2, 1],
  [2, 100, 1, 2, 0],
  [3, 10, 0, 1, 2],
  [3, 25, 0, 1, 2],
  [3, 33, 0, 1, 2],
  [3, 34, 0, 1, 2],
  [3, 49, 0, 1, 2],
  [3, 50, 0, 2, 1],
  [3, 10, 1, 1, 3],
  [3, 25, 1, 1, 3],
  [3, 33, 1, 1, 2],
  [3, 34, 1, 1, 2],
  [3, 49, 1, 2, 2],
  [3, 50, 1, 2, 2],
  [10, 0, 1, 0, 10],
  [10, 1, 0, 1, 9],
  [10, 14, 0, 1, 9],
  [10, 15, 0, 2, 8],
  [10, 16, 0, 2, 8],
  [10, 99, 0, 9, 1],
  [10, 100, 1, 10, 0],
  [10, 1, 1, 1, 10],
  [10, 18, 1, 2, 9],
  [10, 19, 1, 2, 9],
  [10, 20, 1, 2, 8],
  [10, 23, 1, 2, 8],
  [10, 24, 1, 3, 8],
  [10, 25, 1, 3, 8],
  [10, 99, 1, 10, 1],
];

describe("approximateWeight: the counts closest to a weight (Argo Rollouts' table)", () => {
  for (const [replicas, weight, surge, canary, stable] of approximations) {
    test(`${weight}% of ${replicas}, surge ${surge}: ${canary} canary + ${stable} stable`, () =>
      assert.deepEqual(approximateWeight(replicas, weight, surge), { canary, stable }));
  }
});

// Argo Rollouts' table for one move of the basic canary (TestCalculateReplicaCountsForCanary, the rows
// without traffic routing): [name, replicas, weight, maxSurge, maxUnavailable, stable spec, stable
// available, canary spec, canary available, older ReplicaSets' spec, expected stable, expected canary].
const moves: Array<[string, number, number, IntOrPercent, IntOrPercent, number, number, number, number, number, number, number]> = [
  ['Do not add extra RSs in scaleDownCount when .Spec.Replica < AvailableReplicas', 10, 100, 3, 0, 7, 8, 6, 3, 0, 7, 6],
  ['Use max surge int to scale up canary', 10, 20, 2, 0, 10, 10, 0, 0, 0, 10, 2],
  ['Use max surge percentage to scale up canary', 10, 20, '20%', 0, 10, 10, 0, 0, 0, 10, 2],
  ['Scale down extra stable replicas', 10, 20, '20%', 0, 10, 10, 2, 2, 0, 8, 2],
  ['Do not go past max surge', 10, 30, 2, 0, 10, 10, 0, 0, 0, 10, 2],
  ['Use max unavailable int to scale down stableRS', 10, 20, 0, 2, 10, 10, 0, 0, 0, 8, 0],
  ['Use max surge percentage to scale down stableRS', 10, 20, 0, '20%', 10, 10, 0, 0, 0, 8, 0],
  ['Do not go past max unavailable', 10, 30, 0, 2, 10, 10, 0, 0, 0, 8, 0],
  ['Use Max Surge and Max Unavailable', 10, 50, 2, 1, 10, 10, 0, 0, 0, 9, 2],
  ['Scale canaryRS to zero on setWeight of 0%', 10, 0, 1, 1, 10, 10, 1, 1, 0, 10, 0],
  ['Scale stable to zero on setWeight of 100%', 10, 100, 1, 1, 1, 1, 10, 10, 0, 0, 10],
  ['Do not scale canaryRS down to zero on non-zero weight', 1, 20, 1, 0, 1, 1, 0, 0, 0, 1, 1],
  ['Do not scale canaryRS down to zero on non-100 weight', 1, 90, 1, 0, 1, 1, 0, 0, 0, 1, 1],
  ['Scale canaryRS to zero on <50 weight without surge', 1, 49, 0, 1, 1, 1, 0, 0, 0, 1, 0],
  ['Scale up Stable before canaryRS', 10, 30, 1, 0, 1, 1, 0, 0, 3, 7, 1],
  ['Scale down canaryRS and stable', 10, 30, 0, 3, 8, 5, 4, 4, 0, 7, 3],
  ['Scale down stable and canary available', 10, 100, 1, 0, 10, 2, 10, 8, 0, 2, 9],
  ['Do not scale down canaryRS or stable when older RS count >= scaleDownCount', 10, 30, 0, 1, 8, 6, 4, 2, 3, 8, 4],
  ['Do not round past maxSurge with uneven setWeight divisor', 10, 5, 0, 1, 10, 10, 0, 0, 0, 9, 0],
  ['Do not round past maxSurge with uneven setWeight divisor (part 2)', 10, 5, 0, 1, 9, 9, 0, 0, 0, 9, 1],
  ['Use maxUnavailable of 1 when percentage of maxUnavailable and maxSurge result in 0 replicas', 10, 10, '0%', '0%', 10, 10, 0, 0, 0, 9, 0],
  ['honor maxSurge during scale up when stableRS unavailable', 4, 100, 1, 0, 4, 1, 0, 0, 0, 4, 1],
  ['scale down to maxunavailable without exceeding maxSurge', 3, 99, 0, 2, 3, 3, 0, 0, 0, 1, 0],
  ['scale down to maxunavailable without exceeding maxSurge (part 2)', 3, 99, 0, 2, 1, 1, 0, 0, 0, 1, 2],
  ['honor maxUnavailable when aborting or reducing weight part 1', 4, 0, 1, 0, 0, 0, 4, 4, 0, 1, 4],
  ['honor maxUnavailable when aborting or reducing weight part 2', 4, 0, 1, 0, 1, 0, 4, 4, 0, 1, 4],
  ['honor maxUnavailable when aborting or reducing weight part 3', 4, 0, 1, 0, 1, 1, 4, 4, 0, 1, 3],
];

describe("calculateCanaryMove: one move of the basic canary (Argo Rollouts' table)", () => {
  for (const [name, replicas, weight, surge, unavailable, ss, sa, cs, ca, older, expStable, expCanary] of moves) {
    test(name, () => {
      const budgets = calculateBudgets(replicas, surge, unavailable);
      const next = calculateCanaryMove({
        replicas,
        budgets,
        desired: approximateWeight(replicas, weight, budgets.maxSurge),
        canary: { spec: cs, available: ca },
        stable: { spec: ss, available: sa },
        othersSpec: older,
      });
      assert.deepEqual(next, { canary: expCanary, stable: expStable });
    });
  }
});

describe('where Sluice differs from Argo Rollouts on purpose', () => {
  test('below 100% the only pod of replicas 1 without surge stays stable (Argo: the canary takes it from 50%)', () => {
    assert.deepEqual(approximateWeight(1, 50, 0), { canary: 0, stable: 1 }); // Argo: 1 canary, 0 stable
    assert.deepEqual(approximateWeight(1, 99, 0), { canary: 0, stable: 1 }); // Argo: 1 canary, 0 stable
    assert.deepEqual(approximateWeight(1, 100, 0), { canary: 1, stable: 0 });
    const budgets = calculateBudgets(1, 0, 1);
    // Argo's rows "Scale stableRS down to zero on >=50 weight without surge" and "Scale canaryRS to one ...".
    assert.deepEqual(
      calculateCanaryMove({
        replicas: 1,
        budgets,
        desired: approximateWeight(1, 51, 0),
        canary: { spec: 0, available: 0 },
        stable: { spec: 1, available: 1 },
        othersSpec: 0,
      }),
      { canary: 0, stable: 1 },
    );
    assert.deepEqual(
      calculateCanaryMove({
        replicas: 1,
        budgets,
        desired: approximateWeight(1, 51, 0),
        canary: { spec: 0, available: 0 },
        stable: { spec: 0, available: 0 },
        othersSpec: 0,
      }),
      { canary: 0, stable: 1 },
    );
  });

  test('where Argo finds no candidate (75% of 2 pods without surge) it runs 0 canary pods; Sluice takes the floor', () => {
    assert.deepEqual(approximateWeight(2, 75, 0), { canary: 1, stable: 1 });
  });
});

/** Argo Rollouts' choice, restated literally (candidates as in utils/replicaset/canary.go), for the property below. */
function argoChoice(replicas: number, weight: number, surge: number): { canary: number; total: number } {
  if (replicas === 0) return { canary: 0, total: 0 };
  const ceil = Math.ceil((replicas * weight) / 100);
  const floor = Math.floor((replicas * weight) / 100);
  const tied = (t: number) => (t * weight) / 100 - Math.trunc((t * weight) / 100) === 0.5;
  const zeroOk = weight === 100 || weight === 0 || (replicas === 1 && surge === 0);
  const opts: Array<{ canary: number; total: number }> = [];
  if (ceil < replicas || zeroOk) opts.push({ canary: ceil, total: replicas });
  if (!tied(replicas) && (floor !== 0 || zeroOk)) opts.push({ canary: floor, total: replicas });
  if (surge > 0) {
    opts.push({ canary: ceil, total: replicas + 1 });
    if (!tied(replicas + 1) && (floor !== 0 || zeroOk)) opts.push({ canary: floor, total: replicas + 1 });
  }
  if (opts.length === 0) return { canary: 0, total: replicas };
  return opts.reduce((best, o) => (Math.abs((o.canary * 100) / o.total - weight) < Math.abs((best.canary * 100) / best.total - weight) ? o : best));
}

const weightCase = fc.record({ replicas: fc.integer({ min: 1, max: 60 }), weight: fc.integer({ min: 0, max: 100 }), surge: fc.integer({ min: 0, max: 5 }) });

describe('replica math properties', () => {
  test("the actual weight is never further from the desired one than Argo Rollouts' choice, except to keep a stable pod", () => {
    fc.assert(
      fc.property(weightCase, ({ replicas, weight, surge }) => {
        const ours = approximateWeight(replicas, weight, surge);
        const argo = argoChoice(replicas, weight, surge);
        const oursDistance = Math.abs((ours.canary * 100) / (ours.canary + ours.stable) - weight);
        const argoDistance = Math.abs((argo.canary * 100) / argo.total - weight);
        const argoZeroesStable = weight < 100 && argo.canary === argo.total;
        if (!argoZeroesStable)
          assert.ok(oursDistance <= argoDistance + 1e-9, `ours ${JSON.stringify(ours)} (${oursDistance}) vs Argo ${JSON.stringify(argo)} (${argoDistance})`);
        assert.ok(ours.canary + ours.stable <= replicas + (surge > 0 ? 1 : 0), 'at most one pod over replicas, and only with a surge');
      }),
      { numRuns: 2000 },
    );
  });

  test('stable is never scaled to 0 while the desired weight is below 100', () => {
    const moveCase = weightCase.chain((c) =>
      fc.record({
        c: fc.constant(c),
        unavailable: fc.integer({ min: 0, max: 5 }),
        stableSpec: fc.integer({ min: 1, max: c.replicas + 2 }),
        stableUnready: fc.integer({ min: 0, max: c.replicas }),
        canarySpec: fc.integer({ min: 0, max: c.replicas + 2 }),
        canaryUnready: fc.integer({ min: 0, max: c.replicas }),
        older: fc.integer({ min: 0, max: 3 }),
      }),
    );
    fc.assert(
      fc.property(moveCase, ({ c, unavailable, stableSpec, stableUnready, canarySpec, canaryUnready, older }) => {
        fc.pre(c.weight < 100);
        const budgets = calculateBudgets(c.replicas, c.surge, unavailable);
        const next = calculateCanaryMove({
          replicas: c.replicas,
          budgets,
          desired: approximateWeight(c.replicas, c.weight, budgets.maxSurge),
          canary: { spec: canarySpec, available: Math.max(0, canarySpec - canaryUnready) },
          stable: { spec: stableSpec, available: Math.max(0, stableSpec - stableUnready) },
          othersSpec: older,
        });
        assert.ok(next.stable >= 1, `stable scaled to ${next.stable} at ${c.weight}%`);
      }),
      { numRuns: 2000 },
    );
  });

  test('a move never adds pods beyond replicas + maxSurge, and never takes available pods below replicas - maxUnavailable by scaling down', () => {
    const moveCase = weightCase.chain((c) =>
      fc.record({
        c: fc.constant(c),
        unavailable: fc.integer({ min: 0, max: 5 }),
        stableSpec: fc.integer({ min: 0, max: c.replicas }),
        stableUnready: fc.integer({ min: 0, max: c.replicas }),
        canarySpec: fc.integer({ min: 0, max: c.replicas }),
        canaryUnready: fc.integer({ min: 0, max: c.replicas }),
      }),
    );
    fc.assert(
      fc.property(moveCase, ({ c, unavailable, stableSpec, stableUnready, canarySpec, canaryUnready }) => {
        const budgets = calculateBudgets(c.replicas, c.surge, unavailable);
        const canary = { spec: canarySpec, available: Math.max(0, canarySpec - canaryUnready) };
        const stable = { spec: stableSpec, available: Math.max(0, stableSpec - stableUnready) };
        const next = calculateCanaryMove({
          replicas: c.replicas,
          budgets,
          desired: approximateWeight(c.replicas, c.weight, budgets.maxSurge),
          canary,
          stable,
          othersSpec: 0,
        });
        const before = canary.spec + stable.spec;
        assert.ok(next.canary + next.stable <= Math.max(before, c.replicas + budgets.maxSurge), 'surge respected');
        // Pods removed come from the unavailable ones first; what is left available is counted.
        const availAfter = Math.min(canary.available, next.canary) + Math.min(stable.available, next.stable);
        const availBefore = canary.available + stable.available;
        if (next.canary < canary.spec || next.stable < stable.spec) {
          assert.ok(availAfter >= Math.min(availBefore, c.replicas - budgets.maxUnavailable), `available ${availBefore} -> ${availAfter}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
