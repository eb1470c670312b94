import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { KubeError, kinds, type KubeClient } from '../../ports/kube.ts';
import { createLeaderMetrics, holderIdentity, LeaderElector } from './leader-election.ts';

const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
const flush = () => new Promise((r) => setImmediate(r));

/** Moves the fake clock in small steps, letting the elector's requests settle between them. */
async function advance(clock: FakeClock, ms: number, step = 100): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t));
    await flush();
    await flush();
  }
}

type Mode = 'up' | 'failing' | 'hanging';

/** A candidate's own connection to the API server, which a test can cut. */
function connection(kube: FakeKube) {
  let mode: Mode = 'up';
  const gate = async () => {
    if (mode === 'failing') throw new KubeError(0, 'Unreachable', 'connect ECONNREFUSED');
    if (mode === 'hanging') await new Promise(() => {});
  };
  const client: Pick<KubeClient, 'get' | 'create' | 'patch'> = {
    get: async (...a) => (await gate(), kube.get(...a)),
    create: async (...a) => (await gate(), kube.create(...a)),
    patch: async (...a) => (await gate(), kube.patch(...a)),
  };
  return { client, set: (m: Mode) => (mode = m) };
}

function candidate(kube: FakeKube, clock: FakeClock, id: string, registry = new Registry()) {
  const conn = connection(kube);
  const events: Array<{ at: number; what: 'started' | 'stopped'; reason?: string; taken?: boolean }> = [];
  const elector = new LeaderElector({
    kube: conn.client,
    clock,
    logger: pino({ level: 'silent' }),
    namespace: 'sluice-system',
    name: 'sluice-controller',
    identity: id,
    timing,
    metrics: createLeaderMetrics(registry, 'sluice-system/sluice-controller'),
    onStartedLeading: () => events.push({ at: clock.now().getTime(), what: 'started' }),
    onStoppedLeading: (reason, taken) => events.push({ at: clock.now().getTime(), what: 'stopped', reason, taken }),
  });
  return { elector, conn, events, registry };
}

