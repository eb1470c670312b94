// kubectl sluice over in-memory clusters: --watch redraws on change (in place on a terminal),
// sync --wait reports the controller's verdict, and kubectl's conventions hold (colour, exit
// codes, errors on stderr, --help with examples, version).
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SYNC_REQUESTED_ANNOTATION } from '../src/api/git-sync.ts';
import { CliError, EXIT } from '../src/cli/io.ts';
import { kinds, type KubeObject } from '../src/ports/kube.ts';
import { FakeKube } from './fakes/kube.ts';
import { captureIo, eventually, run } from './helpers/cli.ts';
import { main } from '../src/cli/program.ts';
import { canaryRollout, NS, service, startHarness, type Harness } from './helpers/harness.ts';

const steps = [{ setWeight: 20 }, { pause: {} }, { setWeight: 60 }, { pause: { duration: '30s' } }];

describe('get rollout --watch', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startHarness();
    await h.kube.create(kinds.service, service('app-stable'));
    await h.kube.create(kinds.service, service('app-canary'));
    await h.kube.create(kinds.rollout, canaryRollout({ steps, stableService: 'app-stable', canaryService: 'app-canary', maxSurge: 1, maxUnavailable: 0 }));
    await h.settle();
  });
  afterEach(() => h.stop());

  test('off a terminal: a new copy of the tree for each change, no escape codes', async () => {
    const ctrl = new AbortController();
    const c = captureIo({ kube: h.kube, now: () => h.clock.now(), signal: ctrl.signal });
    const done = main(['get', 'rollout', 'app', '-n', NS, '--watch'], c.io);
    await eventually('first tree', () => assert.match(c.stdout(), /Phase: +Healthy/));
    await h.setImage('app', 'example/app:v2');
    await eventually('a redraw for the new revision', () =>
      assert.match(c.stdout(), /Phase: +Paused[\s\S]*Waiting for: promotion: kubectl sluice promote app/),
    );
    ctrl.abort();
    assert.equal(await done, EXIT.ok, c.stderr());
    assert.ok(c.stdout().split('Name: ').length - 1 >= 2, 'at least two copies');
    assert.doesNotMatch(c.stdout(), /\x1b\[/);
  });

  test('on a terminal: redrawn in place (cursor movements), in colour', async () => {
    const ctrl = new AbortController();
    const c = captureIo({ kube: h.kube, now: () => h.clock.now(), signal: ctrl.signal, tty: true });
    const done = main(['get', 'rollout', 'app', '-n', NS, '--watch'], c.io);
    await eventually('first tree', () => assert.match(c.stdout(), /Healthy/));
    await h.setImage('app', 'example/app:v2');
    await eventually('redrawn', () => assert.match(c.stdout(), /Paused/));
    ctrl.abort();
    assert.equal(await done, EXIT.ok, c.stderr());
    assert.match(c.stdout(), /\x1b\[2K/, 'lines erased for the redraw');
    assert.match(c.stdout(), /\x1b\[32mHealthy/, 'phase in colour');
  });
});

describe('sync', () => {
  const gitSync = (): KubeObject => ({
    apiVersion: 'sluice.dev/v1alpha1',
    kind: 'GitSync',
    metadata: { name: 'apps', namespace: NS },
    spec: { url: 'https://git.example.com/deploy.git', interval: '5m' },
  });

  /** Plays the controller: handles the sync request with the given outcome once it sees it. */
  function answer(kube: FakeKube, status: (requested: string) => Record<string, unknown>): void {
    const informer = kube.informer(kinds.gitSync, { namespace: NS });
    informer.onChange((type, obj) => {
      const requested = obj.metadata?.annotations?.[SYNC_REQUESTED_ANNOTATION];
      const handled = (obj as { status?: { lastHandledSyncRequest?: string } }).status?.lastHandledSyncRequest;
      if (type === 'DELETED' || !requested || requested === handled) return;
      void kube.patch(kinds.gitSync, NS, 'apps', { status: status(requested) }, { type: 'merge', subresource: 'status' });
    });
    void informer.start();
  }

  test('--wait: exit 0 with the commit when the controller applied it', async () => {
    const kube = new FakeKube();
    await kube.create(kinds.gitSync, gitSync());
    answer(kube, (requested) => ({
      lastHandledSyncRequest: requested,
      lastSyncedCommit: 'a'.repeat(40),
      conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'Applied 4 objects from commit aaaaaaaaaaaa (1 changed)' }],
    }));
    const r = await run(['sync', 'apps', '-n', NS, '--wait', '--timeout', '5s'], { kube, now: new Date('2026-01-01T00:00:00Z') });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(kube.peek(kinds.gitSync, NS, 'apps')?.metadata?.annotations?.[SYNC_REQUESTED_ANNOTATION], '2026-01-01T00:00:00.000Z');
    assert.match(r.stdout, /Synced commit a{40}: Applied 4 objects/);
  });

  test('--wait: exit 1 with file, line and document when the commit was refused; column when the status has one', async () => {
    const kube = new FakeKube();
    await kube.create(kinds.gitSync, gitSync());
    answer(kube, (requested) => ({
      lastHandledSyncRequest: requested,
      lastError: { reason: 'InvalidManifest', file: 'apps/web.yaml', document: 2, line: 14, column: 9, commit: 'b'.repeat(40), message: 'Nothing applied: …' },
    }));
    const r = await run(['sync', 'apps', '-n', NS, '--wait'], { kube });
    assert.equal(r.code, EXIT.failed);
    assert.match(r.stderr, /Sync failed: InvalidManifest in apps\/web\.yaml:14:9 \(document 2\) at commit b{12}\n {2}Nothing applied/);
  });

  test('--wait gives up with exit 2 when nothing handles the request; a suspended GitSync is refused', async () => {
    const kube = new FakeKube();
    await kube.create(kinds.gitSync, gitSync());
    const r = await run(['sync', 'apps', '-n', NS, '--wait', '--timeout', '100ms'], { kube });
    assert.equal(r.code, EXIT.timeout);
    await kube.patch(kinds.gitSync, NS, 'apps', { spec: { suspend: true } }, { type: 'merge' });
    const s = await run(['sync', 'apps', '-n', NS], { kube });
    assert.equal(s.code, EXIT.failed);
    assert.match(s.stderr, /is suspended/);
  });
});

