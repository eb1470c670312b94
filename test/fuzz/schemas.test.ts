// Fuzz: arbitrary objects through every zod schema in src/api, and valid resources with
// random parts replaced: safeParse never throws, and what it accepts is plain JSON.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadAll } from 'js-yaml';
import { z } from 'zod';
import { fuzzOptions } from '../helpers/fuzz.ts';
import { mutated } from '../helpers/mutate.ts';

const apiDir = join(import.meta.dirname, '..', '..', 'src', 'api');
const modules = readdirSync(apiDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
const schemas: Array<[string, z.ZodType]> = [];
for (const file of modules) {
  const mod = (await import(join(apiDir, file))) as Record<string, unknown>;
  for (const [name, value] of Object.entries(mod)) if (value instanceof z.ZodType) schemas.push([`${file.replace(/\.ts$/, '')}.${name}`, value]);
}

/** Valid resources to start from: the examples, the golden plan inputs (Rollouts, ReplicaSets, Pods, Services, templates). */
const root = join(import.meta.dirname, '..', '..');
const examples: unknown[] = [];
for (const file of readdirSync(join(root, 'examples'))) examples.push(...(loadAll(readFileSync(join(root, 'examples', file), 'utf8')) as unknown[]));
const goldenDir = join(root, 'src', 'core', 'rollout', 'golden');
for (const file of readdirSync(goldenDir).slice(0, 8)) {
  const { observed } = JSON.parse(readFileSync(join(goldenDir, file), 'utf8')) as { observed: Record<string, unknown> };
  examples.push(
    observed.rollout,
    ...((observed.replicaSets as unknown[]) ?? []).slice(0, 1),
    ...Object.values((observed.services as object) ?? {}).slice(0, 1),
  );
  for (const t of (observed.analysisTemplates as Array<{ spec: unknown }> | undefined) ?? [])
    examples.push({ apiVersion: 'sluice.dev/v1alpha1', kind: 'AnalysisTemplate', metadata: { name: 't' }, spec: t.spec });
}

function check(schema: z.ZodType, input: unknown): void {
  const r = schema.safeParse(input);
  if (r.success) JSON.stringify(r.data);
  else assert.ok(r.error.issues.length > 0);
}

describe('fuzz: API schemas', () => {
  test(`the schemas are found (${schemas.length})`, () => assert.ok(schemas.length >= 30, schemas.map(([n]) => n).join(', ')));

  test('arbitrary values never make a schema throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...schemas),
        fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.anything({ maxDepth: 4, withNullPrototype: true, withDate: true })),
        ([, schema], input) => check(schema, input),
      ),
      fuzzOptions(5),
    );
  });

  test('valid resources with random parts replaced never make a schema throw', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...schemas),
        fc.constantFrom(...examples).chain((e) => mutated(e)),
        ([, schema], input) => check(schema, input),
      ),
      fuzzOptions(5),
    );
  });
});
