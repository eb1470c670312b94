import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lookupSecret } from '../shared/secrets.ts';
import { maskSecrets, placeholdersIn, resolveFieldPath, resolveRunArgs, substituteArgs, type ArgValue } from './args.ts';

const args = (entries: Record<string, string | [string, boolean]>) =>
  new Map<string, ArgValue>(Object.entries(entries).map(([k, v]) => [k, Array.isArray(v) ? { value: v[0], secret: v[1] } : { value: v, secret: false }]));

describe('substituteArgs', () => {
  test('replaces every placeholder, spaces allowed', () => {
    const r = substituteArgs(
      'rate(x{svc="{{args.service}}",h="{{ args.canary-hash }}"}[1m]) / {{args.service}}',
      args({ service: 'web', 'canary-hash': 'abc' }),
    );
    assert.deepEqual(r, { ok: true, value: { text: 'rate(x{svc="web",h="abc"}[1m]) / web', display: 'rate(x{svc="web",h="abc"}[1m]) / web' } });
  });
  test('a missing arg is an error naming it and the args there are', () => {
    assert.deepEqual(substituteArgs('x{a="{{args.a}}",b="{{args.b}}"}', args({ a: '1', c: '2' })), { ok: false, error: '{{args.b}} not defined (args: a, c)' });
    assert.deepEqual(substituteArgs('{{args.b}}', args({})), { ok: false, error: '{{args.b}} not defined (args: none)' });
  });
  test('Secret values are masked in the recorded text', () => {
    const r = substituteArgs('x{token="{{args.token}}",s="{{args.s}}"}', args({ token: ['hunter2', true], s: 'web' }));
    assert.ok(r.ok);
    assert.equal(r.value.text, 'x{token="hunter2",s="web"}');
    assert.equal(r.value.display, 'x{token="*****",s="web"}');
    assert.equal(maskSecrets('error near "hunter2"', args({ token: ['hunter2', true] })), 'error near "*****"');
  });
  test('text without placeholders is unchanged; other braces are left alone', () => {
    assert.deepEqual(substituteArgs('sum by (le) (x{a="{b}"})', args({})), {
      ok: true,
      value: { text: 'sum by (le) (x{a="{b}"})', display: 'sum by (le) (x{a="{b}"})' },
    });
    assert.deepEqual(placeholdersIn('{{args.a}} {{ args.b.c }} {{arg.d}}'), ['a', 'b.c']);
  });
});

describe('resolveRunArgs', () => {
  const secrets = new Map([
    ['prom', { token: 's3cret' }],
    ['gone', undefined],
  ]);
  test('literal and Secret values', () => {
    const r = resolveRunArgs(
      [
        { name: 'a', value: '1' },
        { name: 't', valueFrom: { secretKeyRef: { name: 'prom', key: 'token' } } },
      ],
      secrets,
      'ns',
    );
    assert.ok(r.ok);
    assert.deepEqual(
      [...r.value],
      [
        ['a', { value: '1', secret: false }],
        ['t', { value: 's3cret', secret: true }],
      ],
    );
  });
  const errors: Array<[string, Parameters<typeof resolveRunArgs>[0], string]> = [
    ['missing Secret', [{ name: 't', valueFrom: { secretKeyRef: { name: 'gone', key: 'token' } } }], 'arg "t": Secret ns/gone not found'],
    ['Secret never read', [{ name: 't', valueFrom: { secretKeyRef: { name: 'other', key: 'token' } } }], 'arg "t": Secret ns/other not found'],
    ['missing key', [{ name: 't', valueFrom: { secretKeyRef: { name: 'prom', key: 'nope' } } }], 'arg "t": Secret ns/prom has no key "nope"'],
    ['no value', [{ name: 'x' }], 'arg "x" has no value: set value or valueFrom, or pass it from the Rollout'],
    [
      'fieldRef left in a run',
      [{ name: 'x', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } }],
      'arg "x": fieldRef metadata.name is only resolved when a Rollout starts the analysis',
    ],
  ];
  for (const [name, input, error] of errors) test(name, () => assert.deepEqual(resolveRunArgs(input, secrets, 'ns'), { ok: false, error }));
  test('lookupSecret', () => assert.deepEqual(lookupSecret({ name: 'prom', key: 'token' }, secrets, 'ns'), { ok: true, value: 's3cret' }));
});

describe('resolveFieldPath', () => {
  const obj = { metadata: { name: 'web', labels: { app: 'shop', 'a/b': 'c' } }, spec: { replicas: 3, paused: false, template: { x: [1] } } };
  const table: Array<[string, { ok: boolean; value?: string; error?: string }]> = [
    ['metadata.name', { ok: true, value: 'web' }],
    ["metadata.labels['app']", { ok: true, value: 'shop' }],
    ['metadata.labels["a/b"]', { ok: true, value: 'c' }],
    ['metadata.labels.app', { ok: true, value: 'shop' }],
    ['spec.replicas', { ok: true, value: '3' }],
    ['spec.paused', { ok: true, value: 'false' }],
    ['metadata.labels.missing', { ok: false, error: 'fieldRef metadata.labels.missing: not set' }],
    ['spec.template', { ok: false, error: 'fieldRef spec.template: is an object, not a value' }],
    ['spec.template.x', { ok: false, error: 'fieldRef spec.template.x: is an array, not a value' }],
    ['metadata..name', { ok: false, error: "fieldRef metadata..name: not a field path (expected e.g. metadata.name or metadata.labels['app'])" }],
    ['.metadata', { ok: false, error: "fieldRef .metadata: not a field path (expected e.g. metadata.name or metadata.labels['app'])" }],
  ];
  for (const [path, expected] of table) test(path, () => assert.deepEqual(resolveFieldPath(obj, path), expected));
});
