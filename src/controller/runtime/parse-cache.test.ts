import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { ParseCache } from './parse-cache.ts';

const Schema = z.object({ metadata: z.object({ name: z.string() }), spec: z.object({ replicas: z.number().default(1) }) });

test('an object is parsed once; a new version of it (a new object) is parsed again', () => {
  let parses = 0;
  const cache = new ParseCache(Schema, (raw) => {
    parses++;
    return raw;
  });
  const v1 = { metadata: { name: 'a' }, spec: {} };
  assert.equal(cache.parse(v1).spec.replicas, 1);
  assert.equal(cache.parse(v1), cache.parse(v1));
  assert.equal(parses, 1);
  const v2 = { metadata: { name: 'a' }, spec: { replicas: 3 } };
  assert.equal(cache.parse(v2).spec.replicas, 3);
  assert.equal(parses, 2);
});

test('a parse shared between reconciles is frozen all the way down', () => {
  const cache = new ParseCache(Schema);
  const parsed = cache.parse({ metadata: { name: 'a' }, spec: {} });
  assert.throws(() => {
    (parsed.metadata as { name: string }).name = 'b';
  }, TypeError);
});

test('an object that does not parse keeps failing with the same issues, without a new parse', () => {
  let parses = 0;
  const cache = new ParseCache(Schema, (raw) => {
    parses++;
    return raw;
  });
  const bad = { metadata: {}, spec: {} };
  const first = cache.safeParse(bad);
  assert.equal(first.success, false);
  assert.equal(cache.safeParse(bad), first);
  assert.throws(() => cache.parse(bad), /name/);
  assert.equal(parses, 1);
});
