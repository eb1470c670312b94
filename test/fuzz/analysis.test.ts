// Fuzz: AnalysisRun specs with random parts changed (intervals, counts, limits, conditions,
// timeouts) through validation, measurement verdicts of arbitrary query results and the
// run status: nothing throws, and every requeue is finite and within the timer limit.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AnalysisRunSpec, type Measurement } from '../../src/api/analysis.ts';
import type { MetricQueryOutcome } from '../../src/core/analysis/metric-query.ts';
import { assessMeasurement } from '../../src/core/analysis/verdicts.ts';
import { calculateRunStatus } from '../../src/core/analysis/run-status.ts';
import { compileMetrics } from '../../src/core/analysis/compile.ts';
import { MAX_TIMER_MS } from '../../src/ports/clock.ts';
import { fuzzOptions } from '../helpers/fuzz.ts';
import { mutated } from '../helpers/mutate.ts';

const spec = {
  args: [{ name: 'svc', value: 'web' }],
  metrics: [
    {
      name: 'error-rate',
      interval: '10s',
      count: 3,
      failureLimit: 1,
      successCondition: 'result[0] <= 0.05',
      provider: { prometheus: { address: 'http://prometheus:9090', query: 'sum(rate(errors{svc="{{args.svc}}"}[1m]))', timeout: 10 } },
    },
    {
      name: 'latency',
      interval: '1m',
      failureCondition: 'result.exists(x, x > 0.5)',
      provider: { prometheus: { address: 'http://prometheus:9090', query: 'latency' } },
    },
  ],
};

const outcome: fc.Arbitrary<MetricQueryOutcome> = fc.oneof(
  fc
    .array(fc.double(), { maxLength: 20 })
    .map((values) => ({ ok: true as const, result: { type: 'vector' as const, series: values.map((value) => ({ labels: {}, value })) } })),
  fc.double().map((value) => ({ ok: true as const, result: { type: 'scalar' as const, value } })),
  fc
    .array(fc.array(fc.double(), { maxLength: 5 }), { maxLength: 4 })
    .map((series) => ({ ok: true as const, result: { type: 'matrix' as const, series: series.map((values) => ({ labels: {}, values })) } })),
  fc
    .constantFrom('unreachable', 'timeout', 'badResponse', 'queryError', 'http', 'config')
    .map((kind) => ({ ok: false as const, error: { kind, message: 'x' } })),
);
const T0 = Date.parse('2030-01-01T00:00:00Z');

describe('fuzz: analysis', () => {
  test('validation, verdicts and the run status never throw; requeues are finite and within the timer limit', () => {
    fc.assert(
      fc.property(
        mutated(spec),
        fc.array(fc.tuple(outcome, fc.integer({ min: 0, max: 40 * 86_400_000 })), { minLength: 1, maxLength: 6 }),
        (candidate, steps) => {
          const parsed = AnalysisRunSpec.safeParse(candidate);
          if (!parsed.success) return;
          const literal = new Map(
            (parsed.data.args ?? []).flatMap((a) => (a.value !== undefined ? [[a.name, { value: a.value, secret: false }] as const] : [])),
          );
          const compiled = compileMetrics(parsed.data, literal);
          if (!compiled.ok) {
            assert.equal(typeof compiled.error, 'string');
            return;
          }
          let run = { spec: parsed.data, status: undefined as ReturnType<typeof calculateRunStatus>['status'] | undefined };
          for (const [result, after] of steps) {
            const now = new Date(T0 + after);
            const measurements = new Map<string, Measurement>(
              compiled.value.map((c) => [c.metric.name, assessMeasurement(c, result, { query: 'q', startedAt: now, finishedAt: now })]),
            );
            const update = calculateRunStatus({ spec: run.spec, ...(run.status ? { status: run.status } : {}) }, compiled.value, measurements, now);
            JSON.stringify(update.status);
            if (update.requeueAfterMs !== undefined) {
              assert.ok(
                Number.isFinite(update.requeueAfterMs) && update.requeueAfterMs >= 0 && update.requeueAfterMs <= MAX_TIMER_MS,
                `requeue ${update.requeueAfterMs}`,
              );
            }
            run = { spec: run.spec, status: update.status };
          }
        },
      ),
      fuzzOptions(2),
    );
  });
});
