// reconcileGitSync over the in-memory KubeClient fake and REAL git (bare repositories in a
// temp dir over file://, and over HTTP with basic auth), on a fake clock.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestRepo, git, startGitHttpServer, tempDir, type FileChange, type GitHttpServer } from '../../../test/helpers/git-repos.ts';
import { condition, configMap, configMapKind, hpaKind, image, rollout, services, world, type World } from '../../../test/helpers/git-sync-world.ts';
import { GIT_REVISION_ANNOTATION, GIT_SYNC_ANNOTATION, SYNC_REQUESTED_ANNOTATION, type GitSyncSpec } from '../../api/git-sync.ts';
import { kinds, type KubeObject, type ResourceKind } from '../../ports/kube.ts';
import { reconcileGitSync, requestSync } from './git-sync-reconciler.ts';

describe('GitSync: the life of a repository', () => {
  let w: World;
  let c1: string;
  before(async () => {
    w = await world();
  });
  after(() => w.cleanup());

  test('commit -> applied: every object, stamped, with status, inventory and an Event', async () => {
    c1 = await w.repo.commit({
      'deploy/rollout.yaml': rollout('web:1'),
      'deploy/services.yaml': services,
      'deploy/config.yaml': configMap('a'),
      'README.md': '# not a manifest',
    });
    const result = await w.reconcile();
    const r = w.get(kinds.rollout, 'web');
    assert.equal(image(r), 'web:1');
    assert.equal(r?.metadata?.annotations?.[GIT_REVISION_ANNOTATION], c1);
    assert.equal(r?.metadata?.annotations?.[GIT_SYNC_ANNOTATION], 'team/apps');
    assert.ok(w.get(kinds.service, 'web') && w.get(kinds.service, 'web-stable'));
    assert.equal((w.get(configMapKind, 'settings')?.data as { mode: string }).mode, 'a');
    const s = w.status();
    assert.equal(s.lastSyncedCommit, c1);
    assert.equal(s.lastAttemptedCommit, c1);
    assert.equal(s.lastError, undefined);
    assert.equal(condition(s, 'Ready')?.status, 'True');
    assert.equal(condition(s, 'Stalled')?.status, 'False');
    assert.deepEqual(
      s.inventory?.map((e) => `${e.kind}/${e.name}`),
      ['ConfigMap/settings', 'Service/web', 'Service/web-stable', 'Rollout/web'],
    );
    assert.equal(s.nextSyncAt, '2025-06-02T10:01:00.000Z');
    assert.equal(result.requeueAfterMs, 60_000);
    assert.deepEqual(
      w.events().map((e) => [e.type, e.reason]),
      [['Normal', 'Synced']],
    );
    assert.match(w.events()[0]?.message ?? '', /Applied 4 objects from commit/);
  });

  test('before the interval: nothing fetched, nothing written, requeue at the due time', async () => {
    const writes = w.kube.writes.length;
    w.clock.advance(20_000);
    const result = await w.reconcile();
    assert.equal(result.requeueAfterMs, 40_000);
    assert.equal(w.kube.writes.length, writes, 'no status patch when nothing changed');
  });

  test('a bad commit: nothing from it is applied, the status names file, document and reason', async () => {
    await w.repo.commit(
      {
        'deploy/config.yaml': configMap('b'),
        'deploy/zz-bad.yaml': `${configMap('x').replace('settings', 'other')}---\n${rollout('web:2').replace('setWeight: 25', 'setWeight: 150')}`,
      },
      'bad',
    );
    const bad = await git(['rev-parse', 'HEAD'], w.repo.work);
    w.clock.advance(40_000);
    const writesBefore = w.kube.writes.length;
    const result = await w.reconcile();
    assert.equal((w.get(configMapKind, 'settings')?.data as { mode: string }).mode, 'a', 'the good file of the bad commit is not applied either');
    assert.equal(w.get(configMapKind, 'other'), undefined);
    const newWrites = w.kube.writes.slice(writesBefore);
    assert.deepEqual(
      newWrites.filter((x) => !x.startsWith('create events')),
      ['patch gitsyncs team/apps/status'],
    );
    const s = w.status();
    assert.equal(s.lastSyncedCommit, c1);
    assert.equal(s.lastAttemptedCommit, bad);
    assert.equal(s.lastError?.reason, 'InvalidManifest');
    assert.equal(s.lastError?.file, 'deploy/zz-bad.yaml');
    assert.equal(s.lastError?.document, 2);
    assert.equal(s.lastError?.line, 27, 'the line of setWeight: 150, not of the document');
    assert.equal(s.lastError?.column, 22);
    assert.match(
      s.lastError?.message ?? '',
      new RegExp(
        '^Nothing applied from commit [0-9a-f]{12}: deploy/zz-bad\\.yaml:27:22: ' +
          'Rollout "web": spec\\.strategy\\.canary\\.steps\\[0\\]\\.setWeight: Too big: expected number to be <=100$',
      ),
    );
    assert.equal(condition(s, 'Ready')?.status, 'False');
    assert.equal(condition(s, 'Stalled')?.status, 'True');
    assert.equal(result.requeueAfterMs, 60_000, 'retried (a new commit may fix it)');
    assert.deepEqual(w.events().at(-1)?.reason, 'InvalidManifest');
    // The same failure again records no second Event.
    w.clock.advance(60_000);
    const eventsBefore = w.events().length;
    await w.reconcile();
    assert.equal(w.events().length, eventsBefore);
  });

  test('a fix commit -> applied, error cleared', async () => {
    await w.repo.commit({ 'deploy/zz-bad.yaml': null, 'deploy/rollout.yaml': rollout('web:2') }, 'fix');
    const fix = await git(['rev-parse', 'HEAD'], w.repo.work);
    w.clock.advance(60_000);
    await w.reconcile();
    const s = w.status();
    assert.equal(s.lastSyncedCommit, fix);
    assert.equal(s.lastError, undefined);
    assert.equal(condition(s, 'Ready')?.status, 'True');
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:2');
    assert.equal(w.get(kinds.rollout, 'web')?.metadata?.annotations?.[GIT_REVISION_ANNOTATION], fix);
    assert.equal((w.get(configMapKind, 'settings')?.data as { mode: string }).mode, 'b');
  });

  test('a commit that does not touch the Rollout keeps its revision', async () => {
    const before = w.get(kinds.rollout, 'web')?.metadata?.annotations?.[GIT_REVISION_ANNOTATION];
    await w.repo.commit({ 'deploy/config.yaml': configMap('c') }, 'config only');
    w.clock.advance(60_000);
    await w.reconcile();
    assert.equal((w.get(configMapKind, 'settings')?.data as { mode: string }).mode, 'c');
    assert.equal(w.get(kinds.rollout, 'web')?.metadata?.annotations?.[GIT_REVISION_ANNOTATION], before);
  });

  test('a sync of an unchanged commit applies nothing: no dry run, no apply (each object read once)', async () => {
    w.clock.advance(60_000);
    const before = w.kube.impersonated.length;
    await w.reconcile();
    const sent = w.kube.impersonated.slice(before);
    assert.ok(
      sent.some((r) => / (get|list) /.test(r)),
      'the live objects are read',
    );
    assert.deepEqual(
      sent.filter((r) => / patch /.test(r)),
      [],
      'nothing is applied or dry-run',
    );
    assert.equal(condition(w.status(), 'Ready')?.status, 'True');
  });

  test('drift in fields Git owns is corrected; what people and the controller own is left alone', async () => {
    await w.kube.patch(kinds.service, 'team', 'web', { spec: { selector: { app: 'hijacked' } } }, { type: 'merge' });
    await w.kube.patch(kinds.rollout, 'team', 'web', { spec: { template: { spec: { containers: [{ name: 'web', image: 'web:evil' }] } } } }, { type: 'merge' });
    await w.kube.patch(
      kinds.rollout,
      'team',
      'web',
      { status: { abort: true, abortedAt: '2025-06-02T10:00:00Z', pauseConditions: [{ reason: 'UserPause', startTime: 'x' }] } },
      { type: 'merge', subresource: 'status' },
    );
    w.clock.advance(60_000);
    await w.reconcile();
    assert.deepEqual((w.get(kinds.service, 'web')?.spec as { selector: unknown }).selector, { app: 'web' });
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:2');
    const status = w.get(kinds.rollout, 'web')?.status as { abort?: boolean; pauseConditions?: unknown[] };
    assert.equal(status.abort, true, 'a sync never undoes an abort');
    assert.equal(status.pauseConditions?.length, 1, 'nor a pause');
    assert.match(w.events().at(-1)?.message ?? '', /\(2 changed\)/);
  });

  test('an autoscaled Rollout keeps the replicas its HPA set', async () => {
    await w.kube.create(hpaKind, {
      apiVersion: 'autoscaling/v2',
      kind: 'HorizontalPodAutoscaler',
      metadata: { name: 'web', namespace: 'team' },
      spec: { scaleTargetRef: { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', name: 'web' }, maxReplicas: 10 },
    });
    await w.kube.patch(kinds.rollout, 'team', 'web', { spec: { replicas: 7 } }, { type: 'merge', subresource: 'scale' });
    w.clock.advance(60_000);
    await w.reconcile();
    assert.equal((w.get(kinds.rollout, 'web')?.spec as { replicas: number }).replicas, 7);
    await w.kube.delete(hpaKind, 'team', 'web');
    w.clock.advance(60_000);
    await w.reconcile();
    assert.equal((w.get(kinds.rollout, 'web')?.spec as { replicas: number }).replicas, 4, 'without an HPA, Git owns replicas');
  });

  test('prune: objects removed from Git are deleted, only those this GitSync applied', async () => {
    // Someone hands web-stable over to another GitSync: it must not be deleted by this one.
    await w.kube.patch(kinds.service, 'team', 'web-stable', { metadata: { annotations: { [GIT_SYNC_ANNOTATION]: 'team/elsewhere' } } }, { type: 'merge' });
    await w.kube.create(configMapKind, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'unrelated', namespace: 'team' }, data: {} });
    await w.repo.commit(
      {
        'deploy/config.yaml': null,
        'deploy/services.yaml': services.split('---')[0] as string,
        'deploy/rollout.yaml': rollout('web:2').replace('      stableService: web-stable\n', ''),
      },
      'remove',
    );
    w.clock.advance(60_000);
    await w.reconcile();
    assert.equal(w.get(configMapKind, 'settings'), undefined, 'pruned');
    assert.ok(w.get(kinds.service, 'web-stable'), 'managed by another GitSync now: kept');
    assert.ok(w.get(configMapKind, 'unrelated'), 'never applied by this GitSync: kept');
    assert.deepEqual(
      w.status().inventory?.map((e) => `${e.kind}/${e.name}`),
      ['Service/web', 'Rollout/web'],
    );
    assert.match(w.events().at(-1)?.message ?? '', /pruned 1/);
  });

  test('a sync window denies a requested sync, says until when, then allows it', async () => {
    await w.setSpec({ syncWindows: [{ kind: 'deny', schedule: '0 * * * *', duration: '30m' }] });
    // Spec change -> immediate sync attempt, but we are inside the window (minute 07 of the hour).
    w.clock.current = new Date('2025-06-02T11:07:00Z');
    await w.repo.commit({ 'deploy/rollout.yaml': rollout('web:3') }, 'during the freeze');
    let result = await w.reconcile();
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:2', 'nothing applied in the window');
    let s = w.status();
    assert.equal(condition(s, 'SyncAllowed')?.status, 'False');
    assert.match(condition(s, 'SyncAllowed')?.message ?? '', /denied by deny window "0 \* \* \* \*" \(30m\) until 2025-06-02T11:30:00.000Z/);
    assert.equal(s.nextSyncAt, '2025-06-02T11:30:00.000Z');
    assert.equal(result.requeueAfterMs, 23 * 60_000);
    assert.equal(w.events().at(-1)?.reason, 'SyncWindowDenied');
    // "Sync now" during the window still waits.
    await requestSync(w.kube, 'team', 'apps', w.clock.now());
    w.clock.advance(60_000);
    result = await w.reconcile();
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:2');
    w.clock.current = new Date('2025-06-02T11:30:00Z');
    result = await w.reconcile();
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:3');
    s = w.status();
    assert.equal(condition(s, 'SyncAllowed')?.status, 'True');
    assert.equal(s.lastHandledSyncRequest, (w.kube.peek(kinds.gitSync, 'team', 'apps')?.metadata?.annotations ?? {})[SYNC_REQUESTED_ANNOTATION]);
    assert.equal(s.nextSyncAt, '2025-06-02T11:31:00.000Z');
    await w.setSpec({ syncWindows: [] });
  });

  test('sync now: the annotation triggers an immediate sync, once', async () => {
    w.clock.current = new Date('2025-06-02T12:00:10Z');
    await w.reconcile(); // spec changed (windows removed)
    const c = await w.repo.commit({ 'deploy/rollout.yaml': rollout('web:4') }, 'urgent');
    w.clock.advance(5_000);
    assert.equal((await w.reconcile()).requeueAfterMs, 55_000, 'not due yet');
    await requestSync(w.kube, 'team', 'apps', w.clock.now());
    await w.reconcile();
    assert.equal(w.status().lastSyncedCommit, c);
    w.clock.advance(1_000);
    const writes = w.kube.writes.length;
    await w.reconcile();
    assert.equal(w.kube.writes.length, writes, 'a handled request does not sync again');
  });

  test('a revert commit restores the earlier template (the rollback rolls out fast)', async () => {
    await git(['revert', '--no-edit', 'HEAD'], w.repo.work);
    await git(['push', '--quiet', 'origin', 'HEAD:refs/heads/main'], w.repo.work);
    const revert = await git(['rev-parse', 'HEAD'], w.repo.work);
    await requestSync(w.kube, 'team', 'apps', w.clock.now());
    w.clock.advance(1000);
    await w.reconcile();
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:3');
    assert.equal(w.get(kinds.rollout, 'web')?.metadata?.annotations?.[GIT_REVISION_ANNOTATION], revert);
  });

  test('suspend: nothing fetched or applied; resume syncs', async () => {
    await w.setSpec({ suspend: true });
    await w.repo.commit({ 'deploy/rollout.yaml': rollout('web:5') }, 'while suspended');
    w.clock.advance(10 * 60_000);
    assert.deepEqual(await w.reconcile(), {});
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:3');
    await w.setSpec({ suspend: false });
    await w.reconcile();
    assert.equal(image(w.get(kinds.rollout, 'web')), 'web:5');
  });
});

