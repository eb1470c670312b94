import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describeJson, parseJsonPath, selectFirst, type JsonValue } from './json-path.ts';
import { fuzzOptions } from '../../../test/helpers/fuzz.ts';

function select(path: string, document: JsonValue): { value: JsonValue; matches: number } | { error: string } {
  const parsed = parseJsonPath(path);
  if (!parsed.ok) return { error: parsed.error };
  const r = selectFirst(parsed.value, document);
  return r.ok ? r.value : { error: r.error };
}
const value = (path: string, document: JsonValue) => {
  const r = select(path, document);
  assert.ok('value' in r, `${path}: ${JSON.stringify(r)}`);
  return r.value;
};
const error = (path: string, document: JsonValue) => {
  const r = select(path, document);
  assert.ok('error' in r, `${path} selected ${JSON.stringify(r)}`);
  return r.error;
};

describe('jsonPath (the Kubernetes JSONPath subset of web metrics)', () => {
  const doc: JsonValue = {
    data: { ok: true, successPercent: 0.95, tags: ['a', 'b', 'c'] },
    key: [{ key2: { value: '1' } }, { key2: { value: '2' } }],
    items: [{ v: 1 }, { v: 2 }, { w: 3 }],
    'a.b': 'dotted',
    a: { b: 'nested' },
    'x y': 5,
    nothing: null,
    empty: [],
  };

  test("Argo Rollouts' examples: {$.data.ok}, {$.data}, {$.key[0].key2.value}, and the default: the whole document", () => {
    assert.equal(value('{$.data.ok}', doc), true);
    assert.deepEqual(value('{$.data}', doc), { ok: true, successPercent: 0.95, tags: ['a', 'b', 'c'] });
    assert.equal(value('{$.key[0].key2.value}', doc), '1');
    assert.deepEqual(value('{$}', doc), doc);
    assert.deepEqual(value('', doc), doc);
    assert.deepEqual(value('$', doc), doc);
  });

  test('the braces and the $ are optional: {$.x}, $.x, {.x} and .x are the same path', () => {
    for (const path of [
      '{$.data.successPercent}',
      '$.data.successPercent',
      '{.data.successPercent}',
      '.data.successPercent',
      '{ $.data.successPercent }',
      '@.data.successPercent',
    ]) {
      assert.equal(value(path, doc), 0.95, path);
    }
  });

  test('quoted field names, escaped dots, negative indexes, slices', () => {
    assert.equal(value("{$['a.b']}", doc), 'dotted', 'a quoted name is one key, dots and all');
    assert.equal(value('{$["x y"]}', doc), 5);
    assert.equal(value('{$.a\\.b}', doc), 'dotted', '\\. escapes a dot in a field name');
    assert.equal(value('{$.a.b}', doc), 'nested');
    assert.equal(value("{$['data']['tags'][-1]}", doc), 'c');
    assert.deepEqual(select('{$.data.tags[1:3]}', doc), { value: 'b', matches: 2 });
    assert.deepEqual(select('{$.data.tags[::2]}', doc), { value: 'a', matches: 2 });
  });

  test('several matches: the first is the value, as Argo Rollouts takes it; a field missing from some of them drops those', () => {
    assert.deepEqual(select('{$.items[*].v}', doc), { value: 1, matches: 2 });
    assert.deepEqual(select('{$.items[*]}', doc), { value: { v: 1 }, matches: 3 });
    assert.deepEqual(select('{$.a.*}', doc), { value: 'nested', matches: 1 });
    assert.deepEqual(select('{$.items[*].w}', doc), { value: 3, matches: 1 });
  });

  test('null is a value; a step after it finds nothing', () => {
    assert.equal(value('{$.nothing}', doc), null);
    assert.match(error('{$.nothing.x}', doc), /^jsonPath \{\$\.nothing\.x\}: \.x not found in \$\.nothing \(null\)$/);
  });

  test('what is not there is an error saying where, describing (never quoting) what is there', () => {
    assert.equal(error('{$.data.missing}', doc), 'jsonPath {$.data.missing}: .missing not found in $.data (an object with keys ok, successPercent, tags)');
    assert.equal(error('{$.data.tags[7]}', doc), 'jsonPath {$.data.tags[7]}: [7]: index out of range, $.data.tags has 3 elements');
    assert.equal(error('{$.data[0]}', doc), 'jsonPath {$.data[0]}: [0]: $.data is an object with keys ok, successPercent, tags, not a list');
    assert.equal(error('{$.empty[*]}', doc), 'jsonPath {$.empty[*]}: nothing matches $.empty[*]');
    assert.match(error('{$.data.ok.deeper}', doc), /\.deeper not found in \$\.data\.ok \(a boolean\)/);
    assert.match(error('{$.items[*].none}', doc), /\.none not found in \$\.items\[\*\] \(3 values, 3 of them objects\)/);
  });

  test('the prototype chain is not the document', () => {
    assert.match(error('{$.constructor}', {}), /\.constructor not found/);
    assert.match(error('{$.toString}', { a: 1 }), /\.toString not found/);
    assert.equal(value('{$.__proto__}', JSON.parse('{"__proto__": 7}') as JsonValue), 7);
  });

  test('what Kubernetes JSONPath has and a selection does not need is refused with a reason', () => {
    const cases: Array<[string, RegExp]> = [
      ['{$.items[?(@.v==1)]}', /filters \[\?\(…\)\] are not supported: select the list and filter it in the condition/],
      ['{$..v}', /recursive descent/],
      ['{$.items[0,1]}', /unions/],
      ["{$['a','b']}", /unions/],
      ['v{$.a}', /text before the \{…\} expression/],
      ['{$.a}{$.b}', /only one \{…\} expression/],
      ['{$.a} and more', /only one \{…\} expression/],
      ['{$.a', /not closed/],
      ['{$.items[x]}', /\[x\] is not an index/],
      ['{$.items[0}', /not closed|is not an index/],
      ['{$.items[::0]}', /step .* must be greater than 0/],
      ['data.ok', /unexpected "d" at position 0: a path starts with \$/],
      ["{$['a}", /not closed/],
    ];
    for (const [path, expected] of cases) {
      const parsed = parseJsonPath(path);
      assert.equal(parsed.ok, false, path);
      if (!parsed.ok) {
        assert.match(parsed.error, expected, path);
        assert.ok(parsed.error.startsWith(`jsonPath ${JSON.stringify(path)}: `), parsed.error);
      }
    }
  });

  test('describeJson names the type and at most five keys', () => {
    assert.equal(describeJson([1, 2]), 'a list of 2');
    assert.equal(describeJson({}), 'an empty object');
    assert.equal(describeJson('secret text'), 'a string');
    assert.equal(describeJson({ a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7 }), 'an object with keys a, b, c, d, e (and 2 more)');
  });

  // Properties: a path built from a walk into a random document selects what the walk reached; parsing never throws.
  const json = fc.letrec<{ value: JsonValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ maxLength: 8 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  /** A walk: at each list or object, one index or key (written as Kubernetes JSONPath), and where it leads. */
  function walks(document: JsonValue): fc.Arbitrary<{ path: string; at: JsonValue }> {
    const step = (v: JsonValue, path: string, depth: number): fc.Arbitrary<{ path: string; at: JsonValue }> => {
      const here = fc.constant({ path, at: v });
      if (depth > 5 || v === null || typeof v !== 'object') return here;
      const entries: Array<[string, JsonValue]> = Array.isArray(v)
        ? v.flatMap((x, i) => [[`[${i}]`, x] as [string, JsonValue], [`[${i - v.length}]`, x] as [string, JsonValue]])
        : Object.entries(v).map(([k, x]) => [`['${k.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}']`, x] as [string, JsonValue]);
      if (entries.length === 0) return here;
      return fc.oneof(
        here,
        fc.constantFrom(...entries).chain(([text, x]) => step(x, path + text, depth + 1)),
      );
    };
    return step(document, '$', 0);
  }

  test('property: a path to a place in a document selects the value there, with or without braces', () => {
    fc.assert(
      fc.property(
        json.chain((document) => walks(document).map((w) => ({ document, ...w }))),
        ({ document, path, at }) => {
          for (const written of [path, `{${path}}`]) {
            const r = select(written, document);
            assert.ok('value' in r, `${written}: ${JSON.stringify(r)}`);
            assert.deepEqual(r.value, at);
            assert.equal(r.matches, 1);
          }
        },
      ),
      fuzzOptions(),
    );
  });

  test('property: parsing any text and selecting with it never throws', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom('$', '.', '[', ']', '{', '}', '*', "'", '"', '\\', ':', '-', '1', 'a', '?', '(', ' '), maxLength: 24 }),
        json,
        (path, document) => {
          const parsed = parseJsonPath(path);
          if (parsed.ok) selectFirst(parsed.value, document);
        },
      ),
      fuzzOptions(),
    );
  });
});
