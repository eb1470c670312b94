import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION, type InventoryEntry } from '../../api/git-sync.ts';
import {
  applyOrder,
  autoscaledRollouts,
  calculatePrune,
  isManifestPath,
  managedByOther,
  namespaceScope,
  parseManifestFile,
  parseManifests,
  placeManifests,
  prepareForApply,
  refKey,
  specChanged,
  splitDocuments,
  validateManifest,
  type KindInfo,
  type Manifest,
  type NamespaceScope,
} from './manifests.ts';

const ROLLOUT = `apiVersion: sluice.dev/v1alpha1
kind: Rollout
metadata:
  name: web
spec:
  replicas: 4
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: web:1
  strategy:
    canary:
      steps:
        - setWeight: 25
        - pause: {duration: 30s}
`;

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports: [{port: 80}]
`;

const manifest = (content: string, file = 'apps/web.yaml'): Manifest => {
  const { manifests, problems } = parseManifestFile({ path: file, content });
  assert.deepEqual(problems, []);
  assert.equal(manifests.length, 1);
  return manifests[0] as Manifest;
};

describe('parsing', () => {
  test('multi-document files keep file, document and line', () => {
    const content = `# a comment\n---\n${SERVICE}---\n# only a comment\n---\n${ROLLOUT}...\n`;
    const { manifests, problems } = parseManifestFile({ path: 'apps/web.yaml', content });
    assert.deepEqual(problems, []);
    assert.deepEqual(
      manifests.map((m) => [m.object.kind, m.source]),
      [
        ['Service', { file: 'apps/web.yaml', document: 1, line: 3 }],
        ['Rollout', { file: 'apps/web.yaml', document: 2, line: 13 }],
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
    assert.ok((p?.line ?? 0) >= 14, `line ${p?.line}`);
    assert.match(p?.message ?? '', /^apps\/web\.yaml: document 2: invalid YAML at line \d+/);
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
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\nmetadata: {name: y}\n', /duplicated mapping key/],
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
        'apiVersion: v1\nkind: List\nitems:\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n  - {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n',
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

  test('splitDocuments only splits at markers at the start of a line', () => {
    const parts = splitDocuments('a: |\n  ---\n  x\n---\nb: 1\n');
    assert.deepEqual(
      parts.map((p) => [p.start, p.line]),
      [
        [1, 1],
        [4, 5],
      ],
    );
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

  test('Rollout schema errors name the field, the file and the document', () => {
    const [p] = validateManifest(manifest(ROLLOUT.replace('setWeight: 25', 'setWeight: 150')));
    assert.equal(p?.reason, 'InvalidManifest');
    assert.match(p?.message ?? '', /^apps\/web\.yaml: document 1 \(line 1\): Rollout "web": spec\.strategy\.canary\.steps\[0\]\.setWeight: Too big/);
  });

  test('unknown (misspelt) fields of Sluice kinds are reported', () => {
    const problems = validateManifest(manifest(ROLLOUT.replace('  replicas: 4', '  replicas: 4\n  revisonHistoryLimit: 3')));
    assert.match(problems.map((p) => p.message).join(), /unknown field spec\.revisonHistoryLimit \(misspelt\?\)/);
  });

  test('Rollout rules beyond the CRD: selector must match the template', () => {
    const problems = validateManifest(manifest(ROLLOUT.replace('matchLabels: {app: web}', 'matchLabels: {app: other}')));
    assert.match(problems.map((p) => p.message).join(), /spec.selector does not match spec.template.metadata.labels/);
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

const KINDS: Record<string, KindInfo> = {
  'v1 Service': { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  'v1 ConfigMap': { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  'v1 Namespace': { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  'sluice.dev/v1alpha1 Rollout': { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', plural: 'rollouts', namespaced: true },
};
const kindOf = (apiVersion: string, kind: string) => KINDS[`${apiVersion} ${kind}`];
const SCOPE: NamespaceScope = { defaultNamespace: 'team', allowed: ['team'], clusterScoped: false };

describe('namespaces and policy', () => {
  test('namespaceScope: own namespace by default; more only when the controller allows it', () => {
    assert.deepEqual(namespaceScope('team', {}, {}), { defaultNamespace: 'team', allowed: ['team'], clusterScoped: false });
    const refused = namespaceScope('team', { targetNamespace: 'prod' }, {});
    assert.ok('reason' in refused && refused.reason === 'NamespaceNotAllowed' && /only its own namespace \(team\); spec asks for prod/.test(refused.message));
    assert.deepEqual(namespaceScope('team', { targetNamespace: 'prod', allowedNamespaces: ['prod', 'team'] }, { allowCrossNamespace: true }), {
      defaultNamespace: 'prod',
      allowed: ['prod', 'team'],
      clusterScoped: false,
    });
    const notListed = namespaceScope('team', { targetNamespace: 'prod', allowedNamespaces: ['team'] }, { allowCrossNamespace: true });
    assert.ok('reason' in notListed && /not in spec.allowedNamespaces/.test(notListed.message));
  });

  test('placeManifests fills in namespaces and refuses what the GitSync may not touch', () => {
    const ok = placeManifests([manifest(SERVICE), manifest(ROLLOUT, 'apps/r.yaml')], kindOf, SCOPE);
    assert.deepEqual(ok.problems, []);
    assert.deepEqual(
      ok.objects.map((o) => [refKey(o.ref), o.object.metadata.namespace]),
      [
        ['/Service/team/web', 'team'],
        ['sluice.dev/Rollout/team/web', 'team'],
      ],
    );
    const cases: Array<[string, string]> = [
      ['apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n', 'NamespaceNotAllowed'],
      ['apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n', 'ClusterScopedNotAllowed'],
      ['apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n', 'UnknownKind'],
    ];
    for (const [content, reason] of cases) {
      const { objects, problems } = placeManifests([manifest(content)], kindOf, SCOPE);
      assert.equal(objects.length, 0);
      assert.equal(problems[0]?.reason, reason);
      assert.equal(problems[0]?.file, 'apps/web.yaml');
    }
    const cluster = placeManifests([manifest('apiVersion: v1\nkind: Namespace\nmetadata: {name: x, namespace: ignored}\n')], kindOf, {
      ...SCOPE,
      clusterScoped: true,
    });
    assert.deepEqual(cluster.objects[0]?.ref, { apiVersion: 'v1', kind: 'Namespace', name: 'x' });
    assert.equal(cluster.objects[0]?.object.metadata.namespace, undefined);
  });

  test('the same object twice is refused, naming both places', () => {
    const { problems } = placeManifests(
      [manifest(SERVICE, 'a.yaml'), manifest(SERVICE.replace('name: web', 'name: web\n  namespace: team'), 'b.yaml')],
      kindOf,
      SCOPE,
    );
    assert.equal(problems[0]?.reason, 'DuplicateObject');
    assert.match(problems[0]?.message ?? '', /^b\.yaml: .*also defined in a\.yaml document 1/);
  });
});

describe('the field contract', () => {
  const place = (content: string) => placeManifests([manifest(content)], kindOf, SCOPE).objects[0]!;
  const ctx = { commit: 'c0ffee', gitSync: 'team/apps', autoscaled: new Set<string>() };

  test('status and server-set metadata are never applied; every object is stamped', () => {
    const obj = prepareForApply(
      place(`${SERVICE.replace('name: web', 'name: web\n  resourceVersion: "5"\n  uid: u\n  managedFields: []')}status: {loadBalancer: {}}\n`),
      ctx,
    );
    assert.equal(obj.status, undefined);
    assert.deepEqual(obj.metadata, { name: 'web', namespace: 'team', annotations: { [GIT_SYNC_ANNOTATION]: 'team/apps' } });
  });

  test('Rollouts carry the Git revision; an unchanged spec keeps the revision it came from', () => {
    const desired = place(ROLLOUT);
    assert.equal(prepareForApply(desired, ctx).metadata.annotations?.[GIT_REVISION_ANNOTATION], 'c0ffee');
    const live = {
      spec: { ...structuredClone(desired.object.spec as object), paused: true },
      metadata: { annotations: { [GIT_REVISION_ANNOTATION]: 'older' } },
    };
    assert.equal(
      prepareForApply(desired, { ...ctx, live }).metadata.annotations?.[GIT_REVISION_ANNOTATION],
      'older',
      'fields only the live object has do not count',
    );
    const changedTemplate = place(ROLLOUT.replace('web:1', 'web:2'));
    assert.equal(prepareForApply(changedTemplate, { ...ctx, live }).metadata.annotations?.[GIT_REVISION_ANNOTATION], 'c0ffee');
  });

  test('a Service keeps the pod-template hash the rollout controller pinned (its selector is atomic under apply)', () => {
    const desired = place(SERVICE);
    const live = { spec: { selector: { app: 'web', 'rollouts-pod-template-hash': 'abc123' } } };
    assert.deepEqual((prepareForApply(desired, { ...ctx, live }).spec as { selector: unknown }).selector, {
      app: 'web',
      'rollouts-pod-template-hash': 'abc123',
    });
    assert.deepEqual((prepareForApply(desired, ctx).spec as { selector: unknown }).selector, { app: 'web' }, 'nothing to keep for a new Service');
    const pinnedInGit = place(SERVICE.replace('{app: web}', '{app: web, rollouts-pod-template-hash: fromgit}'));
    assert.deepEqual(
      (prepareForApply(pinnedInGit, { ...ctx, live }).spec as { selector: unknown }).selector,
      { app: 'web', 'rollouts-pod-template-hash': 'fromgit' },
      'Git wins when it sets the key',
    );
  });

  test('an autoscaled Rollout is applied without spec.replicas; others keep it', () => {
    const desired = place(ROLLOUT);
    assert.equal((prepareForApply(desired, ctx).spec as { replicas?: number }).replicas, 4);
    const scaled = prepareForApply(desired, { ...ctx, autoscaled: new Set(['team/web']) });
    assert.equal((scaled.spec as { replicas?: number }).replicas, undefined);
    assert.ok((scaled.spec as { template?: unknown }).template, 'the rest of the spec stays');
    assert.equal((desired.object.spec as { replicas?: number }).replicas, 4, 'the desired object is not mutated');
  });

  test('autoscaledRollouts finds HPAs that target Rollouts', () => {
    const hpa = (ns: string, target: Record<string, string>) => ({ metadata: { namespace: ns, name: 'h' }, spec: { scaleTargetRef: target } });
    const found = autoscaledRollouts([
      hpa('team', { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', name: 'web' }),
      hpa('team', { apiVersion: 'apps/v1', kind: 'Deployment', name: 'api' }),
      hpa('team', { apiVersion: 'argoproj.io/v1alpha1', kind: 'Rollout', name: 'argo' }),
      hpa('other', { kind: 'Rollout', name: 'db' }),
      'junk',
    ]);
    assert.deepEqual([...found].sort(), ['other/db', 'team/web']);
  });

  test('specChanged compares only the fields Git sets', () => {
    assert.equal(specChanged({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2], d: 3 }, e: 4 }), false);
    assert.equal(specChanged({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [2, 1] } }), true);
    assert.equal(specChanged({ a: 1 }, undefined), true);
  });

  test('managedByOther', () => {
    const live = { metadata: { annotations: { [GIT_SYNC_ANNOTATION]: 'team/other' } } };
    assert.equal(managedByOther(live, 'team/apps'), 'team/other');
    assert.equal(managedByOther(live, 'team/other'), undefined);
    assert.equal(managedByOther({ metadata: {} }, 'team/apps'), undefined);
  });
});

describe('order and prune', () => {
  const ref = (kind: string, name: string, apiVersion = 'v1', namespace: string | undefined = 'team'): InventoryEntry => ({
    apiVersion,
    kind,
    name,
    ...(namespace ? { namespace } : {}),
  });

  test('Rollouts are applied after their Services and templates, and pruned before them', () => {
    const order = applyOrder([
      { ref: ref('Rollout', 'web', 'sluice.dev/v1alpha1') },
      { ref: ref('ConfigMap', 'c') },
      { ref: ref('Service', 'web') },
      { ref: ref('AnalysisTemplate', 't', 'sluice.dev/v1alpha1') },
    ]);
    assert.deepEqual(
      order.map((o) => o.ref.kind),
      ['ConfigMap', 'Service', 'AnalysisTemplate', 'Rollout'],
    );
    const prune = calculatePrune([ref('Service', 'web'), ref('Rollout', 'web', 'sluice.dev/v1alpha1')], []);
    assert.deepEqual(
      prune.map((r) => r.kind),
      ['Rollout', 'Service'],
    );
  });

  test('an apiVersion change is the same object (not pruned)', () => {
    assert.deepEqual(calculatePrune([ref('HorizontalPodAutoscaler', 'h', 'autoscaling/v1')], [ref('HorizontalPodAutoscaler', 'h', 'autoscaling/v2')]), []);
  });

  const entry = fc
    .record({
      apiVersion: fc.constantFrom('v1', 'apps/v1', 'sluice.dev/v1alpha1'),
      kind: fc.constantFrom('ConfigMap', 'Service', 'Rollout'),
      namespace: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
      name: fc.constantFrom('x', 'y', 'z'),
    })
    .map((e) => {
      const { namespace, ...rest } = e;
      return (namespace ? { ...rest, namespace } : rest) as InventoryEntry;
    });

  test('property: the prune set is exactly the inventory minus the desired set (never anything else)', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), fc.array(entry, { maxLength: 20 }), (inventory, desired) => {
        const prune = calculatePrune(inventory, desired);
        const inInventory = new Set(inventory.map(refKey));
        const wanted = new Set(desired.map(refKey));
        for (const p of prune) {
          assert.ok(inInventory.has(refKey(p)), 'only inventory entries are pruned');
          assert.ok(!wanted.has(refKey(p)), 'nothing desired is pruned');
        }
        const expected = new Set([...inInventory].filter((k) => !wanted.has(k)));
        assert.deepEqual(new Set(prune.map(refKey)), expected, 'everything that left Git is pruned');
        assert.equal(prune.length, expected.size, 'no duplicates');
      }),
      { numRuns: 500 },
    );
  });
});