const holder = (kube: FakeKube) =>
  (kube.peek(kinds.lease, 'sluice-system', 'sluice-controller')?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;

describe('leader election', () => {
  test('the first candidate creates the Lease and leads; it renews every retry period; the metric says so', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    a.elector.start();
    await advance(clock, 100);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(holder(kube), 'a');
    assert.deepEqual(
      a.events.map((e) => e.what),
      ['started'],
    );
    const renewTime = () => (kube.peek(kinds.lease, 'sluice-system', 'sluice-controller')?.spec as { renewTime: string }).renewTime;
    const first = renewTime();
    await advance(clock, 2_100);
    assert.notEqual(renewTime(), first, 'renewed after a retry period');
    assert.match(renewTime(), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
    const metrics = await a.registry.metrics();
    assert.match(metrics, /sluice_leader_is_leader\{lease="sluice-system\/sluice-controller"\} 1/);
    assert.match(metrics, /sluice_leader_transitions_total\{lease="sluice-system\/sluice-controller",to="leader"\} 1/);
    await a.elector.release();
  });

  test('a second candidate follows while the leader renews, and reconciles nothing', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    const b = candidate(kube, clock, 'b');
    a.elector.start();
    await advance(clock, 100);
    b.elector.start();
    await advance(clock, 60_000);
    assert.equal(a.elector.isLeader(), true);
    assert.equal(b.elector.isLeader(), false);
    assert.deepEqual(b.events, []);
    assert.match(await b.registry.metrics(), /sluice_leader_is_leader\{lease="sluice-system\/sluice-controller"\} 0/);
    await a.elector.release();
    await b.elector.release();
  });

  test('a leader cut off from the API server stops at its renew deadline, before a follower may take over', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    const b = candidate(kube, clock, 'b');
    a.elector.start();
    await advance(clock, 100);
    b.elector.start();
    await advance(clock, 10_000);
    const lastRenewal = Date.parse((kube.peek(kinds.lease, 'sluice-system', 'sluice-controller')?.spec as { renewTime: string }).renewTime);
    a.conn.set('failing');
    await advance(clock, 30_000);
    const lost = a.events.find((e) => e.what === 'stopped');
    const won = b.events.find((e) => e.what === 'started');
    assert.ok(lost && won, `a: ${JSON.stringify(a.events)} b: ${JSON.stringify(b.events)}`);
    assert.match(lost.reason ?? '', /not renewed within the renew deadline/);
    assert.ok(lost.at - lastRenewal <= timing.renewDeadlineMs + 100, `a stopped ${lost.at - lastRenewal}ms after its last renewal`);
    assert.ok(won.at - lastRenewal >= timing.leaseDurationMs, `b took over ${won.at - lastRenewal}ms after the last renewal`);
    assert.ok(won.at - lastRenewal <= timing.leaseDurationMs + 2 * timing.retryPeriodMs, `b took over ${won.at - lastRenewal}ms after the last renewal`);
    assert.ok(won.at - lost.at >= timing.leaseDurationMs - timing.renewDeadlineMs);
    assert.equal(holder(kube), 'b');
    assert.equal(a.elector.isLeader(), false);
    assert.match(await a.registry.metrics(), /sluice_leader_transitions_total\{lease="sluice-system\/sluice-controller",to="follower"\} 1/);
    // a, once lost, does not come back by itself even when the API server answers again (the process exits)
    a.conn.set('up');
    await advance(clock, 30_000);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(holder(kube), 'b');
    await b.elector.release();
  });

  test('a renewal that hangs does not keep a leader leading past its renew deadline', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    a.elector.start();
    await advance(clock, 100);
    const acquiredAt = clock.now().getTime();
    a.conn.set('hanging');
    await advance(clock, 12_000);
    const lost = a.events.find((e) => e.what === 'stopped');
    assert.ok(lost, 'lost while the request still hangs');
    assert.equal(lost.taken, false, 'not renewed: nobody else may lead before the lease duration, so work in flight may finish');
    assert.ok(lost.at - acquiredAt <= timing.renewDeadlineMs);
  });

  test('someone else moves the Lease: the conflict sends the leader to read it, and another holder means it lost at once', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    a.elector.start();
    await advance(clock, 100);
    await kube.patch(kinds.lease, 'sluice-system', 'sluice-controller', { spec: { holderIdentity: 'intruder' } }, { type: 'merge' });
    await advance(clock, 2_100);
    assert.equal(a.elector.isLeader(), false);
    assert.match(a.events.find((e) => e.what === 'stopped')?.reason ?? '', /held by intruder/);
    assert.equal(a.events.find((e) => e.what === 'stopped')?.taken, true, 'taken: another leader already acts, so nothing in flight may finish');
    assert.equal(holder(kube), 'intruder', 'the leader did not overwrite the newer holder');
  });

  test('release hands the Lease over at the next try of the follower, not after a lease duration', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    const b = candidate(kube, clock, 'b');
    a.elector.start();
    await advance(clock, 100);
    b.elector.start();
    await advance(clock, 5_000);
    const releasedAt = clock.now().getTime();
    await a.elector.release();
    assert.equal(holder(kube), '');
    assert.deepEqual(
      a.events.map((e) => e.what),
      ['started'],
      'a release is not a loss',
    );
    await advance(clock, 2_100);
    const won = b.events.find((e) => e.what === 'started');
    assert.ok(won && won.at - releasedAt <= timing.retryPeriodMs, `b took over ${won ? won.at - releasedAt : '?'}ms after the release`);
    assert.equal(holder(kube), 'b');
    const lease = kube.peek(kinds.lease, 'sluice-system', 'sluice-controller')?.spec as { leaseTransitions: number };
    assert.equal(lease.leaseTransitions, 1);
    await b.elector.release();
  });

  test('a new process (new identity) waits a whole lease duration for a Lease left held, however old its renewTime', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    await kube.create(kinds.lease, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'sluice-controller', namespace: 'sluice-system' },
      spec: { holderIdentity: 'gone_1234', leaseDurationSeconds: 15, renewTime: '2020-01-01T00:00:00.000000Z', leaseTransitions: 7 },
    });
    const b = candidate(kube, clock, 'b');
    const t0 = clock.now().getTime();
    b.elector.start();
    await advance(clock, 14_000);
    assert.equal(b.elector.isLeader(), false);
    await advance(clock, 4_000);
    const won = b.events.find((e) => e.what === 'started');
    assert.ok(won && won.at - t0 >= 15_000 && won.at - t0 <= 17_000, JSON.stringify(b.events));
    assert.equal((kube.peek(kinds.lease, 'sluice-system', 'sluice-controller')?.spec as { leaseTransitions: number }).leaseTransitions, 8);
    await b.elector.release();
  });

  test('two candidates starting together: exactly one creates the Lease', async () => {
    const clock = new FakeClock();
    const kube = new FakeKube();
    const a = candidate(kube, clock, 'a');
    const b = candidate(kube, clock, 'b');
    a.elector.start();
    b.elector.start();
    await advance(clock, 20_000);
    assert.equal([a, b].filter((c) => c.elector.isLeader()).length, 1);
    assert.equal([a, b].flatMap((c) => c.events).length, 1);
    await a.elector.release();
    await b.elector.release();
  });

  test('identities: the host name and a random suffix', () => {
    const one = holderIdentity('sluice-7d9f-abcde');
    assert.match(one, /^sluice-7d9f-abcde_[0-9a-f]{8}$/);
    assert.notEqual(one, holderIdentity('sluice-7d9f-abcde'));
    assert.match(holderIdentity(''), /^sluice_/);
  });
});
