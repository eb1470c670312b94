// Every field of Argo Rollouts' Rollout spec is accepted by Sluice's Rollout CRD: either the CRD
// has the field, or an ancestor keeps unknown fields (pod templates, traffic routing, experiments).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';

type Schema = { properties?: Record<string, Schema>; items?: Schema; 'x-kubernetes-preserve-unknown-fields'?: boolean };

const root = new URL('../..', import.meta.url);
const argoFields = readFileSync(new URL('e2e/compat/argo-rollout-spec-fields.txt', root), 'utf8')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'));
const crd = load(readFileSync(new URL('crds/rollout.yaml', root), 'utf8')) as {
  spec: { versions: Array<{ schema: { openAPIV3Schema: Schema } }> };
};
const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;

/** 'accepted' when the path exists or an ancestor keeps unknown fields; else the first missing segment. */
function accepts(path: string): true | string {
  let node: Schema | undefined = spec;
  for (const segment of path.split('.').slice(1)) {
    if (node['x-kubernetes-preserve-unknown-fields']) return true;
    const array = segment.endsWith('[]');
    const name = array ? segment.slice(0, -2) : segment;
    const next: Schema | undefined = node.properties?.[name];
    if (!next) return segment;
    node = array ? (next.items ?? next) : next;
  }
  return true;
}

test('the list of Argo Rollouts fields is there and not trivially small', () => {
  assert.ok(argoFields.length > 200, `${argoFields.length} fields`);
  assert.ok(argoFields.includes('spec.strategy.canary.trafficRouting'));
});

test("Sluice's Rollout CRD accepts every field of Argo Rollouts' Rollout spec", () => {
  const missing = argoFields.map((f) => [f, accepts(f)] as const).filter(([, r]) => r !== true);
  assert.deepEqual(missing, []);
});

test('the check can fail: a field Argo does not have is not accepted', () => {
  assert.equal(accepts('spec.strategy.canary.noSuchField'), 'noSuchField');
});
