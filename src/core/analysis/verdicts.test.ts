import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AnalysisRun, Measurement, MeasurementPhase, Metric, MetricResult, NoDataPolicy } from '../../api/analysis.ts';
import {
  assessMeasurement,
  calculateMetricPhase,
  calculateRunPhase,
  measurementRetentionFor,
  recordMeasurement,
  errorMeasurement,
  toConditionData,
} from './verdicts.ts';
import { calculateNextMeasurementAt, calculateRunStatus, dueMetrics, invalidRunStatus } from './run-status.ts';
import { compileMetrics, type CompiledMetric } from './compile.ts';
import { effectiveCount, isCompleted, MAX_MEASUREMENT_MESSAGE_LENGTH, MAX_MEASUREMENT_QUERY_LENGTH, MAX_MEASUREMENT_VALUE_LENGTH } from './defaults.ts';
import type { MetricQueryOutcome, MetricQueryResult } from './metric-query.ts';

const T0 = new Date('2030-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);

function metric(over: Partial<Metric> = {}): Metric {
  return {
    name: 'error-rate',
    successCondition: 'result[0] <= 0.05',
    provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'sum(rate(errors[1m]))' } },
    ...over,
  };
}

function compile(m: Metric, args: Record<string, string> = {}): CompiledMetric {
  const argList = Object.entries(args).map(([name, value]) => ({ name, value }));
  const literal = new Map(argList.map((a) => [a.name, { value: a.value, secret: false }]));
  const r = compileMetrics({ metrics: [m], args: argList }, literal);
  if (!r.ok) throw new Error(r.error);
  return r.value[0] as CompiledMetric;
}

const vector = (...values: number[]): MetricQueryOutcome => ({
  ok: true,
  result: { type: 'vector', series: values.map((value, i) => ({ labels: { pod: `p${i}` }, value })) },
});
const scalar = (value: number): MetricQueryOutcome => ({ ok: true, result: { type: 'scalar', value } });
const matrix = (...series: number[][]): MetricQueryOutcome => ({
  ok: true,
  result: { type: 'matrix', series: series.map((values) => ({ labels: {}, values })) },
});
const ctx = { query: 'q', startedAt: T0, finishedAt: at(100) };

