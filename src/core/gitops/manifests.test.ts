import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ROLLOUT, SERVICE, manifest } from '../../../test/helpers/manifests.ts';
import { apiErrorField, isManifestPath, lintManifests, parseManifestFile, parseManifests, positionOf, unknownFields, validateManifest } from './manifests.ts';

describe('parsing', () => {
  test('multi-document files keep file, document, line and column', () => {
    const content = `# a comment\n---\n${SERVICE}---\n# only a comment\n---\n${ROLLOUT}...\n`;
    const { manifests, problems } = parseManifestFile({ path: 'apps/web.yaml', content });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      manifests.map((m) => [m.object.kind, m.source]),
      [
        ['Service', { file: 'apps/web.yaml', document: 1, line: 3, column: 1 }],
        ['Rollout', { file: 'apps/web.yaml', document: 2, line: 13, column: 1 }],
      ],
    );
  });

  test('a YAML error names the document and the line, without echoing the content', () => {
    const content = `${SERVICE}---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n  password: "hunter2-very-secret\n`;
    const { manifests, problems } = parseManifestFile({ path: 'apps/web.yaml', content });
    assert.equal(manifests.length, 1);
    assert.equal(problems.length, 1);
    const [p] = problems;
    assert.equal(p?.reason, 'InvalidYAML');
    assert.equal(p?.file, 'apps/web.yaml');
    assert.equal(p?.document, 2);
    assert.equal(p?.line, 14, 'the line of the unterminated string');
    assert.equal(p?.column, 13);
    assert.match(p?.message ?? '', /^apps\/web\.yaml:14:13: invalid YAML: /);
    assert.doesNotMatch(p?.message ?? '', /hunter2/);
  });

  test('documents that are not objects, or lack kind/name, are problems', () => {
    const cases: Array<[string, RegExp]> = [
      ['- a\n- b\n', /not a Kubernetes object \(found a list\)/],
      ['just text\n', /not a Kubernetes object \(found string\)/],
      ['apiVersion: v1\nkind: ConfigMap\n', /metadata is required/],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}\n', /metadata.name is required/],
      ['kind: ConfigMap\nmetadata: {name: x}\n', /apiVersion is required/],
      ['apiVersion: v1\nkind: configMap\nmetadata: {name: x}\n', /kind must be a CamelCase name/],
      [
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, annotations: {replicas: 3}}\n',
        /metadata\.annotations\.replicas: must be a string \(quote numbers and booleans\)/,
      ],
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nmetadata: {name: y}\n', /^f\.yaml:4:1: invalid YAML: Map keys must be unique/],
    ];
    for (const [content, message] of cases) {
      const { manifests, problems } = parseManifestFile({ path: 'f.yaml', content });
      assert.equal(manifests.length, 0, content);
      assert.match(problems[0]?.message ?? '', message, content);
    }
  });

  test('kind: List is expanded; JSON files are read; empty files give nothing', () => {
    const list = parseManifestFile({
      path: 'l.yaml',
      content:
        'apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - ' +
        '{apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n',
    });
    assert.deepEqual(
      list.manifests.map((m) => m.object.metadata.name),
      ['a', 'b'],
    );
    const json = parseManifestFile({ path: 'c.json', content: '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}' });
    assert.equal(json.manifests[0]?.object.metadata.name, 'j');
    assert.deepEqual(parseManifestFile({ path: 'e.yaml', content: '# nothing\n---\n' }), { manifests: [], problems: [] });
  });

  test('YAML 1.2 core schema: no timestamps turned into dates, merge keys allowed, CRLF and BOM tolerated', () => {
    const m = manifest('\uFEFFapiVersion: v1\r\nkind: ConfigMap\r\nmetadata: {name: x}\r\ndata:\r\n  when: 2024-01-01\r\n  on: yes\r\n');
    assert.deepEqual(m.object.data, { when: '2024-01-01', on: 'yes' });
    const merged = manifest('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nbase: &b {a: "1"}\ndata:\n  <<: *b\n  c: "2"\n');
    assert.deepEqual(merged.object.data, { a: '1', c: '2' });
  });

  test('documents split only at markers at the start of a line', () => {
    const { manifests } = parseManifestFile({
      path: 'f.yaml',
      content:
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata:\n  x: |\n    ---\n    y\n---\n\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n',
    });
    assert.deepEqual(
      manifests.map((m) => [m.object.metadata.name, m.source.document, m.source.line]),
      [
        ['a', 1, 1],
        ['b', 2, 10],
      ],
    );
    assert.equal((manifests[0]?.object.data as { x: string }).x, '---\ny\n');
  });

  test('aliases are capped (no "billion laughs") and so is nesting', () => {
    const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++)
      laughs.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    const bomb = parseManifestFile({ path: 'bomb.yaml', content: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n${laughs.join('\n')}\n` });
    assert.equal(bomb.manifests.length, 0);
    assert.match(bomb.problems[0]?.message ?? '', /^bomb\.yaml:1:1: invalid YAML: .*alias/i);
    const deep = parseManifestFile({
      path: 'deep.yaml',
      content: `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: ${'['.repeat(150)}${']'.repeat(150)}\n`,
    });
    assert.match(deep.problems[0]?.message ?? '', /nested deeper than 100 levels/);
  });

  test('files are processed in path order', () => {
    const { manifests } = parseManifests([
      { path: 'b.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n' },
      { path: 'a.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n' },
    ]);
    assert.deepEqual(
      manifests.map((m) => m.source.file),
      ['a.yaml', 'b.yaml'],
    );
  });

  test('manifest paths', () => {
    assert.ok(isManifestPath('a/b.yaml') && isManifestPath('B.YML') && isManifestPath('c.json'));
    assert.ok(!isManifestPath('README.md') && !isManifestPath('yaml'));
  });
});

describe('validateManifest', () => {
  test('a valid Rollout and a Service pass', () => {
    assert.deepEqual(validateManifest(manifest(ROLLOUT)), []);
    assert.deepEqual(validateManifest(manifest(SERVICE)), []);
  });

  test('Rollout schema errors point at the line and column of the field', () => {
    const [p, more] = validateManifest(manifest(ROLLOUT.replace('setWeight: 25', 'setWeight: 150'), 'apps/web/broken.yaml'));
    assert.equal(more, undefined);
    assert.equal(p?.reason, 'InvalidManifest');
    assert.deepEqual([p?.file, p?.document, p?.line, p?.column], ['apps/web/broken.yaml', 1, 19, 22]);
    assert.equal(p?.message, 'apps/web/broken.yaml:19:22: Rollout "web": spec.strategy.canary.steps[0].setWeight: Too big: expected number to be <=100');
  });

  test('each problem of an object at its own place; a missing field at the key that should hold it', () => {
    const text = ROLLOUT.replace('replicas: 4', 'replicas: many').replace(
      '        - pause: {duration: 30s}\n',
      '        - pause: {duration: 30s}\n        - setWeight: -1\n',
    );
    const problems = validateManifest(manifest(text));
    assert.deepEqual(
      problems.map((p) => [p.line, p.column, p.message.replace(/^[^ ]+ Rollout "web": /, '').split(':')[0]]),
      [
        [6, 13, 'spec.replicas'],
        [21, 22, 'spec.strategy.canary.steps[2].setWeight'],
      ],
    );
    const noSelector = validateManifest(manifest(ROLLOUT.replace('  selector:\n    matchLabels: {app: web}\n', '')));
    assert.equal(noSelector[0]?.line, 5, `points at "spec:": ${noSelector[0]?.message}`);
    assert.equal(noSelector[0]?.column, 1);
  });

  test('unknown (misspelt) fields of Sluice kinds are reported', () => {
    const problems = validateManifest(manifest(ROLLOUT.replace('  replicas: 4', '  replicas: 4\n  revisonHistoryLimit: 3')));
    assert.match(problems.map((p) => p.message).join(), /^apps\/web\.yaml:7:3: Rollout "web": unknown field spec\.revisonHistoryLimit \(misspelt\?\)/);
  });

  test('Rollout rules beyond the CRD: selector must match the template', () => {
    const problems = validateManifest(manifest(ROLLOUT.replace('matchLabels: {app: web}', 'matchLabels: {app: other}')));
    assert.match(problems.map((p) => p.message).join(), /^apps\/web\.yaml:7:3: Rollout "web": spec.selector does not match spec.template.metadata.labels/);
  });

  test('unknown Sluice kinds and versions are refused; status in Git is ignored', () => {
    assert.equal(validateManifest(manifest('apiVersion: sluice.dev/v1alpha1\nkind: Canary\nmetadata: {name: x}\n'))[0]?.reason, 'UnknownKind');
    assert.match(
      validateManifest(manifest(ROLLOUT.replace('sluice.dev/v1alpha1', 'sluice.dev/v2')))[0]?.message ?? '',
      /unsupported apiVersion sluice.dev\/v2/,
    );
    assert.deepEqual(validateManifest(manifest(`${ROLLOUT}status:\n  phase: Bogus\n`)), []);
  });

  test('AnalysisTemplates and GitSyncs are validated too', () => {
    const bad = validateManifest(manifest('apiVersion: sluice.dev/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics: []\n'));
    assert.match(bad[0]?.message ?? '', /spec\.metrics/);
    const gs = validateManifest(manifest('apiVersion: sluice.dev/v1alpha1\nkind: GitSync\nmetadata: {name: g}\nspec:\n  url: ftp://x\n'));
    assert.match(gs[0]?.message ?? '', /spec\.url/);
  });
});

describe('positions', () => {
  test('positionOf: a scalar at its value, a map or list at its key, a missing field at its parent key', () => {
    const m = manifest(ROLLOUT);
    const at = (path: Array<string | number>, target?: 'key') => {
      const p = positionOf(m, path, target);
      return `${p.line}:${p.column}`;
    };
    assert.equal(at(['spec', 'replicas']), '6:13');
    assert.equal(at(['spec', 'replicas'], 'key'), '6:3');
    assert.equal(at(['spec', 'selector']), '7:3', 'a map: its key');
    assert.equal(at(['spec', 'selector', 'matchLabels', 'app']), '8:24', 'inside a flow map');
    assert.equal(at(['spec', 'template', 'spec', 'containers', 0, 'image']), '15:18');
    assert.equal(at(['spec', 'template', 'spec', 'containers', 0]), '14:11', 'a list item: where it starts');
    assert.equal(at(['spec', 'minReadySeconds']), '5:1', 'missing: the key of the enclosing field');
    assert.equal(at(['spec', 'strategy', 'canary', 'steps', 7, 'setWeight']), '18:7', 'no such item: the list');
    assert.equal(at([]), '1:1');
  });

  test('items of a kind: List and JSON files have positions too', () => {
    const list = lintManifests([
      {
        path: 'list.yaml',
        content:
          'apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - ' +
          'apiVersion: sluice.dev/v1alpha1\n    kind: Rollout\n    metadata: {name: r}\n    spec: {replicas: -1}\n',
      },
      {
        path: 'j.json',
        content: '{\n  "apiVersion": "sluice.dev/v1alpha1",\n  "kind": "Rollout",\n  "metadata": {"name": "j"},\n  "spec": {"replicas": "x"}\n}\n',
      },
    ]);
    assert.deepEqual(
      list.manifests.map((m) => [m.object.metadata.name, m.source.line, m.source.column]),
      [
        ['j', 1, 1],
        ['a', 4, 5],
        ['r', 5, 5],
      ],
    );
    const first = list.problems.map((p) => p.message.split(': ')[0]);
    assert.ok(first.includes('j.json:5:24'), first.join(' '));
    assert.ok(first.includes('list.yaml:8:22'), first.join(' '));
  });

  test('lintManifests: every problem of every file, in reading order (what kubectl sluice lint prints)', () => {
    const { problems } = lintManifests([
      { path: 'b.yaml', content: ROLLOUT.replace('setWeight: 25', 'setWeight: 150') },
      { path: 'a.yaml', content: 'apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n---\nnot: [closed\n' },
    ]);
    assert.deepEqual(
      problems.map((p) => [p.file, p.document, p.line, p.column, p.reason]),
      [
        ['a.yaml', 1, 3, 1, 'InvalidManifest'], // metadata.name is missing: at "metadata:"
        ['a.yaml', 2, 5, 7, 'InvalidYAML'],
        ['b.yaml', 1, 19, 22, 'InvalidManifest'],
      ],
    );
  });

  test('unknownFields: what a schema dropped, as paths people write', () => {
    const input = { spec: { stratgy: {}, steps: [{ setWeight: 1, pasue: {} }] }, kind: 'X' };
    const output = { spec: { steps: [{ setWeight: 1 }] }, kind: 'X' };
    assert.deepEqual(unknownFields(input, output), ['spec.stratgy', 'spec.steps[0].pasue']);
  });

  test("apiErrorField: the field an API server's refusal names", () => {
    assert.deepEqual(apiErrorField('Service "web" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive'), [
      'spec',
      'ports',
      0,
      'port',
    ]);
    assert.deepEqual(apiErrorField('PATCH /api/v1/x: 422 ConfigMap "c" is invalid: data[bad key]: Invalid value'), undefined);
    assert.equal(apiErrorField('admission webhook denied the request'), undefined);
  });
});
