import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import type { AnalysisTemplateSpec, Metric } from '../../api/analysis.ts';
import { AnalysisRun } from '../../api/analysis.ts';
import type { Rollout, RolloutAnalysis } from '../../api/rollout.ts';
import { analysisRunName, buildAnalysisRun, type BuildAnalysisRunInput, type LoadedTemplate } from './build.ts';

const rollout: Rollout = {
  apiVersion: 'sluice.dev/v1alpha1',
  kind: 'Rollout',
  metadata: { name: 'web', namespace: 'shop', uid: 'uid-1', labels: { app: 'web-app' } },
  spec: { selector: { matchLabels: { app: 'web' } }, template: {}, strategy: { canary: { steps: [{ setWeight: 20 }] } } },
};

const m = (name: string, query: string, over: Partial<Metric> = {}): Metric => ({
  name,
  successCondition: 'result[0] < 0.05',
  provider: { prometheus: { address: 'http://127.0.0.1:9090', query } },
  ...over,
});

const tpl = (name: string, spec: AnalysisTemplateSpec, clusterScope = false): LoadedTemplate => ({ name, clusterScope, spec });

const errorRate = tpl('error-rate', {
  args: [{ name: 'service' }, { name: 'hash' }, { name: 'max', value: '0.05' }],
  metrics: [m('error-rate', 'errors{svc="{{args.service}}",h="{{args.hash}}"}', { successCondition: 'result[0] <= {{args.max}}' })],
});

function input(over: Partial<BuildAnalysisRunInput> = {}): BuildAnalysisRunInput {
  const analysis: RolloutAnalysis = {
    templates: [{ templateName: 'error-rate' }],
    args: [
      { name: 'service', value: 'web' },
      { name: 'hash', valueFrom: { podTemplateHashValue: 'Latest' } },
    ],
  };
  return { rollout, analysis, templates: [errorRate], kind: 'step', stableHash: 'stable1', latestHash: 'new1', name: 'web-new1-step-2', stepIndex: 2, ...over };
}

