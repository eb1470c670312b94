// Fuzz: the Rollout planner on the golden inputs (observed states captured from real
// reconciles) with random parts changed and the clock moved: plan() never throws, every
// replica count it asks for is a whole number >= 0, and every requeue is finite, >= 0 and
// within the timer limit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { plan } from '../../src/core/rollout/plan.ts';
import { parseReplayInput } from '../../src/core/rollout/replay.ts';
import { MAX_TIMER_MS } from '../../src/ports/clock.ts';
import { fuzzOptions } from '../helpers/fuzz.ts';
import { mutated } from '../helpers/mutate.ts';

const dir = join(import.meta.dirname, '..', '..', 'src', 'core', 'rollout', 'golden');
const inputs = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .map((f) => {
    const { expected: _expected, ...input } = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { expected: unknown; observed: unknown; now: string };
    return input;
  });

const shifted = (now: string, ms: number) => new Date(Date.parse(now) + ms).toISOString();
const clockShift = fc.oneof(
  fc.constant(0),
  fc.integer({ min: -3600_000, max: 3600_000 }),
  fc.constantFrom(-1, 1, 86_400_000, 40 * 86_400_000, 400 * 86_400_000, -400 * 86_400_000),
);

/**
 * What the API server guarantees and the schemas leave to it (ObjectMeta is loose): a Rollout
 * has a name (put back when a mutation removed it; plan() throws without one), finalizers and
 * ownerReferences are lists (inputs where a mutation broke that are skipped).
 */
function asTheApiServerGives(observed: unknown): unknown | undefined {
  const o = observed as { rollout?: { metadata?: Record<string, unknown> }; replicaSets?: unknown; pods?: unknown };
  const objects = [o?.rollout, ...(Array.isArray(o?.replicaSets) ? o.replicaSets : []), ...(Array.isArray(o?.pods) ? o.pods : [])] as Array<
    { metadata?: Record<string, unknown> } | undefined
  >;
  for (const obj of objects) {
    const m = obj?.metadata;
    if (!m || typeof m !== 'object') continue;
    const { finalizers, ownerReferences } = m;
    if (finalizers !== undefined && !(Array.isArray(finalizers) && finalizers.every((f) => typeof f === 'string'))) return undefined;
    if (ownerReferences !== undefined && !(Array.isArray(ownerReferences) && ownerReferences.every((r) => r !== null && typeof r === 'object')))
      return undefined;
  }
  const meta = o?.rollout?.metadata;
  if (meta && typeof meta === 'object' && typeof meta.name !== 'string') return { ...o, rollout: { ...o.rollout, metadata: { ...meta, name: 'app' } } };
  return observed;
}

describe('fuzz: the Rollout planner', () => {
  test('plan() never throws; replica counts are whole and >= 0; requeues are finite and within the timer limit', () => {
    let planned = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs).chain((input) => fc.tuple(mutated(input.observed), clockShift, fc.constant(input.now))),
        ([observed, shift, now]) => {
          const shaped = asTheApiServerGives(observed);
          if (shaped === undefined) return;
          const parsed = parseReplayInput({ observed: shaped, now: shifted(now, shift) });
          if (!parsed.ok) return; // the controller would not get here either: the schemas refuse it
          planned++;
          const p = plan(parsed.value.observed, parsed.value.now);
          JSON.stringify(p);
          if (p.requeueAfterMs !== undefined) {
            assert.ok(Number.isFinite(p.requeueAfterMs) && p.requeueAfterMs >= 0, `requeue ${p.requeueAfterMs}`);
            assert.ok(p.requeueAfterMs <= MAX_TIMER_MS, `requeue ${p.requeueAfterMs} ms is beyond the timer limit`);
          }
          for (const a of p.actions) {
            const replicas =
              a.type === 'scaleReplicaSet' || a.type === 'scaleDeployment'
                ? a.replicas
                : a.type === 'createReplicaSet'
                  ? a.replicaSet.spec?.replicas
                  : undefined;
            if (replicas !== undefined) assert.ok(Number.isInteger(replicas) && replicas >= 0, `${a.type} to ${replicas}`);
          }
        },
      ),
      fuzzOptions(5),
    );
    assert.ok(planned > 0, 'some mutated inputs still parse');
  });
});
