import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { lookupSecret } from '../shared/secrets.ts';
import fc from 'fast-check';
import { maskSecrets, placeholdersIn, resolveFieldPath, resolveRunArgs, substituteArgs, substitutePromQL, type ArgValue } from './args.ts';

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

describe('substitutePromQL', () => {
  const sub = (query: string, values: Record<string, string | [string, boolean]>) => substitutePromQL(query, args(values));
  const text = (query: string, values: Record<string, string | [string, boolean]>) => {
    const r = sub(query, values);
    if (!r.ok) throw new Error(r.error);
    return r.value.text;
  };

  test('each value is written for the place it goes', () => {
    assert.equal(text('x{a="{{args.v}}"}', { v: 'a"b\\c\nd' }), 'x{a="a\\"b\\\\c\\nd"}');
    assert.equal(text("x{a='{{args.v}}'}", { v: `it's "q"` }), `x{a='it\\'s "q"'}`);
    assert.equal(text('x{a=~"{{args.v}}.*"}', { v: 'web|api' }), 'x{a=~"web|api.*"}', 'regex text is data the template asked for');
    assert.equal(text('x{a=`{{args.v}}`}', { v: 'raw "x" \\d' }), 'x{a=`raw "x" \\d`}');
    assert.equal(
      text('rate({{args.m}}_total[{{args.w}}] offset {{args.o}}) > {{args.t}} # {{args.c}}', {
        m: 'http_requests',
        w: '1h30m',
        o: '5m',
        t: '-1.5e-3',
        c: 'any "text"',
      }),
      'rate(http_requests_total[1h30m] offset 5m) > -1.5e-3 # any "text"',
    );
    assert.equal(text('x{a="\\"{{args.v}}"}', { v: '"' }), 'x{a="\\"\\""}', 'an escaped quote does not end the string');
    assert.equal(text('x{a="{{args.v}}"} # "', { v: 'ok' }), 'x{a="ok"} # "');
  });

  test('a value that would change the meaning of the query is refused, naming the arg', () => {
    const cases: Array<[string, Record<string, string | [string, boolean]>, RegExp]> = [
      [
        'rate(x[{{args.w}}])',
        { w: '5m]) or vector(1) or rate(x[5m' },
        /^arg "w": "5m\]\) or vector\(1\) or rate\(x\[5m" cannot go into the query outside a string literal/,
      ],
      ['x > {{args.t}}', { t: '1 or vector(1)' }, /^arg "t": .* outside a string literal/],
      ['sum by ({{args.l}}) (x)', { l: 'a, b' }, /^arg "l"/],
      ['x > {{args.t}}', { t: ['1 or up', true] }, /^arg "t" \(from a Secret\) cannot go into the query/],
      ['x{a=`{{args.v}}`}', { v: 'a`} or up{b=`' }, /^arg "v": .* contains a backtick/],
      ['x # {{args.c}}', { c: 'note\nor vector(1)' }, /^arg "c": .* contains a line break/],
      ['{{args.missing}}', {}, /not defined/],
    ];
    for (const [query, values, expected] of cases) {
      const r = sub(query, values);
      assert.equal(r.ok, false, query);
      if (!r.ok) assert.match(r.error, expected, query);
      if (!r.ok) assert.ok(!r.error.includes('1 or up'), 'a Secret value is not echoed');
    }
  });

  test('Secret values are masked in the recorded query; partial leaves unknown args in place', () => {
    assert.deepEqual(sub('x{a="{{args.s}}"}', { s: ['hidden', true] }), { ok: true, value: { text: 'x{a="hidden"}', display: 'x{a="*****"}' } });
    assert.deepEqual(substitutePromQL('x{a="{{args.s}}"} > {{args.t}}', args({ t: '2' }), { partial: true }), {
      ok: true,
      value: { text: 'x{a="{{args.s}}"} > 2', display: 'x{a="{{args.s}}"} > 2' },
    });
  });

  // Reads a PromQL string literal's content back as the lexer does.
  const unquote = (body: string) =>
    body.replace(/\\(x[0-9a-f]{2}|.)/g, (_all, e: string) =>
      e.startsWith('x') && e.length === 3 ? String.fromCharCode(parseInt(e.slice(1), 16)) : (({ n: '\n', r: '\r', t: '\t' } as Record<string, string>)[e] ?? e),
    );

  test('property: inside a string literal any value stays inside it and reads back as itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('"', "'"), (value, q) => {
        const out = text(`x{a=${q}{{args.v}}${q}} or y`, { v: value });
        const m = new RegExp(`^x\\{a=${q}((?:\\\\.|[^\\\\${q}])*)${q}\\} or y$`, 's').exec(out);
        assert.ok(m, out);
        assert.equal(unquote(m[1] as string), value);
      }),
      { seed: 4242, numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });

  test('property: outside string literals a value is one token or refused', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('a', '1', '.', '-', '+', 'e', 'm', 's', ' ', '(', ')', '[', ']', '{', '}', '"', ',', '_', ':', 'x'), maxLength: 12 }),
        (value) => {
          const r = sub('x[{{args.v}}] > 1', { v: value });
          if (r.ok) assert.match(value, /^[A-Za-z0-9_:.+-]+$/, 'nothing that could open or close anything');
        },
      ),
      { seed: 4243, numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });
});
