// Two controller replicas with leader election on one Lease (Kubernetes' default timing: lease
// 15s, renew deadline 10s, retry 2s). Only the leader reconciles; a SIGKILLed leader is
// replaced within the lease duration and the canary carries on with every step exactly once;
// a SIGTERMed leader hands the Lease back and the other leads within seconds; a kube-apiserver
// restart leaves exactly one leader and the rollout completes; a follower receiving a push
// webhook still gets the GitSync synced (by the leader). Leadership intervals, read from the
// replicas' logs, never overlap.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { acknowledged, webhookPolicy } from '../harness/alerts.ts';
import { attach } from '../harness/attach.ts';
import type { ControllerHandle } from '../harness/controller.ts';
import { condition, getGitSync, gitSync, gitSyncAccess, hmacSignature, postHook, waitGitSync } from '../harness/gitops.ts';
import {
  assertNoOverlap,
  isLeader,
  leaderElectionArgs,
  leadershipIntervals,
  leaseHolder,
  leaders,
  reconcileCount,
  waitForLeader,
  type LeaseRef,
} from '../harness/leader.ts';
import { freePort, log } from '../harness/proc.ts';
import { waitFor } from '../harness/wait.ts';
import { assertHealthyOn, canaryRollout, canaryServices, completedSteps, manifest, scenario, type EventView, type Scenario } from '../harness/rollouts.ts';

const env = attach();
const k = env.kubectl;
const LEASE_MS = 15_000;
const RETRY_MS = 2_000;

const STEPS = [
  { setWeight: 20 },
  { pause: { duration: '2s' } },
  { setWeight: 40 },
  { pause: { duration: '2s' } },
  { setWeight: 60 },
  { pause: { duration: '2s' } },
  { setWeight: 80 },
  { pause: { duration: '2s' } },
];
const ALL_STEPS = STEPS.map((_, i) => `${i + 1}/${STEPS.length}`);

let lease: LeaseRef;
let hookPorts: Record<string, number> = {};
const replicas: ControllerHandle[] = [];
const killedAt: number[] = [];

async function startReplica(name: string): Promise<ControllerHandle> {
  const port = await freePort();
  hookPorts[name] = port;
  return env.startController({
    name,
    args: leaderElectionArgs(lease),
    env: {
      HOSTNAME: `sluice-${name}`,
      SLUICE_WEBHOOK_ADDR: `127.0.0.1:${port}`,
      SLUICE_GIT_CACHE_DIR: join(env.descriptor.stateDir, `gitsync-cache-${name}-${process.pid}`),
    },
    // a follower is ready (caches filled), so readiness never waits for leadership
    healthPath: '/readyz',
  });
}

async function kill(ctl: ControllerHandle): Promise<void> {
  await ctl.kill();
  killedAt.push(Date.now());
}

const logFiles = () => replicas.map((r) => r.logFile);

/** Every Event about the Rollout once: no (reason, message) twice, no count above 1. */
function eventsOnce(events: EventView[], raw: Array<{ reason: string; message: string; count?: number }>): void {
  const seen = new Map<string, number>();
  for (const e of events) seen.set(`${e.reason}: ${e.message}`, (seen.get(`${e.reason}: ${e.message}`) ?? 0) + 1);
  const twice = [...seen].filter(([, n]) => n > 1).map(([m, n]) => `${n}x ${m}`);
  assert.deepEqual(twice, [], 'an Event recorded more than once');
  assert.deepEqual(
    raw.filter((e) => (e.count ?? 1) > 1).map((e) => `${e.count}x ${e.reason}: ${e.message}`),
    [],
    'an Event counted more than once',
  );
}

async function rawEvents(ns: string): Promise<Array<{ reason: string; message: string; count?: number; reportingInstance?: string }>> {
  const list = await k.json<{ items: Array<{ reason: string; message: string; count?: number; reportingInstance?: string }> }>([
    'get',
    'events',
    '-n',
    ns,
    '--field-selector',
    'involvedObject.kind=Rollout,involvedObject.name=demo',
  ]);
  return list.items;
}

