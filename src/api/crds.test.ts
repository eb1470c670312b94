import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrdFiles } from './render-crds.ts';
import { schemaOf } from './crd.ts';
import { z } from 'zod';

test('crds/ matches the zod schemas (run `npm run crds` after changing src/api)', () => {
  for (const [file, expected] of Object.entries(renderCrdFiles())) {
    const actual = readFileSync(join(import.meta.dirname, '..', '..', 'crds', file), 'utf8');
    assert.equal(actual, expected, `crds/${file} is out of date`);
  }
});

test('structural schema: maps, opaque objects, int-or-string and enums', () => {
  const s = schemaOf(
    z.object({
      labels: z.record(z.string(), z.string()),
      template: z.looseObject({}).meta({ 'x-kubernetes-preserve-unknown-fields': true }),
      surge: z.union([z.number().int(), z.string()]).meta({ 'x-kubernetes-int-or-string': true }).optional(),
      mode: z.enum(['a', 'b']),
      count: z.number().int().min(0),
    }),
  );
  assert.deepEqual(s, {
    type: 'object',
    properties: {
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      template: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      surge: { 'x-kubernetes-int-or-string': true },
      mode: { type: 'string', enum: ['a', 'b'] },
      count: { type: 'integer', minimum: 0 },
    },
    required: ['labels', 'template', 'mode', 'count'],
  });
});