describe('conventions', () => {
  const rollout = canaryRollout({ steps: [] }, {}, 'web');

  test('colour only on a terminal, never with --no-color or NO_COLOR', async () => {
    const kube = new FakeKube();
    await kube.create(kinds.rollout, { ...rollout, status: { phase: 'Healthy' } });
    const plain = await run(['list', 'rollouts', '-n', NS], { kube });
    const tty = await run(['list', 'rollouts', '-n', NS], { kube, tty: true });
    const noColor = await run(['list', 'rollouts', '-n', NS, '--no-color'], { kube, tty: true });
    const env = await run(['list', 'rollouts', '-n', NS], { kube, tty: true, env: { NO_COLOR: '1' } });
    assert.doesNotMatch(plain.stdout, /\x1b\[/);
    assert.match(tty.stdout, /\x1b\[32mHealthy\x1b\[39m/);
    assert.doesNotMatch(noColor.stdout, /\x1b\[/);
    assert.doesNotMatch(env.stdout, /\x1b\[/);
  });

  test('usage errors exit 3 with a message on stderr', async () => {
    for (const argv of [
      ['bogus'],
      ['promote'],
      ['list', 'pods'],
      ['list', 'rollouts', '-o', 'table'],
      ['status', 'x', '--timeout', 'soon'],
      ['get', 'rollout', 'x', '-A'],
    ]) {
      const r = await run(argv, { kube: new FakeKube() });
      assert.equal(r.code, EXIT.usage, `${argv.join(' ')}: ${r.stderr}`);
      assert.notEqual(r.stderr, '', argv.join(' '));
    }
  });

  test('a cluster that cannot be reached or refuses us exits 3; --namespace and --context reach the connection', async () => {
    const unreachable = captureIo();
    unreachable.io.connect = async () => {
      throw new CliError('cannot read kubeconfig /nope: ENOENT', EXIT.usage);
    };
    assert.equal(await main(['list', 'rollouts'], unreachable.io), EXIT.usage);
    assert.match(unreachable.stderr(), /cannot read kubeconfig/);

    const kube = new FakeKube();
    kube.failNext.push({ verb: 'list', status: 0 }, { verb: 'get', status: 403 });
    const down = await run(['list', 'rollouts'], { kube });
    assert.equal(down.code, EXIT.usage);
    assert.match(down.stderr, /cannot reach the API server/);
    const forbidden = await run(['status', 'web'], { kube });
    assert.equal(forbidden.code, EXIT.usage);
    assert.match(forbidden.stderr, /not allowed/);

    const c = captureIo({ kube });
    await main(['list', 'rollouts', '--context', 'prod', '-n', 'team', '--kubeconfig', '/k'], c.io);
    assert.deepEqual(c.connections[0], { kubeconfig: '/k', context: 'prod', namespace: 'team' });
  });

  test('--help on every command shows examples and exits 0', async () => {
    for (const argv of [
      [],
      ['--help'],
      ['list', '--help'],
      ['get', 'rollout', '--help'],
      ['status', '--help'],
      ['set', 'image', '--help'],
      ['lint', '--help'],
    ]) {
      const r = await run(argv);
      assert.equal(r.code, 0, argv.join(' '));
      assert.match(r.stdout, /Usage: kubectl sluice/, argv.join(' '));
    }
    for (const cmd of [
      'list',
      'status',
      'promote',
      'abort',
      'retry',
      'pause',
      'resume',
      'undo',
      'restart',
      'analysis',
      'sync',
      'lint',
      'convert',
      'version',
      'completion',
    ]) {
      const r = await run([cmd, '--help']);
      assert.match(r.stdout, /\nExamples:\n {2}.*kubectl sluice /, `${cmd} --help has examples`);
    }
  });

  test('version: the plugin, and the controller from its Deployment, or "not found"', async () => {
    const kube = new FakeKube();
    const none = await run(['version'], { kube });
    assert.match(none.stdout, /^Plugin: +kubectl-sluice \d+\.\d+\.\d+/);
    assert.match(none.stdout, /Controller: +unknown \(not found: no Deployment labelled app\.kubernetes\.io\/name=sluice in any namespace/);
    const deployments = { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true };
    await kube.create(deployments, {
      metadata: { name: 'sluice', namespace: 'sluice-system', labels: { 'app.kubernetes.io/name': 'sluice' } },
      spec: { template: { spec: { containers: [{ name: 'sluice', image: 'ghcr.io/example/sluice:1.2.3' }] } } },
    });
    const found = await run(['version', '-o', 'json'], { kube });
    assert.deepEqual(JSON.parse(found.stdout).controllers, [
      { version: '1.2.3', source: 'Deployment sluice-system/sluice, image ghcr.io/example/sluice:1.2.3' },
    ]);
  });
});