describe('GitSync: reading many objects of a kind', () => {
  const manyConfigMaps = Object.fromEntries(
    Array.from({ length: 8 }, (_, i) => [`deploy/config-${i}.yaml`, configMap(String(i)).replace('name: settings', `name: settings-${i}`)]),
  );
  const reads = (sent: string[]) => sent.filter((r) => / (get|list) configmaps /.test(r)).map((r) => r.split(' ').slice(1, 3).join(' '));

  test('eight ConfigMaps in one namespace are read with one LIST, not eight GETs; a no-op sync of them writes nothing', async () => {
    const w = await world();
    try {
      await w.repo.commit(manyConfigMaps);
      await w.reconcile();
      assert.equal(condition(w.status(), 'Ready')?.status, 'True', condition(w.status(), 'Ready')?.message);
      assert.equal((w.get(configMapKind, 'settings-7') as { data?: Record<string, string> } | undefined)?.data?.mode, '7');
      w.clock.advance(60_000);
      const before = w.kube.impersonated.length;
      await w.reconcile();
      const sent = w.kube.impersonated.slice(before);
      assert.deepEqual(reads(sent), ['list configmaps'], sent.join('\n'));
      assert.deepEqual(
        sent.filter((r) => / patch /.test(r)),
        [],
      );
    } finally {
      await w.cleanup();
    }
  });

  test('an identity that may get but not list them reads each with a GET, and the sync goes on', async () => {
    const w = await world();
    try {
      w.kube.authorize = (_user, verb, kind) => !(verb === 'list' && kind.plural === 'configmaps');
      await w.repo.commit(manyConfigMaps);
      const before = w.kube.impersonated.length;
      await w.reconcile();
      assert.equal(condition(w.status(), 'Ready')?.status, 'True', condition(w.status(), 'Ready')?.message);
      const sent = reads(w.kube.impersonated.slice(before));
      assert.equal(sent.filter((r) => r === 'get configmaps').length, 8, sent.join(', '));
      assert.equal((w.get(configMapKind, 'settings-3') as { data?: Record<string, string> } | undefined)?.data?.mode, '3');
    } finally {
      await w.cleanup();
    }
  });
});

