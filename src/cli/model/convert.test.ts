import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifestFile } from '../../core/gitops/manifests.ts';
import { convertManifests, exprToCel } from './convert.ts';

const convert = (yaml: string) => convertManifests(parseManifestFile({ path: 'in.yaml', content: yaml }).manifests);

test('expr spellings become CEL; CEL stays as it is', () => {
  const cases: Array<[string, string]> = [
    ['result[0] >= 0.95', 'result[0] >= 0.95'],
    ['len(result) == 0 or result[0] < 0.05', 'size(result) == 0 || result[0] < 0.05'],
    ['result[0] > 0 and not isNaN', 'result[0] > 0 && !isNaN'],
    ['all(result, {# < 0.5})', 'result.all(x, x < 0.5)'],
    ['any(result, {# > 1})', 'result.exists(x, x > 1)'],
    ['none(result, { # == 0 })', '!result.exists(x, x == 0)'],
    ['result.all(x, x < 1) && size(result) > 0', 'result.all(x, x < 1) && size(result) > 0'],
    ['asInt(result) > 0 and asFloat(result.x) <= 1.5', 'int(result) > 0 && double(result.x) <= 1.5'],
    ['result.a > 0 && result.d == nil', 'result.a > 0 && result.d == null'],
  ];
  for (const [expr, cel] of cases) assert.equal(exprToCel(expr), cel, expr);
});

test('apiVersion changes; what the Sluice schema keeps is kept, what it drops is named and left out', () => {
  const r = convert(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r, uid: abc, resourceVersion: "9"}
spec:
  selector: {matchLabels: {app: r}}
  progressDeadlineAbort: true
  template: {metadata: {labels: {app: r}}, spec: {containers: [{name: a, image: x}]}}
  strategy:
    canary:
      fromANewerArgo: {on: true}
      steps: [{setWeight: 10}, {fromANewerArgo: {}}, {pause: {}}]
status: {phase: Healthy}
`);
  const object = r.documents[0]?.object as Record<string, any>;
  assert.equal(object.apiVersion, 'sluice.dev/v1alpha1');
  assert.equal(object.spec.progressDeadlineAbort, true, 'a field Sluice accepts is kept');
  assert.equal(object.spec.strategy.canary.fromANewerArgo, undefined);
  assert.deepEqual(object.spec.strategy.canary.steps, [{ setWeight: 10 }, { pause: {} }], 'a step with nothing Sluice knows is left out');
  assert.equal(object.status, undefined);
  assert.deepEqual(object.metadata, { name: 'r' });
  assert.deepEqual(
    r.dropped.map((d) => d.message),
    [
      "spec.strategy.canary.fromANewerArgo: not a field of Sluice's Rollout; left out",
      "spec.strategy.canary.steps[1].fromANewerArgo: not a field of Sluice's Rollout; left out",
      'spec.strategy.canary.steps[1]: nothing Sluice accepts was left in it; left out',
    ],
  );
  assert.ok(r.notes.some((n) => n.message === 'status left out (the controller writes it)'));
});

test('fields the schema accepts but the controller does not implement are kept and named', () => {
  const r = convert(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  selector: {matchLabels: {app: r}}
  template: {metadata: {labels: {app: r}}, spec: {containers: [{name: a, image: x}]}}
  strategy:
    canary:
      trafficRouting: {nginx: {stableIngress: r}}
      steps: [{setWeight: 10}, {setHeaderRoute: {name: h}}]
`);
  const object = r.documents[0]?.object as Record<string, any>;
  assert.deepEqual(object.spec.strategy.canary.trafficRouting, { nginx: { stableIngress: 'r' } });
  const messages = r.dropped.map((d) => d.message);
  assert.equal(messages.length, 2);
  assert.match(
    messages[0] as string,
    /^spec\.strategy\.canary\.trafficRouting \(nginx\) is not supported: .*\(kept as it is: the controller refuses this Rollout with InvalidSpec/,
  );
  assert.match(messages[1] as string, /^spec\.strategy\.canary\.steps\[1\]\.setHeaderRoute is not supported/);
});

test('a value the schema refuses is kept and named; other kinds pass through untouched', () => {
  const r = convert(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: r}
spec:
  selector: {matchLabels: {app: r}}
  strategy: {canary: {steps: [{setWeight: 150}]}}
---
apiVersion: v1
kind: Service
metadata: {name: s}
spec: {ports: [{port: 80}]}
`);
  assert.equal(r.documents.length, 2);
  assert.equal((r.documents[0]?.object as any).spec.strategy.canary.steps[0].setWeight, 150);
  assert.deepEqual(
    [r.documents[1]?.object, r.documents[1]?.converted],
    [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { ports: [{ port: 80 }] } }, false],
  );
  const messages = r.dropped.map((d) => d.message).join('\n');
  assert.match(messages, /cannot be converted as it is: spec\.strategy\.canary\.steps\[0\]\.setWeight: Too big/);
});