describe('buildAnalysisRun', () => {
  test('an owned, labelled run with resolved args', () => {
    const r = buildAnalysisRun(input());
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.value.metadata, {
      name: 'web-new1-step-2',
      namespace: 'shop',
      labels: { 'rollouts-pod-template-hash': 'new1', 'sluice.dev/analysis-kind': 'step', 'sluice.dev/rollout': 'web', 'sluice.dev/step-index': '2' },
      ownerReferences: [{ apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', name: 'web', uid: 'uid-1', controller: true, blockOwnerDeletion: true }],
    });
    assert.deepEqual(r.value.spec.args, [
      { name: 'service', value: 'web' },
      { name: 'hash', value: 'new1' },
      { name: 'max', value: '0.05' },
    ]);
    assert.equal(r.value.spec.metrics.length, 1);
    assert.ok(AnalysisRun.safeParse(r.value).success, 'the object passes the AnalysisRun schema');
  });

  test('Stable hash, fieldRef, Secret arg kept as a reference, ClusterAnalysisTemplate', () => {
    const cluster = tpl(
      'shared',
      {
        args: [
          { name: 'app', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'token', valueFrom: { secretKeyRef: { name: 'prom', key: 't' } } },
          { name: 'stable' },
        ],
        metrics: [m('up', 'up{app="{{args.app}}",h="{{args.stable}}",t="{{args.token}}"}')],
      },
      true,
    );
    const r = buildAnalysisRun(
      input({
        kind: 'background',
        templates: [cluster],
        analysis: {
          templates: [{ templateName: 'shared', clusterScope: true }],
          args: [
            { name: 'stable', valueFrom: { podTemplateHashValue: 'Stable' } },
            { name: 'unused', value: 'x' },
          ],
        },
      }),
    );
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(r.value.spec.args, [
      { name: 'app', value: 'web-app' },
      { name: 'token', valueFrom: { secretKeyRef: { name: 'prom', key: 't' } } },
      { name: 'stable', value: 'stable1' },
    ]);
    assert.equal(r.value.metadata.labels?.['sluice.dev/step-index'], undefined);
    assert.equal(r.value.metadata.labels?.['sluice.dev/analysis-kind'], 'background');
  });

  test('templates merge: metrics concatenated, an arg with a value wins over one without', () => {
    const other = tpl('latency', { args: [{ name: 'service' }, { name: 'max', value: '0.05' }], metrics: [m('latency', 'lat{svc="{{args.service}}"}')] });
    const r = buildAnalysisRun(
      input({ templates: [errorRate, other], analysis: { ...input().analysis, templates: [{ templateName: 'error-rate' }, { templateName: 'latency' }] } }),
    );
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.deepEqual(
      r.value.spec.metrics.map((x) => x.name),
      ['error-rate', 'latency'],
    );
  });

  const errors: Array<[string, Partial<BuildAnalysisRunInput>, string | RegExp]> = [
    ['template missing', { templates: [] }, 'AnalysisTemplate error-rate not found in namespace shop'],
    [
      'cluster template missing',
      { analysis: { templates: [{ templateName: 'error-rate', clusterScope: true }] } },
      'ClusterAnalysisTemplate error-rate not found',
    ],
    [
      'arg missing',
      { analysis: { templates: [{ templateName: 'error-rate' }], args: [{ name: 'service', value: 'web' }] } },
      "arg hash of AnalysisTemplate error-rate has no value: pass it in the Rollout's analysis args or give it a default value",
    ],
    [
      'Stable hash before there is a stable revision',
      {
        stableHash: undefined,
        analysis: {
          templates: [{ templateName: 'error-rate' }],
          args: [
            { name: 'service', value: 'web' },
            { name: 'hash', valueFrom: { podTemplateHashValue: 'Stable' } },
          ],
        },
      },
      'arg hash asks for the Stable pod-template hash, but the Rollout has no stable revision yet',
    ],
    [
      'fieldRef not set',
      {
        analysis: {
          templates: [{ templateName: 'error-rate' }],
          args: [
            { name: 'service', valueFrom: { fieldRef: { fieldPath: 'metadata.labels.team' } } },
            { name: 'hash', value: 'h' },
          ],
        },
      },
      'arg service: fieldRef metadata.labels.team: not set on Rollout web',
    ],
    [
      'same metric in two templates',
      {
        templates: [errorRate, tpl('copy', { metrics: [m('error-rate', 'x')] })],
        analysis: { ...input().analysis, templates: [{ templateName: 'error-rate' }, { templateName: 'copy' }] },
      },
      'metric error-rate is defined in both AnalysisTemplate error-rate and AnalysisTemplate copy',
    ],
    [
      'same arg with different values',
      {
        templates: [errorRate, tpl('strict', { args: [{ name: 'max', value: '0.01' }], metrics: [m('b', 'x')] })],
        analysis: { ...input().analysis, templates: [{ templateName: 'error-rate' }, { templateName: 'strict' }] },
      },
      'arg max has different values in AnalysisTemplate error-rate ("0.05") and AnalysisTemplate strict ("0.01")',
    ],
    [
      'invalid condition is caught before the run exists',
      { templates: [tpl('error-rate', { metrics: [m('bad', 'x', { successCondition: 'result[0] <' })] })] },
      /^metric bad: invalid successCondition "result\[0\] <": syntax error/,
    ],
    [
      'query uses an undeclared arg',
      { templates: [tpl('error-rate', { metrics: [m('q', 'x{a="{{args.nope}}"}')] })] },
      /metric q: query uses \{\{args.nope\}\}, which is not an arg/,
    ],
    ['rollout without uid', { rollout: { ...rollout, metadata: { name: 'web', namespace: 'shop' } } }, /has no namespace, name or uid/],
  ];
  for (const [name, over, expected] of errors) {
    test(name, () => {
      const r = buildAnalysisRun(input(over));
      assert.equal(r.ok, false);
      if (!r.ok) typeof expected === 'string' ? assert.equal(r.error, expected) : assert.match(r.error, expected);
    });
  }
});

describe('analysisRunName', () => {
  test('deterministic names per kind, step and attempt', () => {
    assert.equal(analysisRunName('web', 'abc', 'step', 2), 'web-abc-step-2');
    assert.equal(analysisRunName('web', 'abc', 'background'), 'web-abc-bg');
    assert.equal(analysisRunName('web', 'abc', 'prePromotion'), 'web-abc-pre');
    assert.equal(analysisRunName('web', 'abc', 'postPromotion', undefined, 1), 'web-abc-post-2');
    const long = analysisRunName('x'.repeat(300), 'abc', 'step', 1);
    assert.ok(long.length <= 253 && long.endsWith('-abc-step-1'));
  });
});
