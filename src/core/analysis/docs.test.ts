// The worked example in docs/analysis.md is valid: the schemas accept it and the Rollout's
// analyses build runs (so the documentation cannot drift from the code).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { AnalysisRun, AnalysisTemplate } from '../../api/analysis.ts';
import { Rollout } from '../../api/rollout.ts';
import { buildAnalysisRun } from './build.ts';
import { compileMetrics } from './compile.ts';

const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'analysis.md'), 'utf8');
const firstYaml = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
const objects = loadAll(firstYaml) as Array<{ kind: string }>;

test('docs/analysis.md: the worked example is valid and builds runs', () => {
  const template = AnalysisTemplate.parse(objects.find((o) => o.kind === 'AnalysisTemplate'));
  const rollout = Rollout.parse(objects.find((o) => o.kind === 'Rollout'));
  const canary = rollout.spec.strategy.canary;
  const step = canary?.steps?.find((s) => s.analysis)?.analysis;
  assert.ok(canary?.analysis && step, 'the example has background and step analysis');
  for (const [kind, analysis] of [
    ['background', canary.analysis],
    ['step', step],
  ] as const) {
    const r = buildAnalysisRun({
      rollout: { ...rollout, metadata: { ...rollout.metadata, uid: 'u1' } },
      analysis,
      templates: [{ clusterScope: false, name: template.metadata.name as string, spec: template.spec }],
      kind,
      stepIndex: 3,
      latestHash: 'abc',
      stableHash: 'def',
      name: `web-abc-${kind}`,
    });
    assert.ok(r.ok, r.ok ? '' : r.error);
    assert.ok(AnalysisRun.safeParse(r.value).success);
    const args = Object.fromEntries((r.value.spec.args ?? []).map((a) => [a.name, a.value]));
    assert.deepEqual(args, { service: 'web', 'canary-hash': 'abc', 'max-error-rate': kind === 'step' ? '0.01' : '0.05' });
  }
});

test('docs/analysis.md: the web provider example is valid and compiles', () => {
  const section = doc.slice(doc.indexOf('## Web provider'));
  const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  const template = AnalysisTemplate.parse((loadAll(yaml) as Array<{ kind: string }>).find((o) => o.kind === 'AnalysisTemplate'));
  const compiled = compileMetrics(template.spec, new Map([['service', { value: 'checkout', secret: false }]]));
  assert.ok(compiled.ok, compiled.ok ? '' : compiled.error);
  assert.equal(compiled.value[0]?.provider, 'web');
  assert.equal(compiled.value[0]?.timeoutMs, 20_000);
});
