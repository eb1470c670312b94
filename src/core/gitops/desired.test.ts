import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { APPLIED_HASH_ANNOTATION, GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION, type InventoryEntry } from '../../api/git-sync.ts';
import { ROLLOUT, SCOPE, SERVICE, kindOf, manifest } from '../../../test/helpers/manifests.ts';
import { applyOrder, autoscaledRollouts, calculatePrune, isNoopApply, managedByOther, prepareForApply, specChanged, stampAppliedHash } from './desired.ts';
import type { ManifestObject } from './manifests.ts';
import { placeManifests, refKey } from './placement.ts';
import { POD_TEMPLATE_HASH_LABEL } from '../../api/meta.ts';

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

const service = (ports: unknown[], extra: Record<string, string> = {}): ManifestObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'web', namespace: 'team', labels: { app: 'web', ...extra } },
  spec: { selector: { app: 'web' }, ports },
});
/** What the API server makes of an applied body: defaults filled in, its own metadata. */
const liveOf = (body: ManifestObject) => ({
  ...body,
  metadata: { ...body.metadata, labels: { ...body.metadata.labels }, uid: 'u', resourceVersion: '7', managedFields: [] },
  spec: { ...(body.spec as object), clusterIP: '10.0.0.1', ports: ((body.spec as { ports: object[] }).ports ?? []).map((p) => ({ protocol: 'TCP', ...p })) },
});

describe('applying only what would change', () => {
  const body = stampAppliedHash(service([{ port: 80 }]));
  test('the digest stamps the body and ignores an older digest', () => {
    assert.match(body.metadata.annotations?.[APPLIED_HASH_ANNOTATION] ?? '', /^[0-9a-f]{32}$/);
    assert.deepEqual(stampAppliedHash(body), body);
  });
  test('the same body over what it made (server defaults included) is a no-op', () => assert.equal(isNoopApply(body, liveOf(body)), true));
  test('a first sync (no digest on the live object) applies', () => assert.equal(isNoopApply(body, liveOf(service([{ port: 80 }]))), false));
  test('drift in a field Git sets applies', () => {
    const drifted = liveOf(body);
    drifted.metadata.labels.app = 'hijacked';
    assert.equal(isNoopApply(body, drifted), false);
    const more = liveOf(body);
    (more.spec.ports as unknown[]).push({ port: 81 });
    assert.equal(isNoopApply(body, more), false);
  });
  test('a field dropped from Git applies (the digest differs), so server-side apply removes it', () => {
    const before = stampAppliedHash(service([{ port: 80 }], { tier: 'front' }));
    const after = stampAppliedHash(service([{ port: 80 }]));
    assert.equal(isNoopApply(after, liveOf(before)), false);
  });
  test('a Service re-pinned by the rollout engine (its pod-template hash) is still a no-op; other drift in the selector is not', () => {
    const pinned = (hash: string) => ({
      ...service([{ port: 80 }]),
      spec: { selector: { app: 'web', [POD_TEMPLATE_HASH_LABEL]: hash }, ports: [{ port: 80 }] },
    });
    const applied = stampAppliedHash(pinned('h1'));
    const repinned = liveOf(applied);
    (repinned.spec as unknown as { selector: Record<string, string> }).selector[POD_TEMPLATE_HASH_LABEL] = 'h2';
    // The next sync copies the live hash into its body (keepRolloutSelector): its digest is the same.
    assert.equal(isNoopApply(stampAppliedHash(pinned('h2')), repinned), true);
    const hijacked = liveOf(applied);
    (hijacked.spec as unknown as { selector: Record<string, string> }).selector.app = 'other';
    assert.equal(isNoopApply(stampAppliedHash(pinned('h1')), hijacked), false);
  });
  test('no live object, or one that is not an object, is never a no-op', () => {
    assert.equal(isNoopApply(body, undefined), false);
    assert.equal(isNoopApply(body, 'x'), false);
  });
});