describe('measurement verdicts', () => {
  const S = 'result[0] <= 0.05';
  const F = 'result[0] > 0.05';
  const cases: Array<{
    name: string;
    success?: string;
    failure?: string;
    policy?: NoDataPolicy;
    outcome: MetricQueryOutcome;
    range?: boolean;
    phase: MeasurementPhase;
    message: string | RegExp;
    noData?: boolean;
  }> = [
    { name: 'success only, true', success: S, outcome: vector(0.01), phase: 'Successful', message: '0.01 <= 0.05' },
    { name: 'success only, false = failed', success: S, outcome: vector(0.23), phase: 'Failed', message: '0.23 > 0.05' },
    { name: 'failure only, true', failure: F, outcome: vector(0.23), phase: 'Failed', message: '0.23 > 0.05' },
    { name: 'failure only, false = successful', failure: F, outcome: vector(0.01), phase: 'Successful', message: '0.01 <= 0.05' },
    { name: 'both, success true', success: 'result[0] <= 0.01', failure: F, outcome: vector(0.005), phase: 'Successful', message: '0.005 <= 0.01' },
    { name: 'both, failure true', success: 'result[0] <= 0.01', failure: F, outcome: vector(0.1), phase: 'Failed', message: '0.1 > 0.05' },
    {
      name: 'both, neither true = inconclusive',
      success: 'result[0] <= 0.01',
      failure: F,
      outcome: vector(0.03),
      phase: 'Inconclusive',
      message: 'neither condition met: 0.03 > 0.01; 0.03 <= 0.05',
    },
    { name: 'both true: failure wins', success: 'result[0] >= 0', failure: F, outcome: vector(0.1), phase: 'Failed', message: '0.1 > 0.05' },
    { name: 'scalar', success: 'result < 1', outcome: scalar(0.5), phase: 'Successful', message: '0.5 < 1' },
    { name: '&& explains the false part', success: 'result[0] >= 0.95 && result[1] < 10', outcome: vector(0.97, 12), phase: 'Failed', message: '12 >= 10' },
    {
      name: 'comprehension falls back to the expression',
      success: 'result.all(x, x < 0.05)',
      outcome: vector(0.01, 0.2),
      phase: 'Failed',
      message: 'result.all(x, x < 0.05) is false',
    },
    // no data
    {
      name: 'empty vector: default policy Inconclusive',
      success: S,
      outcome: vector(),
      phase: 'Inconclusive',
      message: 'no data (empty vector): noDataPolicy Inconclusive',
      noData: true,
    },
    {
      name: 'empty vector: policy Failed',
      success: S,
      policy: 'Failed',
      outcome: vector(),
      phase: 'Failed',
      message: 'no data (empty vector): noDataPolicy Failed',
      noData: true,
    },
    {
      name: 'empty vector: policy Error',
      success: S,
      policy: 'Error',
      outcome: vector(),
      phase: 'Error',
      message: 'no data (empty vector): noDataPolicy Error',
      noData: true,
    },
    {
      name: 'empty vector: policy Successful',
      success: S,
      policy: 'Successful',
      outcome: vector(),
      phase: 'Successful',
      message: 'no data (empty vector): noDataPolicy Successful',
      noData: true,
    },
    { name: 'failure-only on empty vector is not a silent pass', failure: F, outcome: vector(), phase: 'Inconclusive', message: /^no data/, noData: true },
    {
      name: 'NaN scalar is no data',
      success: 'result < 1',
      outcome: scalar(NaN),
      phase: 'Inconclusive',
      message: 'no data (NaN): noDataPolicy Inconclusive',
      noData: true,
    },
    {
      name: 'failure-only on NaN is not a silent pass',
      failure: 'result > 0.05',
      outcome: scalar(NaN),
      phase: 'Inconclusive',
      message: /no data \(NaN\)/,
      noData: true,
    },
    {
      name: 'a NaN series among others is no data',
      failure: F,
      outcome: vector(0.01, NaN),
      phase: 'Inconclusive',
      message: 'no data (NaN in 1 of 2 series): noDataPolicy Inconclusive',
      noData: true,
    },
    {
      name: 'Evaluate hands empty data to the conditions',
      success: 'size(result) == 0 || result[0] < 0.05',
      policy: 'Evaluate',
      outcome: vector(),
      phase: 'Successful',
      message: /^no data \(empty vector\), evaluated: /,
      noData: true,
    },
    {
      name: 'Evaluate with an index out of range = error',
      success: 'result[0] < 0.05',
      policy: 'Evaluate',
      outcome: vector(),
      phase: 'Error',
      message: /could not be evaluated with result \[\]: index 0 out of bounds/,
      noData: true,
    },
    // infinities are values
    { name: '+Inf fails an upper bound', success: S, outcome: vector(Infinity), phase: 'Failed', message: '+Inf > 0.05' },
    { name: '-Inf fails a lower bound', success: 'result[0] >= 0.95', outcome: vector(-Infinity), phase: 'Failed', message: '-Inf < 0.95' },
    { name: 'indexing a scalar = error', failure: F, outcome: scalar(Infinity), phase: 'Error', message: /could not be evaluated/ },
    // errors
    {
      name: 'index out of range with data = error',
      success: 'result[1] < 1',
      outcome: vector(0.5),
      phase: 'Error',
      message: /successCondition "result\[1\] < 1" could not be evaluated with result \[0.5\]: index 1 out of bounds/,
    },
    {
      name: 'non-boolean condition = error',
      success: 'result[0]',
      outcome: vector(0.5),
      phase: 'Error',
      message: /returned 0.5 \(double\), expected true or false/,
    },
    {
      name: 'unreachable',
      success: S,
      outcome: { ok: false, error: { kind: 'unreachable', message: 'http://127.0.0.1:1: connect ECONNREFUSED' } },
      phase: 'Error',
      message: 'Prometheus unreachable: http://127.0.0.1:1: connect ECONNREFUSED',
    },
    {
      name: 'timeout',
      success: S,
      outcome: { ok: false, error: { kind: 'timeout', message: 'no answer within 100ms' } },
      phase: 'Error',
      message: 'query timed out: no answer within 100ms',
    },
    {
      name: 'PromQL error',
      success: S,
      outcome: { ok: false, error: { kind: 'queryError', message: 'bad_data: 1:5: parse error' } },
      phase: 'Error',
      message: 'query error: bad_data: 1:5: parse error',
    },
    {
      name: 'HTML reply',
      success: S,
      outcome: { ok: false, error: { kind: 'badResponse', message: 'expected JSON, got an HTML page' } },
      phase: 'Error',
      message: 'bad response: expected JSON, got an HTML page',
    },
    {
      name: 'matrix for an instant query = error',
      success: S,
      outcome: matrix([0.1, 0.2]),
      phase: 'Error',
      message: /range vector \(matrix\) where an instant vector or scalar was expected/,
    },
    // range queries
    {
      name: 'range: flat list of samples',
      success: 'result.all(x, x < 1)',
      outcome: matrix([0.1, 0.2], [0.3]),
      range: true,
      phase: 'Successful',
      message: /result.all/,
    },
    { name: 'range: a failing sample', success: 'result.all(x, x < 1)', outcome: matrix([0.1, 2], [0.3]), range: true, phase: 'Failed', message: /is false/ },
    {
      name: 'range: no samples is no data',
      success: 'result.all(x, x < 1)',
      outcome: matrix([], []),
      range: true,
      phase: 'Inconclusive',
      message: 'no data (no samples in range): noDataPolicy Inconclusive',
      noData: true,
    },
    {
      name: 'range: vector reply = error',
      success: 'result.all(x, x < 1)',
      outcome: vector(1),
      range: true,
      phase: 'Error',
      message: /range query returned a vector/,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const m = metric({
        successCondition: c.success,
        failureCondition: c.failure,
        noDataPolicy: c.policy,
        ...(c.range ? { provider: { prometheus: { address: 'http://x', query: 'q', rangeQuery: { range: '10m', step: '1m' } } } } : {}),
      });
      if (c.success === undefined) delete m.successCondition;
      if (c.failure === undefined) delete m.failureCondition;
      if (c.policy === undefined) delete m.noDataPolicy;
      const got = assessMeasurement(compile(m), c.outcome, ctx);
      assert.equal(got.phase, c.phase, got.message);
      if (typeof c.message === 'string') assert.equal(got.message, c.message);
      else assert.match(got.message, c.message);
      assert.equal(got.noData === true, c.noData === true, 'noData flag');
      assert.equal(got.query, 'q');
      assert.equal(got.startedAt, T0.toISOString());
      assert.equal(got.finishedAt, at(100).toISOString());
    });
  }

  test('a measurement keeps query, value, condition, verdict and time', () => {
    const got = assessMeasurement(compile(metric()), vector(0.23), { query: 'sum(x)', startedAt: T0, finishedAt: at(5) });
    assert.deepEqual(got, {
      phase: 'Failed',
      startedAt: T0.toISOString(),
      finishedAt: at(5).toISOString(),
      query: 'sum(x)',
      value: '[0.23]',
      condition: 'successCondition: result[0] <= 0.05',
      message: '0.23 > 0.05',
    });
  });

  test('+Inf and NaN are written as Prometheus writes them', () => {
    assert.equal(assessMeasurement(compile(metric()), vector(Infinity), ctx).value, '[+Inf]');
    assert.equal(assessMeasurement(compile(metric()), scalar(NaN), ctx).value, 'NaN');
  });

  test('args in conditions are substituted before compiling', () => {
    const m = compile(metric({ successCondition: 'result[0] <= {{args.max}}' }), { max: '0.1' });
    assert.equal(assessMeasurement(m, vector(0.2), ctx).message, '0.2 > 0.1');
  });
});

