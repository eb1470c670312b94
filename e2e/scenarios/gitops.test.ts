// Git sync on the real cluster with the suite's git server (smart HTTP on loopback): a person
// commits and pushes, Sluice fetches, validates every manifest, applies them with
// server-side apply and the rollout engine takes it from there. Each test has its own
// namespace and repository; one controller (with the push-webhook receiver on) serves the file.
//
// Every GitSync runs as a ServiceAccount of its namespace (impersonation): each test creates
// the ServiceAccount and the Role a namespace owner would grant it (gitSyncAccess).
//
// Nothing waits for the poll interval: GitSyncs poll every 10 minutes, and each test asks
// for a sync the way `kubectl sluice sync` does (the sync-requested annotation) or with a
// signed push webhook, then waits for the status to show it was handled.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import type { WorkingCopy, Repo } from '../harness/git.ts';
import { freePort } from '../harness/proc.ts';
import { waitFor } from '../harness/wait.ts';
import { assertHealthyOn, canaryRollout, canaryServices, completedSteps, manifest, scenario, type Scenario, type View } from '../harness/rollouts.ts';
import {
  condition,
  DEFAULT_GITSYNC_SERVICE_ACCOUNT,
  getGitSync,
  gitSync,
  gitSyncAccess,
  GITSYNC_RULES,
  positionIn,
  gitSyncEvents,
  gitSyncHolds,
  gitSyncSummary,
  GIT_REVISION_ANNOTATION,
  GIT_SYNC_ANNOTATION,
  GIT_SYNC_FIELD_MANAGER,
  githubPushBody,
  hmacSignature,
  postHook,
  syncAndWait,
  syncNow,
  SYNC_REQUESTED_ANNOTATION,
  waitGitSync,
  waitGitSyncEvent,
  watchServices,
  type GitSyncView,
} from '../harness/gitops.ts';

const env = attach();
const k = env.kubectl;
let ctl: ControllerHandle | undefined;
let hookUrl = '';

type Obj = Record<string, any>;
const GS = 'apps';
const ROLLOUT_FILE = 'apps/demo/rollout.yaml';
const SERVICES_FILE = 'apps/demo/services.yaml';

interface AppOptions {
  image?: string;
  replicas?: number;
  steps?: Obj[];
  settings?: Record<string, string>;
  /** Extra files (path -> YAML). */
  extra?: Record<string, string>;
  /** Replaces the Services document list (e.g. to break one). */
  services?: Obj[];
}

function configMap(name: string, data: Record<string, string>): Obj {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

/**
 * The repository as a team keeps it: Services in one file; the app's ConfigMap (document 1)
 * and its Rollout (document 2) in another; a README that is not a manifest.
 */
function appFiles(o: AppOptions = {}): Record<string, string> {
  return {
    'README.md': '# apps\nManifests under apps/ are applied by Sluice.\n',
    [SERVICES_FILE]: manifest(o.services ?? canaryServices()),
    [ROLLOUT_FILE]: manifest(
      configMap('demo-settings', o.settings ?? { mode: 'a' }),
      canaryRollout({
        replicas: o.replicas ?? 2,
        image: o.image ?? 'example/app:v1',
        steps: o.steps ?? [{ setWeight: 50 }, { pause: {} }],
        spec: { progressDeadlineSeconds: 600 },
      }),
    ),
    ...o.extra,
  };
}

/** 1-based line of the first line of document `n` (1-based) of a `---`-separated stream. */
function documentLine(text: string, n: number): number {
  const lines = text.split('\n');
  let doc = 1;
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] === '---') {
      doc++;
      if (doc === n) return i + 2;
    }
  }
  return 1;
}

interface GitCtx {
  ns: string;
  repo: Repo;
  wc: WorkingCopy;
  /** The Rollout `demo` the repository holds. */
  s: Scenario;
  /** The commit the test started from (already synced). */
  sha1: string;
  /** Commits and pushes the app files; returns the sha. */
  push(message: string, files: Record<string, string | null>): Promise<string>;
  /** Requests a sync and waits until it was handled. */
  sync(): Promise<GitSyncView>;
  gs(): Promise<GitSyncView>;
  waitGs(describe: string, fn: (g: GitSyncView) => void, timeoutMs?: number): Promise<GitSyncView>;
}

/**
 * A namespace, a repository with `files` (first commit), a GitSync `apps` on it (plus `spec`),
 * the first sync done and the Rollout Healthy; then `fn`.
 */
