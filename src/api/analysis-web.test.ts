// Web metrics as Argo Rollouts users write them (testdata/analysistemplates-web.yaml) are accepted:
// by the zod schema, by the CEL validation rules of the generated CRD (evaluated here as the API
// server would, on every node of the object), and by the analysis compiler. And what the CRD must
// refuse, it refuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll, load } from 'js-yaml';
import { celEnv, parse, plan } from '@bufbuild/cel';
import { AnalysisTemplate, ClusterAnalysisTemplate } from './analysis.ts';
import { compileMetrics } from '../core/analysis/compile.ts';

type Schema = {
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema;
  'x-kubernetes-validations'?: Array<{ rule: string; message: string }>;
};

const root = join(import.meta.dirname, '..', '..');
const crd = load(readFileSync(join(root, 'crds', 'analysistemplate.yaml'), 'utf8')) as {
  spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> };
};
const specSchema = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
const env = celEnv({});

/** The messages of every CRD rule the object breaks, each with the path of the node. */
function violations(schema: Schema, value: unknown, path = 'spec'): string[] {
  const out: string[] = [];
  for (const { rule, message } of schema['x-kubernetes-validations'] ?? []) {
    const verdict = (plan(env, parse(rule)) as unknown as (b: { self: unknown }) => unknown)({ self: value });
    if (verdict !== true) out.push(`${path}: ${message}${verdict === false ? '' : ` (${String(verdict)})`}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((v, i) => out.push(...violations(schema.items as Schema, v, `${path}[${i}]`)));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const child = schema.properties?.[k] ?? schema.additionalProperties;
      if (child) out.push(...violations(child, v, `${path}.${k}`));
    }
  }
  return out;
}

const fixtures = loadAll(readFileSync(join(import.meta.dirname, 'testdata', 'analysistemplates-web.yaml'), 'utf8')) as Array<Record<string, any>>;

test('the web templates of the fixture (Argo Rollouts fields) pass the schema, the CRD rules and the compiler', () => {
  assert.equal(fixtures.length, 5);
  for (const doc of fixtures) {
    const name = `${doc.kind} ${doc.metadata?.name}`;
    const parsed = (doc.kind === 'ClusterAnalysisTemplate' ? ClusterAnalysisTemplate : AnalysisTemplate).safeParse(doc);
    assert.ok(parsed.success, `${name}: ${JSON.stringify(parsed.error?.issues)}`);
    assert.deepEqual(violations(specSchema, doc.spec), [], name);
    // Args the Rollout passes have no value in a template: a stand-in, as kubectl sluice lint does.
    const literal = new Map((parsed.data.spec.args ?? []).flatMap((a) => (a.valueFrom ? [] : [[a.name, { value: a.value ?? 'x', secret: false }] as const])));
    const compiled = compileMetrics(parsed.data.spec, literal);
    assert.ok(compiled.ok, `${name}: ${compiled.ok ? '' : compiled.error}`);
    assert.ok(
      compiled.value.every((m) => m.provider === 'web'),
      name,
    );
  }
});

test("the CRD refuses what it must (no provider, two providers, a body with GET, both bodies, oauth2) and keeps Argo's other providers", () => {
  const base = fixtures[3]!.spec as { metrics: Array<Record<string, any>> };
  const withProvider = (provider: unknown) => ({ ...base, metrics: [{ ...base.metrics[0], provider }] });
  const web = base.metrics[0]!.provider.web as Record<string, unknown>;
  const cases: Array<[unknown, RegExp]> = [
    [withProvider({}), /provider: a provider must be set, exactly one \(Sluice measures with prometheus or web\)$/],
    [withProvider({ web, prometheus: { address: 'http://p', query: 'up' } }), /provider: a provider must be set, exactly one/],
    [withProvider({ web, job: { spec: {} } }), /provider: a provider must be set, exactly one/],
    [withProvider({ web: { ...web, method: 'GET' } }), /provider\.web: body and jsonBody need method POST or PUT$/],
    [withProvider({ web: { ...web, method: undefined } }), /provider\.web: body and jsonBody need method POST or PUT$/],
    [withProvider({ web: { ...web, jsonBody: { a: 1 } } }), /provider\.web: set body or jsonBody, not both$/],
    [withProvider({ web: { ...web, authentication: { oauth2: { tokenUrl: 'https://t' } } } }), /web authentication \(oauth2\) is not supported yet/],
  ];
  for (const [spec, expected] of cases) {
    const found = violations(specSchema, JSON.parse(JSON.stringify(spec)));
    assert.ok(
      found.some((v) => expected.test(v)),
      `${expected}: ${JSON.stringify(found)}`,
    );
  }
  assert.deepEqual(violations(specSchema, base), [], 'the unchanged template passes');
  // Argo's other providers pass the API server (kept, not pruned) and are explained when the analysis starts.
  const job = withProvider({ job: { spec: { template: { spec: { containers: [{ name: 'c', image: 'x' }] } } } } });
  assert.deepEqual(violations(specSchema, JSON.parse(JSON.stringify(job))), [], 'a job provider is accepted');
  const parsed = AnalysisTemplate.safeParse({ ...fixtures[3], spec: job });
  assert.ok(parsed.success);
  const compiled = compileMetrics(parsed.data.spec, new Map([['url', { value: 'http://x', secret: false }]]));
  assert.equal(compiled.ok, false);
  assert.match(compiled.ok ? '' : compiled.error, /provider "job" \(Argo Rollouts'\) is not measured by Sluice: rewrite the metric for prometheus or web/);
});

test("Argo Rollouts' own web templates (e2e/compat, unmodified) are accepted with only apiVersion changed", () => {
  const files = [
    'functional/analysistemplate-web-background.yaml',
    'functional/analysistemplate-web-background-inconclusive.yaml',
    'inline/functional-TestFixInvalidSpec.yaml',
  ];
  const templates = files.flatMap((file) =>
    (loadAll(readFileSync(join(root, 'e2e', 'compat', file), 'utf8')) as Array<Record<string, any>>)
      .filter((d) => d?.kind === 'AnalysisTemplate')
      .map((d) => ({ file, doc: { ...d, apiVersion: 'sluice.dev/v1alpha1' } as Record<string, any> })),
  );
  assert.equal(templates.length, 3);
  for (const { file, doc } of templates) {
    const parsed = AnalysisTemplate.safeParse(doc);
    assert.ok(parsed.success, `${file}: ${JSON.stringify(parsed.error?.issues)}`);
    assert.deepEqual(violations(specSchema, doc.spec), [], file);
    const literal = new Map((parsed.data.spec.args ?? []).map((a) => [a.name, { value: a.value ?? '', secret: false }] as const));
    const compiled = compileMetrics(parsed.data.spec, literal);
    assert.ok(compiled.ok, `${file}: ${compiled.ok ? '' : compiled.error}`);
  }
});
