// Fuzz: manifest parsing (src/core/gitops/manifests.ts) on arbitrary text, on YAML built from
// mutated valid resources, and on hostile YAML (aliases, deep nesting): parsing and
// validation never throw, every problem names its file and document.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { dump, loadAll } from 'js-yaml';
import { parseManifests, validateManifest, type SourceFile } from '../../src/core/gitops/manifests.ts';
import { fuzzOptions } from '../helpers/fuzz.ts';
import { mutated } from '../helpers/mutate.ts';

const root = join(import.meta.dirname, '..', '..');
const valid: unknown[] = [];
for (const file of readdirSync(join(root, 'examples'))) valid.push(...(loadAll(readFileSync(join(root, 'examples', file), 'utf8')) as unknown[]));
const goldenDir = join(root, 'src', 'core', 'rollout', 'golden');
for (const file of readdirSync(goldenDir).slice(0, 6)) {
  const { observed } = JSON.parse(readFileSync(join(goldenDir, file), 'utf8')) as { observed: { rollout: unknown; services: Record<string, unknown> } };
  valid.push(observed.rollout, ...Object.values(observed.services).filter(Boolean));
}

function check(files: SourceFile[]): void {
  const { manifests, problems } = parseManifests(files);
  for (const p of problems) {
    assert.equal(typeof p.message, 'string');
    assert.ok(
      files.some((f) => f.path === p.file),
      `problem names a file: ${p.message}`,
    );
  }
  for (const m of manifests) for (const p of validateManifest(m)) assert.equal(typeof p.message, 'string');
}

const yamlish = fc.string({
  unit: fc.constantFrom(
    'a',
    'k',
    ':',
    ' ',
    '\n',
    '-',
    '---\n',
    '"',
    "'",
    '[',
    ']',
    '{',
    '}',
    ',',
    '&x',
    '*x',
    '!!str',
    '#',
    '|',
    '>',
    '?',
    '1',
    '\t',
    '%YAML 1.2\n',
    '...\n',
    'apiVersion: v1\n',
    'kind: ConfigMap\n',
    'metadata:\n  name: a\n',
  ),
  maxLength: 60,
});
const path = fc.constantFrom('apps/a.yaml', 'apps/b.yml', 'c.json', 'apps/x/y.YAML');

describe('fuzz: manifest parsing', () => {
  test('arbitrary text never makes parsing or validation throw', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(path, fc.oneof(yamlish, fc.string({ maxLength: 200 }))), { minLength: 1, maxLength: 3 }), (files) =>
        check(files.map(([p, content]) => ({ path: p, content }))),
      ),
      fuzzOptions(3),
    );
  });

  test('mutated valid resources never make parsing or validation throw', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(...valid).chain((v) => mutated(v)),
          { minLength: 1, maxLength: 3 },
        ),
        path,
        (docs, p) => check([{ path: p, content: docs.map((d) => dump(d, { skipInvalid: true })).join('---\n') }]),
      ),
      fuzzOptions(2),
    );
  });

  test('deep nesting and many aliases are refused or parsed, never a throw', () => {
    check([{ path: 'deep.yaml', content: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: ${'['.repeat(5000)}${']'.repeat(5000)}\n` }]);
    const aliases = Array.from({ length: 2000 }, (_, i) => `  k${i}: *a`).join('\n');
    check([{ path: 'aliases.yaml', content: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\nx: &a [1]\ndata:\n${aliases}\n` }]);
  });

  // Each alias may refer to a list of aliases: 60 aliases of 9 elements would expand to 9^7
  // objects, which the sync then walks and serialises. The alias count limit counts what
  // aliases expand to (yaml's maxAliasCount), so a bomb is refused.
  test('alias expansion is bounded (YAML bombs)', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i <= 6; i++)
      levels.push(
        `l${i}: &l${i} [${Array(9)
          .fill(i === 1 ? '*a' : `*l${i - 1}`)
          .join(', ')}]`,
      );
    const content = `apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nanchors:\n${levels.map((l) => `  ${l}`).join('\n')}\nspec: {bomb: *l6}\n`;
    const { manifests, problems } = parseManifests([{ path: 'bomb.yaml', content }]);
    const expanded = manifests.reduce((n, m) => n + JSON.stringify(m.object).length, 0);
    assert.ok(problems.length > 0 || expanded < 100 * content.length, `${content.length} characters of YAML expand to ${expanded}`);
  });
});