describe('toConditionData', () => {
  const table: Array<[string, MetricQueryResult, 'instant' | 'range', unknown, string | undefined]> = [
    [
      'vector -> list per series',
      {
        type: 'vector',
        series: [
          { labels: {}, value: 1 },
          { labels: {}, value: 2 },
        ],
      },
      'instant',
      [1, 2],
      undefined,
    ],
    ['scalar -> number', { type: 'scalar', value: 3 }, 'instant', 3, undefined],
    [
      'matrix -> flat list',
      {
        type: 'matrix',
        series: [
          { labels: {}, values: [1, 2] },
          { labels: {}, values: [3] },
        ],
      },
      'range',
      [1, 2, 3],
      undefined,
    ],
    ['empty vector', { type: 'vector', series: [] }, 'instant', [], 'empty vector'],
    ['empty matrix', { type: 'matrix', series: [] }, 'range', [], 'empty matrix'],
    ['NaN sample in a matrix', { type: 'matrix', series: [{ labels: {}, values: [1, NaN] }] }, 'range', [1, NaN], 'NaN in 1 of 2 samples'],
  ];
  for (const [name, result, kind, input, noData] of table) {
    test(name, () => {
      const r = toConditionData(result, kind);
      assert.ok(r.ok);
      assert.deepEqual(r.value.input, input);
      assert.equal(r.value.noData, noData);
    });
  }
});

// A metric result after a sequence of verdicts ('S', 'F', 'I', 'E').
function resultAfter(m: Metric, verdicts: string, retention = 10): MetricResult | undefined {
  const phases: Record<string, MeasurementPhase> = { S: 'Successful', F: 'Failed', I: 'Inconclusive', E: 'Error' };
  let r: MetricResult | undefined;
  [...verdicts].forEach((v, i) => {
    const m2: Measurement = {
      phase: phases[v] as MeasurementPhase,
      startedAt: at(i * 1000).toISOString(),
      finishedAt: at(i * 1000 + 10).toISOString(),
      message: `m${i} ${v}`,
    };
    r = recordMeasurement(r, m.name, m2, retention);
  });
  return r;
}