describe('GitSync: atomicity and refusals', () => {
  const failing = async (
    files: Record<string, FileChange>,
    expect: { reason: string; file?: string; message: RegExp },
    spec: Partial<GitSyncSpec> = {},
    prepare?: (w: World) => Promise<void>,
  ): Promise<void> => {
    const w = await world(spec);
    try {
      await w.repo.commit({ 'deploy/a-config.yaml': configMap('a'), ...files });
      await prepare?.(w);
      await w.reconcile();
      const s = w.status();
      assert.equal(s.lastError?.reason, expect.reason, s.lastError?.message);
      if (expect.file) assert.equal(s.lastError?.file, expect.file);
      assert.match(s.lastError?.message ?? '', expect.message);
      assert.equal(w.get(configMapKind, 'settings'), undefined, 'nothing applied');
      assert.equal(condition(s, 'Ready')?.status, 'False');
      assert.equal(w.events().at(-1)?.type, 'Warning');
    } finally {
      await w.cleanup();
    }
  };

  test('invalid YAML', () =>
    failing({ 'deploy/b.yaml': 'a: [\n' }, { reason: 'InvalidYAML', file: 'deploy/b.yaml', message: /deploy\/b\.yaml:\d+:\d+: invalid YAML: / }));
  test('an unknown kind', () =>
    failing(
      { 'deploy/b.yaml': 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n' },
      { reason: 'UnknownKind', file: 'deploy/b.yaml', message: /does not serve kind Widget/ },
    ));
  test('an object in a namespace the GitSync may not touch', () =>
    failing(
      { 'deploy/b.yaml': configMap('x').replace('name: settings', 'name: x\n  namespace: kube-system') },
      { reason: 'NamespaceNotAllowed', file: 'deploy/b.yaml', message: /namespace kube-system is not one this GitSync may touch \(team\)/ },
    ));
  test('a cluster-scoped object', () =>
    failing(
      { 'deploy/b.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata: {name: evil}\n' },
      { reason: 'ClusterScopedNotAllowed', message: /cluster-scoped/ },
    ));
  test('an object managed by another GitSync is refused and left untouched', async () => {
    const w = await world();
    try {
      await w.kube.create(configMapKind, {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: { name: 'settings', namespace: 'team', annotations: { [GIT_SYNC_ANNOTATION]: 'team/other' } },
        data: { mode: 'theirs' },
      });
      await w.repo.commit({ 'deploy/a-config.yaml': configMap('ours'), 'deploy/b.yaml': services });
      await w.reconcile();
      const s = w.status();
      assert.equal(s.lastError?.reason, 'ManagedByOtherGitSync');
      assert.equal(s.lastError?.file, 'deploy/a-config.yaml');
      assert.match(s.lastError?.message ?? '', /ConfigMap team\/settings is managed by GitSync team\/other/);
      assert.equal((w.get(configMapKind, 'settings')?.data as { mode: string }).mode, 'theirs');
      assert.equal(w.get(kinds.service, 'web'), undefined, 'nothing else from the commit either');
    } finally {
      await w.cleanup();
    }
  });
  test('the API server rejecting one object in the dry run: nothing applied', () =>
    failing(
      { 'deploy/b.yaml': services },
      { reason: 'DryRunFailed', file: 'deploy/b.yaml', message: /the API server rejects Service team\/web: injected 422/ },
      {},
      async (w) => {
        w.kube.failNext.push({ verb: 'patch', plural: 'services', status: 422 });
      },
    ));
  test('no manifests under the paths: nothing applied', () =>
    failing(
      { 'other/readme.txt': 'not yaml' },
      { reason: 'NoManifests', message: /No manifests \(\*\.yaml, \*\.yml, \*\.json\) under other at commit/ },
      { paths: ['other'] },
    ));
  test('a missing path', () => failing({}, { reason: 'InvalidPath', message: /path "nope" does not exist/ }, { paths: ['nope'] }));
  test('a missing branch', () => failing({}, { reason: 'RefNotFound', message: /branch release/ }, { ref: { branch: 'release' } }));
  test('a symlink out of the repository', () =>
    failing({}, { reason: 'InvalidPath', message: /points outside the repository/ }, {}, async (w) => {
      await w.repo.commit({ 'deploy/link.yaml': { symlink: '../../../../etc/passwd' } });
    }));

  test('an invalid spec (bad cron, cross-namespace) is Stalled without any fetch', async () => {
    const w = await world({ schedule: '0 25 * * *', interval: undefined as never, targetNamespace: 'prod' });
    try {
      const result = await w.reconcile();
      const s = w.status();
      assert.equal(s.lastError?.reason, 'InvalidSpec');
      assert.match(s.lastError?.message ?? '', /spec.schedule: invalid cron expression "0 25 \* \* \*"/);
      assert.match(s.lastError?.message ?? '', /only its own namespace \(team\); spec asks for prod/);
      assert.equal(condition(s, 'Stalled')?.status, 'True');
      assert.equal(s.lastAttemptTime, undefined);
      assert.ok((result.requeueAfterMs ?? 0) > 60_000);
    } finally {
      await w.cleanup();
    }
  });

  test('a failed apply mid-way keeps what was applied in the inventory (for a later prune)', async () => {
    const w = await world();
    try {
      await w.repo.commit({ 'deploy/a-config.yaml': configMap('a'), 'deploy/services.yaml': services });
      // The dry run of both passes; the real apply of the first Service fails.
      w.kube.failNext.push({ verb: 'patch', plural: 'configmaps', status: 0 });
      await w.reconcile();
      assert.equal(w.status().lastError?.reason, 'ApiUnavailable', 'an unreachable API server in the dry run is transient');
      assert.equal(condition(w.status(), 'Stalled')?.status, 'False');
      w.clock.advance(60_000);
      let calls = 0;
      const original = w.kube.patch.bind(w.kube);
      w.kube.patch = (async (kind: ResourceKind, ns: string | undefined, name: string, body: unknown, opts: Parameters<typeof original>[4]) => {
        if (kind.plural === 'services' && !opts.dryRun && ++calls === 2) throw new Error('connection reset');
        return original(kind, ns, name, body, opts);
      }) as typeof w.kube.patch;
      await w.reconcile();
      const s = w.status();
      assert.equal(s.lastError?.reason, 'ApplyFailed');
      assert.match(s.lastError?.message ?? '', /after 2 of 3 objects/);
      assert.deepEqual(
        s.inventory?.map((e) => `${e.kind}/${e.name}`),
        ['ConfigMap/settings', 'Service/web'],
      );
    } finally {
      await w.cleanup();
    }
  });
});

test('an object from a cache without apiVersion/kind (list items) reconciles too', async () => {
  const w = await world();
  try {
    await w.repo.commit({ 'deploy/config.yaml': configMap('a') });
    const { apiVersion: _a, kind: _k, ...bare } = w.kube.peek(kinds.gitSync, 'team', 'apps') as KubeObject;
    await reconcileGitSync(bare as KubeObject, w.deps);
    assert.equal(w.status().lastError, undefined, w.status().lastError?.message);
    assert.ok(w.get(configMapKind, 'settings'));
  } finally {
    await w.cleanup();
  }
});

describe('GitSync over HTTP with credentials from a Secret', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: GitHttpServer;
  const password = 'correct-horse-battery-staple';
  before(async () => {
    dir = await tempDir();
    const repo = await TestRepo.create(dir.path, 'apps.git');
    await repo.commit({ 'deploy/config.yaml': configMap('a') });
    server = await startGitHttpServer({ root: dir.path, basicAuth: { username: 'bot', password } });
  });
  after(async () => {
    await server.close();
    await dir.remove();
  });

  const secret = (pw: string) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'git-creds', namespace: 'team' },
    data: { username: Buffer.from('bot').toString('base64'), password: Buffer.from(pw).toString('base64') },
  });

  test('the right credentials sync', async () => {
    const w = await world({ url: `${server.url}/apps.git`, secretRef: { name: 'git-creds' } });
    try {
      await w.kube.create(kinds.secret, secret(password));
      await w.reconcile();
      assert.equal(w.status().lastError, undefined, w.status().lastError?.message);
      assert.equal((w.get(configMapKind, 'settings')?.data as { mode: string }).mode, 'a');
      assert.ok(!w.logs().includes(password), 'the password is not logged');
    } finally {
      await w.cleanup();
    }
  });

  test('wrong credentials: AuthenticationFailed, Stalled, and the password appears nowhere', async () => {
    const w = await world({ url: `${server.url}/apps.git`, secretRef: { name: 'git-creds' } });
    try {
      await w.kube.create(kinds.secret, secret('wrong-password-xyz'));
      await w.reconcile();
      const s = w.status();
      assert.equal(s.lastError?.reason, 'AuthenticationFailed');
      assert.equal(condition(s, 'Stalled')?.status, 'True');
      const everything = JSON.stringify(s) + JSON.stringify(w.events()) + w.logs();
      assert.ok(!everything.includes('wrong-password-xyz'));
      assert.ok(!everything.includes(Buffer.from('wrong-password-xyz').toString('base64')));
    } finally {
      await w.cleanup();
    }
  });

  test('a missing Secret, and a Secret without usable keys, are named', async () => {
    const w = await world({ url: `${server.url}/apps.git`, secretRef: { name: 'git-creds' } });
    try {
      await w.reconcile();
      assert.equal(w.status().lastError?.reason, 'SecretNotFound');
      assert.match(w.status().lastError?.message ?? '', /Secret team\/git-creds \(spec.secretRef\) not found/);
      await w.kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'git-creds', namespace: 'team' }, data: { token: 'eA==' } });
      w.clock.advance(60_000);
      await w.reconcile();
      assert.equal(w.status().lastError?.reason, 'InvalidSecret');
    } finally {
      await w.cleanup();
    }
  });

  test('an unreachable server is transient (not Stalled) and retried', async () => {
    const w = await world({ url: 'http://127.0.0.1:9/apps.git' });
    try {
      const result = await w.reconcile();
      assert.equal(w.status().lastError?.reason, 'Unreachable');
      assert.equal(condition(w.status(), 'Stalled')?.status, 'False');
      assert.equal(result.requeueAfterMs, 60_000);
    } finally {
      await w.cleanup();
    }
  });
});
