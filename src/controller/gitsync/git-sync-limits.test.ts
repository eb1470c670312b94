// The limits of a sync: its deadline, where a refusal points, the paths boundary, and how
// long a requeue may be. Over the fake and real git.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { condition, configMap, configMapKind, services, world } from '../../../test/helpers/git-sync-world.ts';
import { KubeError, kinds } from '../../ports/kube.ts';
import { reconcileGitSyncByKey } from './git-sync-reconciler.ts';

describe('GitSync: deadlines and where failures point', () => {
  test('a whole sync has a deadline: past it, nothing more is asked and the sync is retried (not Stalled)', async () => {
    const w = await world();
    try {
      await w.repo.commit({ 'deploy/config.yaml': configMap('a'), 'deploy/services.yaml': services });
      // Each read of a live object takes a minute of the (fake) clock; the deadline is two.
      const get = w.kube.get.bind(w.kube);
      w.kube.get = (async (...args: Parameters<typeof get>) => {
        w.clock.advance(61_000);
        return get(...args);
      }) as typeof w.kube.get;
      const result = await reconcileGitSyncByKey('team', 'apps', { ...w.deps, syncDeadlineMs: 120_000 });
      const s = w.status();
      assert.equal(s.lastError?.reason, 'SyncTimeout', s.lastError?.message);
      assert.match(s.lastError?.message ?? '', /took longer than its deadline of 120s \(stopped before get Service team\/web-stable\)/);
      assert.equal(condition(s, 'Stalled')?.status, 'False');
      assert.equal(result.requeueAfterMs, 60_000);
      assert.equal(w.get(configMapKind, 'settings'), undefined, 'stopped before applying anything');
    } finally {
      await w.cleanup();
    }
  });

  test("the API server refusing a field in the dry run: the error points at that field's line and column", async () => {
    const w = await world();
    try {
      await w.repo.commit({ 'deploy/services.yaml': services });
      const patch = w.kube.patch.bind(w.kube);
      w.kube.patch = (async (...args: Parameters<typeof patch>) => {
        if (args[0].plural === 'services' && args[2] === 'web-stable' && args[4].dryRun) {
          throw new KubeError(422, 'Invalid', 'Service "web-stable" is invalid: spec.ports[0].port: Invalid value: 80: not allowed here');
        }
        return patch(...args);
      }) as typeof w.kube.patch;
      await w.reconcile();
      const e = w.status().lastError;
      assert.equal(e?.reason, 'DryRunFailed');
      assert.deepEqual([e?.file, e?.document, e?.line, e?.column], ['deploy/services.yaml', 2, 15, 18]);
      assert.match(
        e?.message ?? '',
        /^Nothing applied from commit [0-9a-f]{12}: deploy\/services\.yaml:15:18: the API server rejects Service team\/web-stable: /,
      );
      assert.equal(w.get(kinds.service, 'web'), undefined);
    } finally {
      await w.cleanup();
    }
  });

  test('a symlink to a file outside spec.paths is refused, as one out of the repository is', async () => {
    const w = await world();
    try {
      await w.repo.commit({ 'shared/config.yaml': configMap('x'), 'deploy/a.yaml': configMap('a').replace('settings', 'a') });
      await w.repo.commit({ 'deploy/link.yaml': { symlink: '../shared/config.yaml' } });
      await w.reconcile();
      assert.equal(w.status().lastError?.reason, 'InvalidPath');
      assert.match(w.status().lastError?.message ?? '', /symlink deploy\/link\.yaml points to shared\/config\.yaml, outside spec\.paths \(deploy\)/);
      assert.equal(w.status().lastError?.file, 'deploy/link.yaml');
      assert.equal(w.get(configMapKind, 'a'), undefined);
    } finally {
      await w.cleanup();
    }
  });
});

test('a window that next opens in years: the requeue is a day at most (timers cannot wait longer than 24.8 days)', async () => {
  const w = await world({ syncWindows: [{ kind: 'allow', schedule: '0 0 29 2 1', duration: '1h' }] });
  try {
    const result = await w.reconcile();
    assert.equal(condition(w.status(), 'SyncAllowed')?.status, 'False');
    assert.equal(w.status().nextSyncAt, '2044-02-29T00:00:00.000Z', 'the status says the real time');
    assert.equal(result.requeueAfterMs, 24 * 3_600_000);
  } finally {
    await w.cleanup();
  }
});