describe('metric phase from measurements and limits', () => {
  const table: Array<{ limits: Partial<Metric>; verdicts: string; terminating?: boolean; phase: string; message?: string | RegExp }> = [
    { limits: {}, verdicts: '', phase: 'Pending', message: 'waiting for the first measurement' },
    { limits: {}, verdicts: '', terminating: true, phase: 'Successful', message: 'terminated before the first measurement' },
    // count unset, no interval: one measurement
    { limits: {}, verdicts: 'S', phase: 'Successful', message: 'm0 S (1 of 1 successful)' },
    { limits: {}, verdicts: 'F', phase: 'Failed', message: 'm0 F (failed 1 > failureLimit 0)' },
    { limits: {}, verdicts: 'I', phase: 'Inconclusive', message: 'm0 I (inconclusive 1 > inconclusiveLimit 0)' },
    // errors: retried, do not count towards count; Error after > consecutiveErrorLimit (default 4)
    { limits: {}, verdicts: 'E', phase: 'Running', message: /1 consecutive errors/ },
    { limits: {}, verdicts: 'EEEE', phase: 'Running' },
    { limits: {}, verdicts: 'EEEEE', phase: 'Error', message: 'm4 E (5 consecutive errors > consecutiveErrorLimit 4)' },
    { limits: {}, verdicts: 'EEEES', phase: 'Successful', message: 'm4 S (1 of 1 successful, 4 errors)' },
    { limits: { consecutiveErrorLimit: 0 }, verdicts: 'E', phase: 'Error', message: 'm0 E (1 consecutive errors > consecutiveErrorLimit 0)' },
    { limits: { consecutiveErrorLimit: 2, count: 5, interval: '1m' }, verdicts: 'EESEE', phase: 'Running' },
    { limits: { consecutiveErrorLimit: 2, count: 5, interval: '1m' }, verdicts: 'EESEEE', phase: 'Error' },
    { limits: { count: 2, interval: '1m' }, verdicts: 'SEE', phase: 'Running' },
    { limits: { count: 2, interval: '1m' }, verdicts: 'SES', phase: 'Successful' },
    // failureLimit
    { limits: { failureLimit: 1, count: 3, interval: '1m' }, verdicts: 'FS', phase: 'Running', message: 'm1 S (measurement 2 of 3)' },
    {
      limits: { failureLimit: 1, count: 3, interval: '1m' },
      verdicts: 'FSS',
      phase: 'Successful',
      message: 'm2 S (2 of 3 successful, failed 1 <= failureLimit 1)',
    },
    { limits: { failureLimit: 1, count: 3, interval: '1m' }, verdicts: 'FF', phase: 'Failed', message: 'm1 F (failed 2 > failureLimit 1)' },
    { limits: { failureLimit: 1, count: 5, interval: '1m' }, verdicts: 'FSSF', phase: 'Failed' },
    // inconclusiveLimit
    { limits: { inconclusiveLimit: 1, count: 3, interval: '1m' }, verdicts: 'ISS', phase: 'Successful', message: /inconclusive 1 <= inconclusiveLimit 1/ },
    {
      limits: { inconclusiveLimit: 1, count: 3, interval: '1m' },
      verdicts: 'II',
      phase: 'Inconclusive',
      message: 'm1 I (inconclusive 2 > inconclusiveLimit 1)',
    },
    // failure is judged before inconclusive
    { limits: { count: 3, interval: '1m', inconclusiveLimit: 5 }, verdicts: 'IF', phase: 'Failed' },
    // no count with an interval: until terminated
    { limits: { interval: '30s' }, verdicts: 'SSSSSSSSSS', phase: 'Running', message: 'm9 S (measurement 10, until terminated)' },
    { limits: { interval: '30s' }, verdicts: 'SSS', terminating: true, phase: 'Successful', message: 'terminated after 3 measurements: m2 S' },
    { limits: { count: 0, interval: '30s' }, verdicts: 'SSS', phase: 'Running' },
    // terminating does not hide a failure
    { limits: { interval: '30s' }, verdicts: 'SF', terminating: true, phase: 'Failed' },
  ];
  for (const row of table) {
    test(`${JSON.stringify(row.limits)} ${row.verdicts || '(none)'}${row.terminating ? ' terminating' : ''} -> ${row.phase}`, () => {
      const m = metric(row.limits);
      const got = calculateMetricPhase(m, resultAfter(m, row.verdicts), row.terminating === true);
      assert.equal(got.phase, row.phase, got.message);
      if (typeof row.message === 'string') assert.equal(got.message, row.message);
      else if (row.message) assert.match(got.message, row.message);
    });
  }

  test('a completed phase never changes', () => {
    const m = metric({ count: 5, interval: '1m' });
    const r = { ...(resultAfter(m, 'S') as MetricResult), phase: 'Failed' as const, message: 'earlier' };
    assert.deepEqual(calculateMetricPhase(m, r, false), { phase: 'Failed', message: 'earlier' });
  });

  test('counters outlive the bounded history', () => {
    const m = metric({ interval: '1m' });
    const r = resultAfter(m, 'SSSSSSSSSSSF', 10) as MetricResult;
    assert.equal(r.measurements?.length, 10);
    assert.equal(r.count, 12);
    assert.equal(r.failed, 1);
    assert.equal(calculateMetricPhase(m, r, false).phase, 'Failed');
    assert.equal(resultAfter(m, 'SSSS', 3)?.measurements?.length, 3);
  });

  test('effectiveCount', () => {
    assert.equal(effectiveCount({}), 1);
    assert.equal(effectiveCount({ count: 3, interval: '1m' }), 3);
    assert.equal(effectiveCount({ interval: '1m' }), undefined);
    assert.equal(effectiveCount({ count: 0, interval: '1m' }), undefined);
    assert.equal(effectiveCount({ count: 0 }), 1);
  });

  test('measurementRetention by name, then *, then 10', () => {
    const spec = {
      measurementRetention: [
        { metricName: '*', limit: 4 },
        { metricName: 'a', limit: 2 },
      ],
    };
    assert.equal(measurementRetentionFor(spec, 'a'), 2);
    assert.equal(measurementRetentionFor(spec, 'b'), 4);
    assert.equal(measurementRetentionFor({}, 'b'), 10);
  });
});