async function withGit(prefix: string, files: Record<string, string>, spec: Obj, fn: (g: GitCtx) => Promise<void>, extraYaml = ''): Promise<void> {
  const ns = await k.createNamespace(prefix);
  let wc: WorkingCopy | undefined;
  try {
    await env.withDiagnostics(ns, [ctl!.logFile], async () => {
      const repo = await env.git.createRepo(ns, { files, message: 'v1' });
      wc = await env.git.clone(repo);
      const sha1 = await wc.head();
      await k.apply(manifest(gitSyncAccess()), { namespace: ns });
      if (extraYaml) await k.apply(extraYaml, { namespace: ns });
      await k.apply(manifest(gitSync(GS, { url: repo.httpUrl, ref: { branch: 'main' }, paths: ['apps'], interval: '10m', ...spec })), { namespace: ns });
      const ctx: GitCtx = {
        ns,
        repo,
        wc,
        s: scenario(env, ns),
        sha1,
        push: (message, f) => wc!.commitAndPush(message, f),
        sync: () => syncAndWait(k, ns, GS),
        gs: () => getGitSync(k, ns, GS),
        waitGs: (describe, f, timeoutMs) => waitGitSync(k, ns, GS, describe, f, timeoutMs),
      };
      await ctx.waitGs('first sync', (g) => {
        assert.equal(g.status.lastSyncedCommit, sha1);
        assert.equal(condition(g, 'Ready')?.status, 'True');
      });
      await ctx.s.waitFor('v1 Healthy from Git', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, v.rollout.spec.replicas));
      try {
        await fn(ctx);
      } catch (err) {
        const log = await wc.git('log', '--format=%h %s', '-n', '10').catch(() => '');
        (err as Error).message +=
          `\n  GitSync: ${gitSyncSummary(await ctx.gs().catch(() => ({ metadata: {}, spec: {}, status: {} }) as GitSyncView))}\n  git log:\n${log}`;
        throw err;
      }
    });
  } finally {
    // the GitSync first (it must not re-apply what the cleanup deletes), then the Rollout (finalizer)
    await k.run(['delete', 'gitsyncs.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

/** Healthy on the revision running `image`. */
function healthyOnImage(v: View, image: string, replicas: number): string {
  const h = v.rollout.status.currentPodHash as string;
  assert.equal(v.rs[h]?.image, image, `current revision runs ${image}`);
  assertHealthyOn(v, h, replicas);
  return h;
}

async function configMapData(ns: string, name: string): Promise<Obj | undefined> {
  const r = await k.run(['get', 'configmap', name, '-n', ns, '-o', 'json']);
  if (r.code !== 0) {
    if (/NotFound/.test(r.stderr)) return undefined;
    throw new Error(r.stderr);
  }
  return JSON.parse(r.stdout);
}

const sortedInventory = (g: GitSyncView) => (g.status.inventory ?? []).map((i: Obj) => `${i.kind}/${i.name}`).sort();

describe('gitops', () => {
  before(async () => {
    const port = await freePort();
    hookUrl = `http://127.0.0.1:${port}`;
    ctl = await env.startController({
      env: {
        SLUICE_WEBHOOK_ADDR: `127.0.0.1:${port}`,
        SLUICE_GIT_CACHE_DIR: join(env.descriptor.stateDir, `gitsync-cache-${process.pid}`),
      },
    });
  });
  after(async () => {
    await ctl?.stop();
  });

  test('commit -> synced -> rolled out; status.gitRevision is the commit', () =>
    withGit('git-commit', appFiles(), {}, async (g) => {
      // the first commit: everything applied, stamped, inventoried
      const first = await g.gs();
      assert.deepEqual(sortedInventory(first), ['ConfigMap/demo-settings', 'Rollout/demo', 'Service/demo', 'Service/demo-canary', 'Service/demo-stable']);
      assert.equal(first.status.lastError, undefined);
      assert.equal(condition(first, 'Stalled')?.status, 'False');
      assert.match(condition(first, 'Ready')?.message ?? '', /Applied 5 objects from commit/);
      const v1 = await g.s.view();
      assert.equal(v1.rollout.status.gitRevision, g.sha1, 'the Rollout says which commit it runs');
      assert.equal(v1.rollout.metadata.annotations?.[GIT_REVISION_ANNOTATION], g.sha1);
      assert.equal(v1.rollout.metadata.annotations?.[GIT_SYNC_ANNOTATION], `${g.ns}/${GS}`);
      const withFields = await k.json<Obj>(['get', 'rollout', 'demo', '-n', g.ns, '--show-managed-fields']);
      const managers = (withFields.metadata.managedFields ?? []).map((m: Obj) => `${m.manager}/${m.operation}${m.subresource ? `/${m.subresource}` : ''}`);
      assert.ok(managers.includes(`${GIT_SYNC_FIELD_MANAGER}/Apply`), `server-side applied under sluice-gitsync: ${managers.join(', ')}`);
      await waitGitSyncEvent(k, g.ns, GS, 'Synced', g.sha1.slice(0, 7));
      // kubectl get -o wide: NEXT SYNC reads as a time, not <invalid> (a date column shows the future so)
      const wide = (await k.ok(['get', 'gitsyncs.sluice.dev', GS, '-n', g.ns, '-o', 'wide'])).trim().split('\n');
      const columns = (wide[0] ?? '').split(/\s{2,}/);
      const nextSync = (wide[1] ?? '').split(/\s{2,}/)[columns.indexOf('NEXT SYNC')];
      assert.match(nextSync ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, wide.join('\n'));
      assert.equal(Date.parse(nextSync ?? ''), Date.parse(first.status.nextSyncAt));
      const h1 = v1.rollout.status.stableRS as string;

      // a person changes the image and pushes
      const sha2 = await g.push('v2', appFiles({ image: 'example/app:v2' }));
      const synced = await g.sync();
      assert.equal(synced.status.lastSyncedCommit, sha2);
      assert.equal(synced.status.lastAttemptedCommit, sha2);
      const rolling = await g.s.waitFor('v2 rolling out, paused at step 2/2', (v) => {
        assert.notEqual(v.rollout.status.currentPodHash, h1);
        assert.equal(v.rollout.status.phase, 'Paused');
        assert.equal(v.rollout.status.gitRevision, sha2, 'the commit being rolled out');
      });
      assert.equal(rolling.rollout.status.stableRS, h1);
      await g.s.promote();
      const v2 = await g.s.waitFor('Healthy on v2', (v) => {
        healthyOnImage(v, 'example/app:v2', 2);
      });
      assert.equal(v2.rollout.status.gitRevision, sha2);
      const generation = v2.rollout.metadata.generation;

      // a commit that does not touch the Rollout keeps its revision
      const sha3 = await g.push('settings only', appFiles({ image: 'example/app:v2', settings: { mode: 'b' } }));
      const s3 = await g.sync();
      assert.equal(s3.status.lastSyncedCommit, sha3);
      assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'b');
      const after3 = await g.s.view();
      assert.equal(after3.rollout.metadata.generation, generation, 'the Rollout spec did not change');
      assert.equal(after3.rollout.metadata.annotations?.[GIT_REVISION_ANNOTATION], sha2, 'still the commit that changed the Rollout');
      assert.equal(after3.rollout.status.gitRevision, sha2);
      await g.s.settled();
    }));

  test('a bad commit applies nothing and says where; a fix commit is applied', () =>
    withGit('git-bad', appFiles(), {}, async (g) => {
      const v1 = await g.s.view();
      const generation = v1.rollout.metadata.generation;

      // 1. schema: setWeight 150 in the Rollout (document 2), with a ConfigMap change in the same commit
      const badFiles = appFiles({ image: 'example/app:v2', settings: { mode: 'b' }, steps: [{ setWeight: 150 }, { pause: {} }] });
      const bad1 = await g.push('bad: setWeight 150', badFiles);
      const s1 = await g.sync();
      assert.equal(s1.status.lastAttemptedCommit, bad1);
      assert.equal(s1.status.lastSyncedCommit, g.sha1, 'the last good commit stays the synced one');
      const e1 = s1.status.lastError;
      assert.ok(e1, 'lastError set');
      assert.equal(e1.reason, 'InvalidManifest');
      assert.equal(e1.file, ROLLOUT_FILE);
      assert.equal(e1.document, 2);
      // the exact field, not the start of the document
      const at1 = positionIn(badFiles[ROLLOUT_FILE]!, '150');
      assert.deepEqual([e1.line, e1.column], [at1.line, at1.column], `setWeight: 150 is at ${at1.line}:${at1.column}`);
      assert.ok(e1.line > documentLine(badFiles[ROLLOUT_FILE]!, 2));
      assert.ok(e1.message.includes(`${ROLLOUT_FILE}:${at1.line}:${at1.column}: Rollout "demo": spec.strategy.canary.steps[0].setWeight: Too big`), e1.message);
      assert.equal(e1.commit, bad1);
      assert.match(e1.message, /^Nothing applied from commit /);
      assert.match(e1.message, /setWeight/);
      assert.equal(condition(s1, 'Ready')?.status, 'False');
      assert.equal(condition(s1, 'Ready')?.reason, 'InvalidManifest');
      assert.equal(condition(s1, 'Stalled')?.status, 'True', 'retrying cannot help until Git changes');
      await waitGitSyncEvent(k, g.ns, GS, 'InvalidManifest', 'setWeight');
      // nothing from the commit reached the cluster, not even the valid ConfigMap
      assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'a');
      let v = await g.s.view();
      assert.equal(v.rollout.metadata.generation, generation);
      assert.equal(v.rollout.spec.template.spec.containers[0].image, 'example/app:v1');

      // 2. the API server's own validation (a Service port out of range): the dry run catches it
      const services = canaryServices();
      services[2]!.spec.ports[0].port = 70000;
      const bad2Files = appFiles({ image: 'example/app:v2', settings: { mode: 'b' }, services });
      const bad2 = await g.push('bad: port 70000', bad2Files);
      const s2 = await g.sync();
      const e2 = s2.status.lastError;
      assert.ok(e2);
      assert.equal(e2.reason, 'DryRunFailed');
      assert.equal(e2.file, SERVICES_FILE);
      assert.equal(e2.document, 3);
      // the field the API server names (spec.ports[0].port)
      const at2 = positionIn(bad2Files[SERVICES_FILE]!, '70000');
      assert.deepEqual([e2.line, e2.column], [at2.line, at2.column], `${e2.message}: port 70000 is at ${at2.line}:${at2.column}`);
      assert.equal(e2.commit, bad2);
      assert.match(e2.message, /demo-canary/);
      assert.match(e2.message, /70000|port/);
      assert.equal(s2.status.lastSyncedCommit, g.sha1);
      await waitGitSyncEvent(k, g.ns, GS, 'DryRunFailed');
      assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'a', 'the ConfigMap (applied first when applying) was not touched');
      v = await g.s.view();
      assert.equal(v.rollout.metadata.generation, generation, 'the valid Rollout of that commit was not applied either');

      // 3. the fix
      const fix = await g.push('fix', appFiles({ image: 'example/app:v2', settings: { mode: 'b' } }));
      const s3 = await g.sync();
      assert.equal(s3.status.lastSyncedCommit, fix);
      assert.equal(s3.status.lastError, undefined, 'lastError cleared');
      assert.equal(condition(s3, 'Ready')?.status, 'True');
      assert.equal(condition(s3, 'Stalled')?.status, 'False');
      assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'b');
      await waitGitSyncEvent(k, g.ns, GS, 'Synced', fix.slice(0, 7));
      await g.s.waitFor('v2 rolling out from the fix commit', (x) => {
        assert.equal(x.rollout.status.phase, 'Paused');
        assert.equal(x.rs[x.rollout.status.currentPodHash]?.image, 'example/app:v2');
        assert.equal(x.rollout.status.gitRevision, fix);
      });
    }));

  test('prune: an object whose file left Git is deleted (only if still stamped by this GitSync)', () =>
    withGit(
      'git-prune',
      appFiles({
        extra: {
          'apps/demo/extra.yaml': manifest(configMap('extra', { a: '1' })),
          'apps/demo/released.yaml': manifest(configMap('released', { a: '1' })),
        },
      }),
      { prune: true },
      async (g) => {
        const first = await g.gs();
        assert.ok(sortedInventory(first).includes('ConfigMap/extra'));
        assert.ok(sortedInventory(first).includes('ConfigMap/released'));
        // a ConfigMap made by hand, and one a person takes out of Sluice's hands
        await k.ok(['create', 'configmap', 'by-hand', '-n', g.ns, '--from-literal=a=1']);
        await k.ok(['annotate', 'configmap', 'released', '-n', g.ns, `${GIT_SYNC_ANNOTATION}-`]);

        const sha2 = await g.push('remove extra and released', { 'apps/demo/extra.yaml': null, 'apps/demo/released.yaml': null });
        const s2 = await g.sync();
        assert.equal(s2.status.lastSyncedCommit, sha2);
        await waitFor('ConfigMap extra deleted', async () => (await configMapData(g.ns, 'extra')) === undefined, { timeoutMs: 15_000 });
        assert.ok(await configMapData(g.ns, 'released'), 'an object without the stamp is not pruned');
        assert.ok(await configMapData(g.ns, 'by-hand'), 'an object Sluice never applied is not pruned');
        assert.deepEqual(sortedInventory(s2), ['ConfigMap/demo-settings', 'Rollout/demo', 'Service/demo', 'Service/demo-canary', 'Service/demo-stable']);
        assert.match(condition(s2, 'Ready')?.message ?? '', /pruned/i);
        await waitGitSyncEvent(k, g.ns, GS, 'Synced', /pruned/i);
        // the Rollout was not disturbed by the prune
        await g.s.waitFor('still Healthy on v1', (v) => {
          healthyOnImage(v, 'example/app:v1', 2);
        });
      },
    ));

  test("drift in Git-owned fields is corrected; a person's pause and abort survive syncs", () =>
    withGit('git-drift', appFiles(), {}, async (g) => {
      // drift: a Git-owned field of the Rollout and of the ConfigMap; plus a label Git does not set
      await k.ok(['patch', 'rollout', 'demo', '-n', g.ns, '--type=merge', '-p', JSON.stringify({ spec: { replicas: 3 } })]);
      await k.ok(['patch', 'configmap', 'demo-settings', '-n', g.ns, '--type=merge', '-p', JSON.stringify({ data: { mode: 'drifted' } })]);
      await k.ok(['label', 'configmap', 'demo-settings', '-n', g.ns, 'owner=person']);
      await g.s.waitFor('the drift took effect (3 pods)', (v) => assert.equal(v.rs[v.rollout.status.stableRS]?.available, 3));
      const before = (await gitSyncEvents(k, g.ns, GS)).length;
      const s1 = await g.sync();
      assert.equal(s1.status.lastSyncedCommit, g.sha1, 'same commit');
      const v1 = await g.s.waitFor('drift corrected: 2 replicas again', (v) => {
        assert.equal(v.rollout.spec.replicas, 2);
        healthyOnImage(v, 'example/app:v1', 2);
      });
      const cm = await configMapData(g.ns, 'demo-settings');
      assert.equal(cm?.data?.mode, 'a', 'ConfigMap drift corrected');
      assert.equal(cm?.metadata?.labels?.owner, 'person', 'a field Git does not set is left alone');
      const evs = (await waitGitSyncEvent(k, g.ns, GS, 'Synced', /[1-9]\d* changed/)).slice(before);
      assert.ok(
        evs.some((e) => e.reason === 'Synced'),
        'a Synced event for the correction',
      );
      const h1 = v1.rollout.status.stableRS as string;

      // v2 from Git, paused at its indefinite pause; a person adds their own pause
      const sha2 = await g.push('v2', appFiles({ image: 'example/app:v2' }));
      await g.sync();
      const p = await g.s.waitFor('v2 paused at step 2/2', (v) => {
        assert.notEqual(v.rollout.status.currentPodHash, h1);
        assert.equal(v.rollout.status.phase, 'Paused');
        assert.equal(v.rollout.status.gitRevision, sha2);
        assert.equal(v.rs[v.rollout.status.currentPodHash]?.available, 1);
      });
      const h2 = p.rollout.status.currentPodHash as string;
      const userPause = { reason: 'UserPause', startTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z') };
      await g.s.patchStatus({ pauseConditions: [...(p.rollout.status.pauseConditions ?? []), userPause] });
      await g.s.waitFor('user pause recorded', (v) => assert.ok((v.rollout.status.pauseConditions ?? []).some((c: Obj) => c.reason === 'UserPause')));

      // drift in the Rollout spec again, corrected by a sync that writes the Rollout while paused
      await k.ok(['patch', 'rollout', 'demo', '-n', g.ns, '--type=merge', '-p', JSON.stringify({ spec: { progressDeadlineSeconds: 900 } })]);
      const drifted = (await g.s.view()).rollout.metadata.generation;
      await g.sync();
      const corrected = await g.s.waitFor('progressDeadlineSeconds back to 600, the controller has seen it', (v) => {
        assert.equal(v.rollout.spec.progressDeadlineSeconds, 600);
        assert.ok(v.rollout.metadata.generation > drifted, 'the sync wrote the Rollout');
        assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation);
      });
      assert.deepEqual(
        (corrected.rollout.status.pauseConditions ?? []).map((c: Obj) => c.reason).sort(),
        ['CanaryPauseStep', 'UserPause'],
        "the person's pause survived the sync",
      );
      assert.equal(corrected.rollout.status.phase, 'Paused');
      assert.equal(corrected.rollout.status.currentPodHash, h2);

      // the person aborts; another drift and a sync with a new commit must not undo it
      await g.s.abort();
      const aborted = await g.s.waitFor('Degraded (aborted)', (v) => {
        assert.equal(v.rollout.status.phase, 'Degraded');
        assert.equal(v.rs[h2]?.spec, 0);
      });
      const abortedAt = aborted.rollout.status.abortedAt;
      await k.ok(['patch', 'rollout', 'demo', '-n', g.ns, '--type=merge', '-p', JSON.stringify({ spec: { progressDeadlineSeconds: 901 } })]);
      const sha3 = await g.push('settings c', appFiles({ image: 'example/app:v2', settings: { mode: 'c' } }));
      const s3 = await g.sync();
      assert.equal(s3.status.lastSyncedCommit, sha3);
      assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'c');
      const after3 = await g.s.waitFor('the controller has seen the synced spec', (v) => {
        assert.equal(v.rollout.spec.progressDeadlineSeconds, 600);
        assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation);
      });
      assert.equal(after3.rollout.status.abort, true, 'the abort survived the sync');
      assert.equal(after3.rollout.status.abortedAt, abortedAt);
      await g.s.holds(
        'stays aborted',
        (v) => {
          assert.equal(v.rollout.status.phase, 'Degraded');
          assert.equal(v.rollout.status.abort, true);
          assert.equal(v.rs[h2]?.spec, 0);
          assert.equal(v.rs[h1]?.spec, 2);
          assert.equal(v.selectors['demo-canary'], h1);
        },
        2000,
      );
    }));

  test('a deny sync window holds a due sync until it ends, then the sync happens', () =>
    withGit('git-window', appFiles(), {}, async (g) => {
      const sha2 = await g.push('v2', appFiles({ image: 'example/app:v2' }));
      // a daily deny window that opened at the start of this minute (UTC) and ends ~15s from now
      const now = Date.now();
      const start = Math.floor(now / 60_000) * 60_000;
      const seconds = Math.ceil((now + 15_000 - start) / 1000);
      const end = start + seconds * 1000;
      const at = new Date(start);
      const window = { kind: 'deny', schedule: `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`, duration: `${seconds}s` };
      // a spec change is due at once; the window must hold it
      await k.ok(['patch', 'gitsyncs.sluice.dev', GS, '-n', g.ns, '--type=merge', '-p', JSON.stringify({ spec: { syncWindows: [window] } })]);
      const denied = await g.waitGs('SyncAllowed False', (x) => {
        assert.equal(condition(x, 'SyncAllowed')?.status, 'False');
      });
      const message = condition(denied, 'SyncAllowed')?.message as string;
      assert.match(message, /denied by deny window/);
      assert.ok(message.includes(new Date(end).toISOString()), `says until when (${new Date(end).toISOString()}): ${message}`);
      assert.equal(Date.parse(denied.status.nextSyncAt), end, 'nextSyncAt is the end of the window');
      await waitGitSyncEvent(k, g.ns, GS, 'SyncWindowDenied');
      // a person's "sync now" is held too (a freeze is a freeze)
      await syncNow(k, g.ns, GS);
      await gitSyncHolds(
        k,
        g.ns,
        GS,
        'nothing synced while the window is open',
        (x) => {
          assert.equal(x.status.lastSyncedCommit, g.sha1);
          assert.equal(condition(x, 'SyncAllowed')?.status, 'False');
        },
        Math.max(0, end - Date.now() - 1000),
      );
      const v = await g.s.view();
      assert.equal(v.rollout.spec.template.spec.containers[0].image, 'example/app:v1', 'v2 not applied during the window');

      const synced = await g.waitGs('synced after the window', (x) => assert.equal(x.status.lastSyncedCommit, sha2), 20_000);
      assert.ok(Date.parse(synced.status.lastSyncTime) >= end - 1000, `synced at ${synced.status.lastSyncTime}, window ended ${new Date(end).toISOString()}`);
      assert.ok(Date.now() - end < 15_000, 'synced soon after the window ended (requeued for its end, not the 10m interval)');
      assert.equal(condition(synced, 'SyncAllowed')?.status, 'True');
      await g.s.waitFor('v2 rolling out', (x) => {
        assert.equal(x.rollout.status.gitRevision, sha2);
        assert.equal(x.rs[x.rollout.status.currentPodHash]?.image, 'example/app:v2');
      });
    }));

  test('push webhook: signed requests sync at once (generic, GitHub, GitLab); unsigned or badly signed are rejected', () => {
    const token = 'e2e-webhook-token-4f1c9a';
    const secret = manifest({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { token: `${token}\n` } });
    return withGit(
      'git-hook',
      appFiles(),
      { webhook: { secretRef: { name: 'hook' } } },
      async (g) => {
        const annotation = async () => (await g.gs()).metadata.annotations?.[SYNC_REQUESTED_ANNOTATION];
        const sha2 = await g.push('v2', appFiles({ image: 'example/app:v2' }));
        const body = JSON.stringify({ reason: 'ci', commit: sha2 });

        // rejected: unsigned, wrong secret, GitHub signature of another body, wrong GitLab token
        assert.equal((await postHook(hookUrl, g.ns, GS, body, {})).status, 401, 'unsigned');
        assert.equal((await postHook(hookUrl, g.ns, GS, body, { 'X-Sluice-Signature-256': hmacSignature(body, 'wrong') })).status, 401);
        assert.equal(
          (await postHook(hookUrl, g.ns, GS, body, { 'X-GitHub-Event': 'push', 'X-Hub-Signature-256': hmacSignature(`${body} `, token) })).status,
          401,
          'signature of another body',
        );
        assert.equal((await postHook(hookUrl, g.ns, GS, body, { 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': 'nope' })).status, 401);
        assert.equal(
          (await postHook(hookUrl, g.ns, 'no-such-gitsync', body, { 'X-Sluice-Signature-256': hmacSignature(body, token) })).status,
          401,
          'as a bad signature',
        );
        assert.equal((await postHook(hookUrl, g.ns, GS, body, {}, 'GET')).status, 405);
        assert.equal(await annotation(), undefined, 'no rejected request asked for a sync');
        await gitSyncHolds(k, g.ns, GS, 'no sync from rejected requests', (x) => assert.equal(x.status.lastSyncedCommit, g.sha1), 1500);

        // generic: HMAC of the raw body with the token
        const t0 = Date.now();
        const r1 = await postHook(hookUrl, g.ns, GS, body, { 'X-Sluice-Signature-256': hmacSignature(body, token) });
        assert.equal(r1.status, 202, r1.body);
        await g.waitGs('synced v2 after the generic hook', (x) => assert.equal(x.status.lastSyncedCommit, sha2), 15_000);
        const genericMs = Date.now() - t0;
        assert.ok(await annotation(), 'the hook set the sync-requested annotation');
        await g.s.waitFor('v2 rolling out', (x) => assert.equal(x.rollout.status.gitRevision, sha2));

        // GitHub: ping, then a push event
        const ping = await postHook(hookUrl, g.ns, GS, '{"zen":"hi"}', {
          'X-GitHub-Event': 'ping',
          'X-Hub-Signature-256': hmacSignature('{"zen":"hi"}', token),
        });
        assert.equal(ping.status, 200, ping.body);
        const sha3 = await g.push('settings b', appFiles({ image: 'example/app:v2', settings: { mode: 'b' } }));
        const ghBody = githubPushBody(g.repo.httpUrl, sha3);
        const t1 = Date.now();
        const r2 = await postHook(hookUrl, g.ns, GS, ghBody, {
          'X-GitHub-Event': 'push',
          'X-GitHub-Delivery': 'e2e-1',
          'X-Hub-Signature-256': hmacSignature(ghBody, token),
        });
        assert.equal(r2.status, 202, r2.body);
        await g.waitGs('synced after the GitHub push', (x) => assert.equal(x.status.lastSyncedCommit, sha3), 15_000);
        const githubMs = Date.now() - t1;
        assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'b');

        // GitLab: the token in X-Gitlab-Token
        const sha4 = await g.push('settings c', appFiles({ image: 'example/app:v2', settings: { mode: 'c' } }));
        const r3 = await postHook(hookUrl, g.ns, GS, JSON.stringify({ object_kind: 'push', after: sha4 }), {
          'X-Gitlab-Event': 'Push Hook',
          'X-Gitlab-Token': token,
        });
        assert.equal(r3.status, 202, r3.body);
        await g.waitGs('synced after the GitLab push', (x) => assert.equal(x.status.lastSyncedCommit, sha4), 15_000);
        assert.equal((await configMapData(g.ns, 'demo-settings'))?.data?.mode, 'c');
        assert.ok(genericMs < 10_000 && githubMs < 10_000, `immediate syncs (generic ${genericMs}ms, GitHub ${githubMs}ms), not the 10m poll`);
      },
      secret,
    );
  });

  test('a sync leaves alone the Service selectors the rollout engine pins (no traffic to the other revision)', () =>
    withGit('git-selectors', appFiles(), {}, async (g) => {
      const h1 = (await g.s.view()).rollout.status.stableRS as string;
      const sha2 = await g.push('v2', appFiles({ image: 'example/app:v2' }));
      await g.sync();
      const p = await g.s.waitFor('v2 paused at step 2/2: stable -> v1, canary -> v2', (v) => {
        assert.equal(v.rollout.status.phase, 'Paused');
        assert.equal(v.rollout.status.gitRevision, sha2);
        assert.equal(v.selectors['demo-stable'], h1);
        assert.equal(v.selectors['demo-canary'], v.rollout.status.currentPodHash);
        assert.notEqual(v.rollout.status.currentPodHash, h1);
      });
      const h2 = p.rollout.status.currentPodHash as string;
      await g.s.settled(1000);

      // Git declares `selector: {app: demo}`; the controller adds the pod-template hash.
      // Every version of the two Services written during a sync of the same commit must keep the hash.
      const watch = await watchServices(k, g.ns, ['demo-stable', 'demo-canary']);
      const seenBefore = watch.changes.length;
      let synced: GitSyncView;
      try {
        synced = await g.sync();
        await g.s.waitFor('the controller is done with the sync', (v) => assert.equal(v.rollout.status.observedGeneration, v.rollout.metadata.generation));
        await watch.caughtUp(['demo-stable', 'demo-canary']);
      } finally {
        await watch.stop();
      }
      const during = watch.changes.slice(seenBefore);
      const show = during.map((c) => `${c.type} ${c.name}@${c.resourceVersion} ${JSON.stringify(c.selector)}`).join('\n    ');
      for (const c of during) {
        const want = c.name === 'demo-stable' ? h1 : c.name === 'demo-canary' ? h2 : undefined;
        if (want === undefined) continue;
        assert.equal(
          c.selector['rollouts-pod-template-hash'],
          want,
          `a sync of an unchanged commit rewrote Service ${c.name}'s selector (it then selected every revision's pods):\n    ${show}`,
        );
      }
      assert.match(condition(synced!, 'Ready')?.message ?? '', /\(0 changed\)/, 'an unchanged commit changes nothing');
      await g.s.settled(1000);
    }));

  test('a revert commit pushed mid-rollout rolls back fast (no steps)', () =>
    withGit('git-revert', appFiles({ steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 100 }] }), {}, async (g) => {
      const h1 = (await g.s.view()).rollout.status.stableRS as string;
      const sha2 = await g.push('v2', appFiles({ image: 'example/app:v2', steps: [{ setWeight: 50 }, { pause: {} }, { setWeight: 100 }] }));
      await g.sync();
      const p = await g.s.waitFor('v2 paused at step 2/3', (v) => {
        assert.notEqual(v.rollout.status.currentPodHash, h1);
        assert.equal(v.rollout.status.phase, 'Paused');
        assert.equal(v.rollout.status.currentStepIndex, 1);
        assert.equal(v.rollout.status.gitRevision, sha2);
        assert.equal(v.rs[v.rollout.status.currentPodHash]?.available, 1);
      });
      const h2 = p.rollout.status.currentPodHash as string;
      const before = (await g.s.events()).length;

      // the person reverts the commit, as one does
      await g.wc.git('revert', '--no-edit', 'HEAD');
      await g.wc.push();
      const sha3 = await g.wc.head();
      const t0 = Date.now();
      const synced = await g.sync();
      assert.equal(synced.status.lastSyncedCommit, sha3);
      const back = await g.s.waitFor('Healthy on v1 again', (v) => assertHealthyOn(v, h1, 2), 20_000);
      const ms = Date.now() - t0;
      assert.equal(back.rollout.status.gitRevision, sha3, 'the revert commit is what runs now');
      assert.equal(back.replicaSets.length, 2, 'no new ReplicaSet: the stable one is reused');
      assert.equal(back.rs[h2]?.spec, 0);
      const events = (await g.s.waitEvent('RolledBack')).slice(before);
      assert.match(events.find((e) => e.reason === 'RolledBack')!.message, /fast rollback/);
      assert.deepEqual(completedSteps(events), [], `no step ran: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
      assert.ok(ms < 15_000, `rolled back ${ms}ms after the sync request`);
      await g.s.settled();
    }));

  test('a GitSync applies only what its ServiceAccount may: no rights to a kind, nothing applied and it says so; with a RoleBinding it syncs', async () => {
    const ns = await k.createNamespace('git-rbac');
    try {
      await env.withDiagnostics(ns, [ctl!.logFile], async () => {
        const files = { 'apps/settings.yaml': manifest(configMap('settings', { mode: 'a' })), [SERVICES_FILE]: manifest(canaryServices()) };
        const repo = await env.git.createRepo(ns, { files, message: 'v1' });
        const sha = await (await env.git.clone(repo)).head();
        // No ServiceAccount, no RoleBinding: the default ServiceAccount (sluice-gitsync) may do nothing.
        await k.apply(manifest(gitSync(GS, { url: repo.httpUrl, ref: { branch: 'main' }, paths: ['apps'], interval: '10m' })), { namespace: ns });
        const none = await waitGitSync(k, ns, GS, 'Forbidden as the default ServiceAccount', (g) => assert.equal(g.status.lastError?.reason, 'Forbidden'));
        assert.match(none.status.lastError.message, new RegExp(`^The sync runs as ServiceAccount ${ns}/${DEFAULT_GITSYNC_SERVICE_ACCOUNT}, which may not `));
        assert.match(none.status.lastError.message, /system:serviceaccount/, "the API server's own refusal is quoted");
        assert.equal(condition(none, 'Stalled')?.status, 'True');
        await waitGitSyncEvent(k, ns, GS, 'Forbidden');

        // The namespace owner grants ConfigMaps but not Services: still nothing applied, and the message names what is missing.
        const configMapsOnly = GITSYNC_RULES.map((r) => (r.apiGroups[0] === '' && r.resources.includes('services') ? { ...r, resources: ['configmaps'] } : r));
        await k.apply(manifest(gitSyncAccess(DEFAULT_GITSYNC_SERVICE_ACCOUNT, configMapsOnly)), { namespace: ns });
        const partial = await syncAndWait(k, ns, GS);
        assert.equal(partial.status.lastError?.reason, 'Forbidden', gitSyncSummary(partial));
        assert.match(partial.status.lastError.message, /may not get Service .*demo/);
        assert.equal(await configMapData(ns, 'settings'), undefined, 'not even the ConfigMap it may apply: a commit is applied whole or not at all');
        assert.equal(partial.status.lastSyncedCommit, undefined);

        // With the Services granted too, it syncs.
        await k.apply(manifest(gitSyncAccess()), { namespace: ns });
        const synced = await syncAndWait(k, ns, GS);
        assert.equal(synced.status.lastSyncedCommit, sha, gitSyncSummary(synced));
        assert.equal(condition(synced, 'Ready')?.status, 'True');
        assert.equal((await configMapData(ns, 'settings'))?.data?.mode, 'a');
        const fields = await k.json<Obj>(['get', 'service', 'demo', '-n', ns, '--show-managed-fields']);
        assert.ok(
          (fields.metadata.managedFields ?? []).some((m: Obj) => m.manager === GIT_SYNC_FIELD_MANAGER && m.operation === 'Apply'),
          'applied (server-side) by the sync, as the ServiceAccount',
        );
      });
    } finally {
      await k.run(['delete', 'gitsyncs.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
      await k.deleteNamespace(ns);
    }
  });
  test('a kind whose CRD is installed after the controller started is applied once it is served', () =>
    withGit('git-late-crd', appFiles(), {}, async (g) => {
      const group = `${g.ns}.e2e.sluice.dev`;
      const crd = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `widgets.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
          versions: [
            { name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } },
          ],
        },
      };
      const widget = { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3 } };
      try {
        const sha2 = await g.push('a widget', appFiles({ extra: { 'apps/widget.yaml': manifest(widget) } }));
        const refused = await g.sync();
        assert.notEqual(refused.status.lastSyncedCommit, sha2, 'nothing applied while the kind is not served');
        assert.match(JSON.stringify(refused.status), /Widget/, gitSyncSummary(refused));

        await k.apply(manifest(crd));
        // The GitSync applies as its ServiceAccount: the namespace owner lets it manage Widgets too.
        const widgetRules = [{ apiGroups: [group], resources: ['widgets'], verbs: ['get', 'list', 'create', 'patch', 'delete'] }];
        await k.apply(manifest(gitSyncAccess(DEFAULT_GITSYNC_SERVICE_ACCOUNT, widgetRules, 'widgets-apply')), { namespace: g.ns });
        await waitFor('the CRD is served', async () => /widgets/.test(await k.ok(['api-resources', '--api-group', group, '-o', 'name'])), {
          timeoutMs: 20_000,
        });
        // A miss is remembered for 30 s at most; ask for a sync until the controller looks again.
        const t0 = Date.now();
        await waitFor(
          'the widget applied',
          async () => {
            const synced = await g.sync();
            assert.equal(synced.status.lastSyncedCommit, sha2, gitSyncSummary(synced));
            return true;
          },
          { timeoutMs: 60_000, intervalMs: 2000 },
        );
        const live = await k.json<Obj>(['get', `widgets.${group}`, 'w1', '-n', g.ns]);
        assert.equal(live.spec.size, 3);
        assert.ok(Date.now() - t0 < 50_000, `applied ${Date.now() - t0}ms after the CRD was served`);
      } finally {
        await k.run(['delete', 'gitsyncs.sluice.dev', '--all', '-n', g.ns, '--wait=true', '--timeout=30s']);
        await k.run(['delete', 'crd', `widgets.${group}`, '--wait=true', '--timeout=30s']);
      }
    }));
});