async function withRollout(prefix: string, fn: (s: Scenario, h1: string) => Promise<void>): Promise<void> {
  const ns = await k.createNamespace(prefix);
  try {
    await env.withDiagnostics(ns, logFiles(), async () => {
      const s = scenario(env, ns);
      await s.apply(manifest(canaryServices(), canaryRollout({ replicas: 5, steps: STEPS })));
      const v1 = await s.waitFor('first revision Healthy', (v) => {
        assert.equal(v.rollout.status.phase, 'Healthy');
        assert.equal(v.rollout.status.stableRS && v.rs[v.rollout.status.stableRS]?.available, 5);
      });
      await fn(s, v1.rollout.status.stableRS as string);
    });
  } finally {
    // as kubelet would: a replica that is down is started again
    for (const r of replicas) if (!r.isRunning()) await r.restart();
    await k.run(['delete', 'rollouts.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
    await k.deleteNamespace(ns);
  }
}

async function stepsExactlyOnce(s: Scenario, hash: string): Promise<void> {
  const events = await s.waitEvent('RolloutCompleted', hash);
  assert.deepEqual(completedSteps(events), ALL_STEPS, `events: ${events.map((e) => `${e.reason}: ${e.message}`).join(' | ')}`);
  assert.equal(events.filter((e) => e.reason === 'RolloutCompleted' && e.message.includes(hash)).length, 1);
  eventsOnce(events, await rawEvents(s.ns));
}

describe('leader election', () => {
  before(async () => {
    const ns = await k.createNamespace('leader-lease');
    lease = { namespace: ns, id: 'sluice-e2e' };
    hookPorts = {};
    for (const name of ['a', 'b']) replicas.push(await startReplica(name));
  });
  after(async () => {
    for (const r of replicas) await r.stop();
    if (lease) await k.deleteNamespace(lease.namespace);
  });

  test('one leader; the follower reconciles nothing; the Lease names the leader', async () => {
    const leader = await waitForLeader(replicas, 'a leader', LEASE_MS + 3 * RETRY_MS);
    const follower = replicas.find((r) => r !== leader)!;
    const holder = await leaseHolder(k, lease);
    assert.match(holder ?? '', new RegExp(`^sluice-${leader.name}_[0-9a-f]{8}$`), 'holder identity = pod name + random suffix');
    // something to reconcile, then the follower still has reconciled nothing
    await withRollout('leader-one', async (s) => {
      await s.setImage('example/app:v2');
      await s.waitFor('v2 Healthy', (v) => assertHealthyOn(v, v.rollout.status.currentPodHash, 5), 60_000);
      assert.equal(await reconcileCount(follower), 0, 'the follower reconciled');
      assert.ok((await reconcileCount(leader)) > 0);
      assert.equal(await isLeader(follower), false);
      assert.match(await leader.metrics(), /^sluice_leader_transitions_total\{[^}]*to="leader"[^}]*\} 1$/m);
      const instances = new Set((await rawEvents(s.ns)).map((e) => e.reportingInstance));
      assert.deepEqual([...instances], [`sluice-${leader.name}`], 'every Event recorded by the leader');
    });
  });

  test('SIGKILL of the leader mid-canary: the other leads within the lease duration, every step once; SIGTERM then hands over within seconds', () =>
    withRollout('leader-kill', async (s, h1) => {
      const first = await waitForLeader(replicas, 'a leader', LEASE_MS + 3 * RETRY_MS);
      const second = replicas.find((r) => r !== first)!;
      const hookPath = `/n/${s.ns}/leader`;
      await s.apply(manifest(webhookPolicy(`${env.webhook.url}${hookPath}`, ['rollout-completed'])));
      await s.setImage('example/app:v2');
      const p = await s.waitFor('in the first pause', (v) => {
        assert.equal(v.rollout.status.currentStepIndex, 1);
        assert.equal(v.rollout.status.phase, 'Paused');
      });
      const h2 = p.rollout.status.currentPodHash as string;

      await kill(first);
      const killed = Date.now();
      log('leader-election', `SIGKILL ${first.name} (the leader) in the pause at step 2/${STEPS.length}`);
      // the pause ends meanwhile, but nobody leads: nothing moves until the other takes over
      const takeover = waitForLeader(replicas, `${second.name} leads`, LEASE_MS + 3 * RETRY_MS, first);
      await s.holds('no progress while nobody leads', (v) => assert.equal(v.rollout.status.currentStepIndex, 1), 8_000);
      await takeover;
      const takeoverMs = Date.now() - killed;
      log('leader-election', `${second.name} leads ${(takeoverMs / 1000).toFixed(1)}s after the SIGKILL`);
      // the follower had seen the last renewal at most a retry period before the kill; it takes
      // the Lease a lease duration after it saw it, at its next try
      assert.ok(takeoverMs <= LEASE_MS + 2 * RETRY_MS, `took over after ${takeoverMs}ms`);
      assert.ok(takeoverMs >= LEASE_MS - 2 * RETRY_MS, `took over after ${takeoverMs}ms: before the lease could have expired`);

      // the killed one comes back (as kubelet would restart it) and follows
      await first.restart();
      await s.waitFor('past step 5/8', (v) => assert.ok(v.rollout.status.currentStepIndex >= 5), 30_000);
      assert.equal(await isLeader(first), false, 'the restarted replica follows');

      const t0 = Date.now();
      const term = second.stop(20_000);
      const back = await waitForLeader(replicas, `${first.name} leads after the SIGTERM`, 10_000, second);
      const handoverMs = Date.now() - t0;
      await term;
      assert.equal(back, first);
      log('leader-election', `SIGTERM handover in ${(handoverMs / 1000).toFixed(1)}s`);
      assert.ok(handoverMs < 3 * RETRY_MS, `handover took ${handoverMs}ms: the Lease was not released`);
      assert.equal(await second.exited(), 0);
      await second.restart();

      await s.waitFor('Healthy on v2', (v) => assertHealthyOn(v, h2, 5), 60_000);
      const done = await s.view();
      assert.equal(done.replicaSets.length, 2, 'no ReplicaSet created twice');
      assert.equal(done.rs[h1]?.spec, 0);
      await stepsExactlyOnce(s, h2);
      await s.settled();
      assert.equal((await leaders(replicas)).length, 1);
      // Three leaders over the rollout, one completion notification, never a key acknowledged twice.
      const sent = await waitFor(
        'the completion of v2 notified once',
        async () => {
          const acked = acknowledged(await env.webhook.requests(hookPath));
          assert.equal(acked.filter((r) => r.body.includes(h2)).length, 1, `${acked.length} acknowledged notifications`);
          return acked;
        },
        { timeoutMs: 30_000, intervalMs: 300 },
      );
      const keys = sent.map((r) => String(r.headers['idempotency-key']));
      assert.equal(new Set(keys).size, keys.length, `an Idempotency-Key acknowledged twice: ${keys.join(', ')}`);
    }));

  test('kube-apiserver restarted while both run: exactly one leader afterwards, and the rollout completes', async (t) => {
    if (env.descriptor.external) {
      t.skip('restartApiserver is not available for an external cluster (E2E_KUBECONFIG)');
      return;
    }
    await withRollout('leader-apiserver', async (s) => {
      await waitForLeader(replicas, 'a leader', LEASE_MS + 3 * RETRY_MS);
      await s.setImage('example/app:v2');
      const p = await s.waitFor('in the first pause', (v) => assert.equal(v.rollout.status.currentStepIndex, 1));
      const h2 = p.rollout.status.currentPodHash as string;
      const t0 = Date.now();
      await env.restartApiserver();
      log('leader-election', `kube-apiserver restarted in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      // a leader that could not renew within its renew deadline exits (and kubelet would restart it)
      const exits: string[] = [];
      const relaunch = setInterval(() => {
        for (const r of replicas) {
          if (!r.isRunning() && !exits.includes(r.name)) {
            exits.push(r.name);
            log('leader-election', `${r.name} exited (leadership lost); starting it again`);
            void r.restart().catch((err: Error) => log('leader-election', `restart of ${r.name} failed: ${err.message}`));
          }
        }
      }, 200);
      try {
        await s.waitFor('Healthy on v2', (v) => assertHealthyOn(v, h2, 5), 90_000);
        const leader = await waitForLeader(replicas, 'one leader after the restart', LEASE_MS + 3 * RETRY_MS);
        assert.equal((await leaders(replicas)).length, 1);
        assert.match((await leaseHolder(k, lease)) ?? '', new RegExp(`^sluice-${leader.name}_`));
        for (const name of exits) {
          const r = replicas.find((x) => x.name === name)!;
          assert.match(r.logTail(400), /Exiting: leadership lost/, `${name} exited with a clear log line`);
        }
      } finally {
        clearInterval(relaunch);
      }
      await stepsExactlyOnce(s, h2);
      await s.settled();
    });
  });

  test('a push webhook received by the follower still syncs the GitSync (the leader syncs it)', async () => {
    const ns = await k.createNamespace('leader-hook');
    try {
      await env.withDiagnostics(ns, logFiles(), async () => {
        const leader = await waitForLeader(replicas, 'a leader', LEASE_MS + 3 * RETRY_MS);
        const follower = replicas.find((r) => r !== leader)!;
        const token = 'e2e-leader-hook-7b2d';
        const files = { 'apps/settings.yaml': manifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'a' } }) };
        const repo = await env.git.createRepo(ns, { files, message: 'v1' });
        const wc = await env.git.clone(repo);
        const sha1 = await wc.head();
        await k.apply(
          manifest(
            { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'hook' }, stringData: { token } },
            ...gitSyncAccess(),
            gitSync('apps', { url: repo.httpUrl, ref: { branch: 'main' }, paths: ['apps'], interval: '10m', webhook: { secretRef: { name: 'hook' } } }),
          ),
          { namespace: ns },
        );
        await waitGitSync(k, ns, 'apps', 'first sync', (g) => {
          assert.equal(g.status.lastSyncedCommit, sha1);
          assert.equal(condition(g, 'Ready')?.status, 'True');
        });
        const followerReconciles = await reconcileCount(follower);
        const sha2 = await wc.commitAndPush('mode b', {
          'apps/settings.yaml': manifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'settings' }, data: { mode: 'b' } }),
        });
        const body = JSON.stringify({ reason: 'ci', commit: sha2 });
        const r = await postHook(`http://127.0.0.1:${hookPorts[follower.name]}`, ns, 'apps', body, { 'X-Sluice-Signature-256': hmacSignature(body, token) });
        assert.equal(r.status, 202, r.body);
        const t0 = Date.now();
        await waitGitSync(k, ns, 'apps', 'synced after the push to the follower', (g) => assert.equal(g.status.lastSyncedCommit, sha2), 15_000);
        log('leader-election', `push to the follower synced in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
        assert.equal(await reconcileCount(follower), followerReconciles, 'the follower did not sync it itself');
        assert.ok((await getGitSync(k, ns, 'apps')).metadata.annotations?.['sluice.dev/sync-requested-at'], 'the follower asked for the sync');
      });
    } finally {
      await k.run(['delete', 'gitsyncs.sluice.dev', '--all', '-n', ns, '--wait=true', '--timeout=30s']);
      await k.deleteNamespace(ns);
    }
  });

  test('no two replicas ever led at the same time (leadership intervals from their logs)', () => {
    const intervals = replicas.flatMap((r) => leadershipIntervals(r, killedAt)).sort((a, b) => a.from - b.from);
    const text = intervals.map(
      (x) => `${x.replica} ${new Date(x.from).toISOString()} -> ${Number.isFinite(x.to) ? new Date(x.to).toISOString() : 'now'} (${x.how})`,
    );
    log('leader-election', `leadership intervals:\n  ${text.join('\n  ')}`);
    // the first leader (killed), the second (SIGTERM), the first again, and (when the apiserver restart
    // outlasted the renew deadline, so the leader gave up) whoever leads after it
    assert.ok(intervals.length >= 3, `intervals: ${text.join(' | ')}`);
    assert.equal(intervals.filter((x) => x.to === Infinity).length, 1, 'exactly one replica leads now');
    assertNoOverlap(intervals);
  });
});