describe('run phase = worst metric', () => {
  const table: Array<[string[], string]> = [
    [[], 'Running'],
    [['Pending', 'Pending'], 'Pending'],
    [['Pending', 'Running'], 'Running'],
    [['Running', 'Successful'], 'Running'],
    [['Successful', 'Successful'], 'Successful'],
    [['Successful', 'Inconclusive'], 'Inconclusive'],
    [['Inconclusive', 'Error'], 'Error'],
    [['Error', 'Failed', 'Successful'], 'Failed'],
  ];
  for (const [phases, expected] of table) {
    test(`${phases.join(', ') || '(none)'} -> ${expected}`, () => {
      assert.equal(calculateRunPhase(phases as never), expected);
    });
  }
});

describe('next measurement', () => {
  const started = T0;
  const table: Array<{ name: string; m: Partial<Metric>; verdicts: string; terminating?: boolean; expected: number | undefined }> = [
    { name: 'first at start', m: {}, verdicts: '', expected: 0 },
    { name: 'first after initialDelay', m: { initialDelay: '1m' }, verdicts: '', expected: 60_000 },
    { name: 'next after interval from the last finish', m: { interval: '30s', count: 3 }, verdicts: 'S', expected: 10 + 30_000 },
    { name: 'error without interval: retry after 10s', m: {}, verdicts: 'E', expected: 10 + 10_000 },
    { name: 'error with interval: retry after interval', m: { interval: '1m', count: 2 }, verdicts: 'E', expected: 10 + 60_000 },
    { name: 'count reached', m: { interval: '30s', count: 2 }, verdicts: 'SS', expected: undefined },
    { name: 'single measurement taken', m: {}, verdicts: 'S', expected: undefined },
    { name: 'terminating', m: { interval: '30s' }, verdicts: 'S', terminating: true, expected: undefined },
  ];
  for (const row of table) {
    test(row.name, () => {
      const m = metric(row.m);
      const r = resultAfter(m, row.verdicts);
      const last = r?.measurements?.at(-1);
      const next = calculateNextMeasurementAt(compile(m), r, started, row.terminating === true);
      if (row.expected === undefined) return assert.equal(next, undefined);
      const base = last ? Date.parse(last.finishedAt) - 10 : T0.getTime();
      assert.equal(next?.getTime(), base + row.expected);
    });
  }
});

