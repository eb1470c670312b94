import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lintFiles, renderLintProblem, toLintProblem } from './lint.ts';

test('a problem prints as file:line:column when the parser knows the column, file:line otherwise', () => {
  const withColumn = toLintProblem({
    reason: 'InvalidManifest',
    file: 'a.yaml',
    document: 2,
    line: 7,
    column: 12,
    message: 'a.yaml: document 2 (line 5): Rollout "x": bad',
  });
  assert.deepEqual(withColumn, { file: 'a.yaml', document: 2, line: 7, column: 12, reason: 'InvalidManifest', message: 'Rollout "x": bad' });
  assert.equal(renderLintProblem(withColumn), 'a.yaml:7:12: document 2: Rollout "x": bad');
  const lineOnly = toLintProblem({ reason: 'InvalidManifest', file: 'a.yaml', document: 1, line: 3, message: 'a.yaml: document 1 (line 3): oops' });
  assert.equal(renderLintProblem(lineOnly), 'a.yaml:3: document 1: oops');
});

test('analysis conditions compile with args a Rollout supplies later; undeclared args and bad CEL are problems at the field', () => {
  const template = (condition: string, args = '[{name: limit}]') => ({
    path: 't.yaml',
    content: `apiVersion: sluice.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: t}
spec:
  args: ${args}
  metrics:
    - name: m
      failureCondition: ${condition}
      provider: {prometheus: {address: "http://p:9090", query: up}}
`,
  });
  assert.deepEqual(lintFiles([template('result[0] > {{args.limit}}')]).problems, []);
  const undeclared = lintFiles([template('result[0] > {{args.other}}')]).problems;
  assert.match(undeclared[0]?.message ?? '', /uses \{\{args\.other\}\}, which is not an arg of the analysis/);
  const bad = lintFiles([template('result[0] >>> 1')]).problems;
  assert.match(bad[0]?.message ?? '', /AnalysisTemplate "t": metric m: invalid failureCondition "result\[0\] >>> 1": syntax error/);
  assert.deepEqual([bad[0]?.line, bad[0]?.column], [8, 25], 'at the condition itself');
});

test('files, objects and problems are counted; documents without a Sluice kind are only checked for their shape', () => {
  const r = lintFiles([
    { path: 'cm.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {anything: goes}\n---\napiVersion: v1\nkind: ConfigMap\n' },
  ]);
  assert.deepEqual([r.files, r.objects, r.problems.length], [1, 1, 1]);
  assert.match(r.problems[0]?.message ?? '', /metadata/);
});

test('web metrics: a jsonPath, url or timeout problem is reported at its field under provider.web', () => {
  const template = (web: string) => ({
    path: 'w.yaml',
    content: `apiVersion: sluice.dev/v1alpha1
kind: AnalysisTemplate
metadata: {name: w}
spec:
  args: [{name: svc}]
  metrics:
    - name: m
      successCondition: result == true
      provider:
        web:
          url: "http://h/{{args.svc}}"
${web}
`,
  });
  assert.deepEqual(lintFiles([template('          jsonPath: "{$.data.ok}"')]).problems, []);
  const whole = template('').content.replace('url: "http://h/{{args.svc}}"', 'url: "{{args.svc}}"');
  assert.deepEqual(lintFiles([{ path: 'w.yaml', content: whole }]).problems, [], 'a url the Rollout passes whole is not judged by a stand-in');
  const path = lintFiles([template('          jsonPath: "{$..ok}"')]).problems;
  assert.match(path[0]?.message ?? '', /AnalysisTemplate "w": metric m: jsonPath "\{\$\.\.ok\}": recursive descent/);
  assert.equal(path[0]?.line, 12, 'at the jsonPath itself');
  const slow = lintFiles([template('          timeoutSeconds: 600')]).problems;
  assert.match(slow[0]?.message ?? '', /timeoutSeconds 600 is longer than the maximum of 120/);
  assert.equal(slow[0]?.line, 12);
});