function run(metrics: Metric[], status?: AnalysisRun['status'], terminate?: boolean): Pick<AnalysisRun, 'spec' | 'status'> {
  return { spec: { metrics, ...(terminate ? { terminate } : {}) }, ...(status ? { status } : {}) };
}
const compileAll = (metrics: Metric[]) => {
  const r = compileMetrics({ metrics }, new Map());
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const measured = (phase: MeasurementPhase, message: string, finishedAt: Date): Measurement => ({
  phase,
  message,
  startedAt: finishedAt.toISOString(),
  finishedAt: finishedAt.toISOString(),
});

describe('run status', () => {
  test('a failing metric ends the run at once, with the explanation', () => {
    const metrics = [metric(), metric({ name: 'latency', interval: '1m', count: 5, successCondition: 'result[0] < 0.5' })];
    const compiled = compileAll(metrics);
    const m = assessMeasurement(compiled[0] as CompiledMetric, vector(0.23), { query: 'q', startedAt: T0, finishedAt: T0 });
    const first = calculateRunStatus(
      run(metrics),
      compiled,
      new Map([
        ['error-rate', m],
        ['latency', measured('Successful', '0.1 < 0.5', T0)],
      ]),
      T0,
    );
    assert.equal(first.status.phase, 'Failed');
    assert.equal(first.status.message, 'metric error-rate: 0.23 > 0.05 (failed 1 > failureLimit 0)');
    assert.equal(first.status.completedAt, T0.toISOString());
    assert.equal(first.status.nextMeasurementAt, undefined);
    assert.equal(first.requeueAfterMs, undefined);
    assert.equal(first.status.metricResults?.[1]?.phase, 'Successful', 'the other metric is terminated');
    assert.match(first.status.metricResults?.[1]?.message ?? '', /^terminated after 1 measurement: /);
  });

  test('Running until every metric is done; requeue exactly at the next measurement', () => {
    const metrics = [metric({ interval: '30s', count: 2 }), metric({ name: 'b', initialDelay: '1m' })];
    const compiled = compileAll(metrics);
    const r0 = calculateRunStatus(run(metrics), compiled, new Map([['error-rate', measured('Successful', 'ok', T0)]]), T0);
    assert.equal(r0.status.phase, 'Running');
    assert.equal(r0.status.startedAt, T0.toISOString());
    assert.equal(r0.requeueAfterMs, 30_000);
    assert.equal(r0.status.nextMeasurementAt, at(30_000).toISOString());
    assert.deepEqual(dueMetrics(run(metrics, r0.status), compiled, at(29_999)), []);
    assert.deepEqual(
      dueMetrics(run(metrics, r0.status), compiled, at(30_000)).map((c) => c.metric.name),
      ['error-rate'],
    );

    const r1 = calculateRunStatus(run(metrics, r0.status), compiled, new Map([['error-rate', measured('Successful', 'ok', at(30_000))]]), at(30_000));
    assert.equal(r1.status.phase, 'Running');
    assert.equal(r1.status.startedAt, T0.toISOString(), 'startedAt is kept');
    assert.equal(r1.requeueAfterMs, 30_000, 'b is due at start + initialDelay');
    const r2 = calculateRunStatus(run(metrics, r1.status), compiled, new Map([['b', measured('Successful', 'fine', at(60_000))]]), at(60_000));
    assert.equal(r2.status.phase, 'Successful');
    assert.equal(r2.status.message, 'metric error-rate: ok (2 of 2 successful); metric b: fine (1 of 1 successful)');
    assert.equal(r2.requeueAfterMs, undefined);
  });

  test('nothing due: the status is unchanged and the requeue still points at the next measurement', () => {
    const metrics = [metric({ interval: '30s', count: 3 })];
    const compiled = compileAll(metrics);
    const r0 = calculateRunStatus(run(metrics), compiled, new Map([['error-rate', measured('Successful', 'ok', T0)]]), T0);
    const again = calculateRunStatus(run(metrics, r0.status), compiled, new Map(), at(10_000));
    assert.deepEqual(again.status, r0.status);
    assert.equal(again.requeueAfterMs, 20_000);
  });

  test('terminate ends a run that measures until terminated: Successful, said so', () => {
    const metrics = [metric({ interval: '30s' })];
    const compiled = compileAll(metrics);
    const r0 = calculateRunStatus(run(metrics), compiled, new Map([['error-rate', measured('Successful', '0.01 <= 0.05', T0)]]), T0);
    const r1 = calculateRunStatus(run(metrics, r0.status, true), compiled, new Map(), at(1000));
    assert.equal(r1.status.phase, 'Successful');
    assert.equal(r1.status.message, 'terminated: metric error-rate: terminated after 1 measurement: 0.01 <= 0.05');
    assert.deepEqual(dueMetrics(run(metrics, r0.status, true), compiled, at(60_000)), []);
  });

  test('inconclusive ends the run as Inconclusive (the rollout pauses)', () => {
    const metrics = [metric({ interval: '30s', count: 3 })];
    const compiled = compileAll(metrics);
    const m = assessMeasurement(compiled[0] as CompiledMetric, vector(), { query: 'q', startedAt: T0, finishedAt: T0 });
    const r = calculateRunStatus(run(metrics), compiled, new Map([['error-rate', m]]), T0);
    assert.equal(r.status.phase, 'Inconclusive');
    assert.equal(r.status.message, 'metric error-rate: no data (empty vector): noDataPolicy Inconclusive (inconclusive 1 > inconclusiveLimit 0)');
  });

  test('a completed run is left alone', () => {
    const metrics = [metric()];
    const done = { phase: 'Failed' as const, message: 'x', completedAt: T0.toISOString() };
    assert.deepEqual(calculateRunStatus(run(metrics, done), compileAll(metrics), new Map([['error-rate', measured('Successful', 'ok', T0)]]), T0), {
      status: done,
    });
    assert.deepEqual(dueMetrics(run(metrics, done), compileAll(metrics), T0), []);
  });

  test('invalidRunStatus: Error with the reason, timestamps set once', () => {
    const s = invalidRunStatus({ status: { phase: 'Running', startedAt: T0.toISOString(), nextMeasurementAt: 'x' } }, 'invalid analysis: y', at(5));
    assert.deepEqual(s, { phase: 'Error', message: 'invalid analysis: y', startedAt: T0.toISOString(), completedAt: at(5).toISOString() });
  });
});

describe('validation on first use', () => {
  const problems = (metrics: Metric[], args: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }> = []) => {
    const literal = new Map(args.flatMap((a) => (a.value !== undefined ? [[a.name, { value: a.value, secret: false }] as const] : [])));
    const r = compileMetrics({ metrics, args }, literal);
    return r.ok ? '' : r.error;
  };
  const table: Array<[string, Metric[], RegExp, Array<{ name: string; value?: string; valueFrom?: { secretKeyRef: { name: string; key: string } } }>?]> = [
    [
      'syntax error names the metric and the condition',
      [metric({ successCondition: 'result[0] >=' })],
      /^metric error-rate: invalid successCondition "result\[0\] >=": syntax error: /,
    ],
    [
      'a query timeout over the maximum',
      [metric({ provider: { prometheus: { address: 'http://127.0.0.1:9090', query: 'up', timeout: 300 } } })],
      /^metric error-rate: timeout 300s is longer than the maximum of 120s$/,
    ],
    [
      'a condition over the cost budget',
      [metric({ successCondition: 'result.all(x, result.all(y, x <= y || x > y))' })],
      new RegExp(
        '^metric error-rate: invalid successCondition "result\\.all.*": too expensive: ' +
          'evaluating it may take about [\\d,]+ steps with a result of 10000 elements, more than the budget of 1,000,000',
      ),
    ],
    [
      'unknown variable',
      [metric({ failureCondition: 'value > 1' })],
      /metric error-rate: invalid failureCondition "value > 1": unknown variable "value": a condition can only use "result"/,
    ],
    ['no condition', [metric({ successCondition: undefined })], /needs a successCondition or a failureCondition/],
    ['count without interval', [metric({ count: 3 })], /interval must be set when count is greater than 1/],
    ['bad duration', [metric({ interval: 'soon' })], /metric error-rate: interval: invalid duration "soon"/],
    [
      'undeclared arg in query',
      [metric({ provider: { prometheus: { address: 'http://x', query: 'up{job="{{args.job}}"}' } } })],
      /query uses \{\{args.job\}\}, which is not an arg/,
    ],
    ['undeclared arg in condition', [metric({ successCondition: 'result[0] < {{args.max}}' })], /uses \{\{args.max\}\}, which is not an arg/],
    [
      'secret arg in condition',
      [metric({ successCondition: 'result[0] < {{args.max}}' })],
      /has no literal value \(args from Secrets can only be used in queries\)/,
      [{ name: 'max', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
    ],
    [
      'an Argo provider Sluice does not measure',
      [metric({ provider: { datadog: { query: 'x' } } as never })],
      /provider "datadog" \(Argo Rollouts'\) is not measured by Sluice: rewrite the metric for prometheus or web/,
    ],
    ['unknown provider', [metric({ provider: { statsd: { query: 'x' } } as never })], /unknown provider "statsd"; supported: prometheus, web/],
    ['no provider', [metric({ provider: {} })], /no provider set; supported: prometheus, web/],
    ['duplicate metric', [metric(), metric()], /metric error-rate: defined twice/],
  ];
  for (const [name, metrics, expected, args] of table) {
    test(name, () => assert.match(problems(metrics, args), expected));
  }
  test('every problem is reported', () => {
    const p = problems([metric({ successCondition: 'result[0] >=' }), metric({ name: 'b', count: 3 })]);
    assert.match(p, /metric error-rate: .*; metric b: /);
  });
  test('a valid metric compiles', () => assert.equal(problems([metric()]), ''));
});

describe('properties', () => {
  const phaseArb = fc.constantFrom<MeasurementPhase>('Successful', 'Failed', 'Inconclusive', 'Error');
  const metricArb = fc.record({
    failureLimit: fc.integer({ min: 0, max: 3 }),
    inconclusiveLimit: fc.integer({ min: 0, max: 3 }),
    consecutiveErrorLimit: fc.integer({ min: 0, max: 4 }),
    count: fc.integer({ min: 0, max: 6 }),
  });

  test('the run is never Successful while a metric failed, errored or is inconclusive; worst metric decides', () => {
    fc.assert(
      fc.property(
        fc.array(metricArb, { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), phaseArb), { maxLength: 40 }),
        fc.boolean(),
        (limits, steps, terminateAtEnd) => {
          const metrics = limits.map((l, i) => metric({ name: `m${i}`, interval: '10s', ...l }));
          const compiled = compileAll(metrics);
          let status: AnalysisRun['status'];
          let t = 0;
          const check = (s: NonNullable<AnalysisRun['status']>) => {
            const results = s.metricResults ?? [];
            for (const [i, r] of results.entries()) {
              const m = metrics[i] as Metric;
              if (r.failed > (m.failureLimit ?? 0)) assert.notEqual(s.phase, 'Successful');
              // whenever a metric is still measuring, its counters respect its limits
              if (!isCompleted(r.phase)) {
                assert.ok(
                  r.failed <= (m.failureLimit ?? 0) && r.inconclusive <= (m.inconclusiveLimit ?? 0) && r.consecutiveError <= (m.consecutiveErrorLimit ?? 4),
                );
              }
            }
            if (s.phase === 'Successful') assert.ok(results.every((r) => r.phase === 'Successful'));
            const bad = results.filter((r) => r.phase === 'Failed' || r.phase === 'Error' || r.phase === 'Inconclusive');
            if (bad.length > 0) {
              const worst = bad.some((r) => r.phase === 'Failed') ? 'Failed' : bad.some((r) => r.phase === 'Error') ? 'Error' : 'Inconclusive';
              assert.equal(s.phase, worst);
              assert.ok(s.message?.startsWith(`metric ${bad.find((r) => r.phase === worst)?.name}: `));
            }
          };
          for (const [pick, phase] of steps) {
            if (isCompleted(status?.phase)) break;
            const open = metrics.filter((_m, i) => !isCompleted(status?.metricResults?.[i]?.phase));
            const target = open[pick % Math.max(1, open.length)];
            if (!target) break;
            t += 10_000;
            const update = calculateRunStatus(run(metrics, status), compiled, new Map([[target.name, measured(phase, phase, at(t))]]), at(t));
            status = update.status;
            check(status);
            if (!isCompleted(status.phase)) assert.ok(update.requeueAfterMs !== undefined && update.requeueAfterMs >= 0);
          }
          if (terminateAtEnd && status) {
            const ended = calculateRunStatus(run(metrics, status, true), compiled, new Map(), at(t + 1));
            assert.ok(isCompleted(ended.status.phase));
            check(ended.status);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  test('no data is never Successful unless the policy says so', () => {
    const conditions = fc.constantFrom(
      { successCondition: 'result[0] <= 0.05' },
      { failureCondition: 'result[0] > 0.05' },
      { failureCondition: 'result > 0.05' },
      { successCondition: 'result.all(x, x < 1)' },
      { successCondition: 'result[0] <= 0.01', failureCondition: 'result[0] > 0.05' },
    );
    const noData = fc.oneof(
      fc.constant(vector()),
      fc.constant(scalar(NaN)),
      fc.array(fc.double({ noNaN: true }), { maxLength: 3 }).map((vs) => vector(...vs, NaN)),
    );
    fc.assert(
      fc.property(conditions, noData, fc.constantFrom<NoDataPolicy>('Inconclusive', 'Failed', 'Error'), (cond, outcome, policy) => {
        const m = assessMeasurement(compile(metric({ successCondition: undefined, ...cond, noDataPolicy: policy })), outcome, ctx);
        assert.equal(m.phase, policy);
        assert.ok(m.noData);
        assert.match(m.message, /no data/);
      }),
    );
  });
});

describe('status size', () => {
  test('a huge result or error text is stored truncated, with how much was left out', () => {
    const metrics = [metric({ successCondition: 'result.all(x, x <= 0.05)' })];
    const compiled = compileAll(metrics);
    const huge = assessMeasurement(compiled[0] as CompiledMetric, vector(...Array.from({ length: 10_000 }, (_, i) => i / 1e6)), {
      query: `sum(${'x'.repeat(20_000)})`,
      startedAt: T0,
      finishedAt: at(1),
    });
    const error = errorMeasurement(`query error: ${'e'.repeat(100_000)}`, { query: 'q', startedAt: T0, finishedAt: at(1) });
    for (const m of [huge, error]) {
      const { status } = calculateRunStatus(run(metrics), compiled, new Map([['error-rate', m]]), at(1));
      const stored = status.metricResults?.[0]?.measurements?.[0];
      assert.ok(stored);
      for (const [field, text, max] of [
        ['value', stored.value, MAX_MEASUREMENT_VALUE_LENGTH],
        ['message', stored.message, MAX_MEASUREMENT_MESSAGE_LENGTH],
        ['query', stored.query, MAX_MEASUREMENT_QUERY_LENGTH],
      ] as const) {
        if (text === undefined || text.length < 100) continue;
        assert.ok(text.length <= max + 20, `${field} is ${text.length} long`);
        assert.match(text, /… \d+ more$/, field);
      }
      assert.ok(JSON.stringify(status).length < 16_000, `status is ${JSON.stringify(status).length} characters`);
    }
    const value = calculateRunStatus(run(metrics), compiled, new Map([['error-rate', huge]]), at(1)).status.metricResults?.[0]?.measurements?.[0]?.value ?? '';
    const left = Number(/… (\d+) more$/.exec(value)?.[1]);
    assert.equal(value.length - ` ${left} more`.length - 1 + left, (huge.value ?? '').length, 'N is the number of characters left out');
  });
});
