import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decide,
  expiresAt,
  isFree,
  leaseRecordOf,
  leaseSpecOf,
  microTime,
  observe,
  releaseRecord,
  renewDeadlinePassed,
  timingProblems,
  type LeaseRecord,
  type Observation,
} from './lease.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const held = (holder: string, extra: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: '2025-12-31T23:00:00.000000Z',
  renewTime: '2025-12-31T23:59:59.000000Z',
  leaseTransitions: 3,
  ...extra,
});

describe('lease decisions', () => {
  test('no Lease: create it holding it, with the lease duration in whole seconds', () => {
    const d = decide(undefined, 'me', 15_000, T0);
    assert.deepEqual(d, {
      action: 'create',
      record: { holderIdentity: 'me', leaseDurationSeconds: 15, acquireTime: microTime(T0), renewTime: microTime(T0), leaseTransitions: 0 },
    });
    const short = decide(undefined, 'me', 1_500, T0);
    assert.equal(short.action === 'create' ? short.record.leaseDurationSeconds : undefined, 2);
  });

  test('another holder is trusted for its lease duration from when this process saw its record change, whatever its renewTime says', () => {
    // renewTime is an hour old by our clock: another clock wrote it, so it is not compared with ours
    const seen = observe(undefined, held('other', { renewTime: '2025-12-31T23:00:00.000000Z' }), T0);
    assert.equal(expiresAt(seen), T0 + 15_000);
    assert.deepEqual(decide(seen, 'me', 15_000, T0 + 14_999), { action: 'wait', holder: 'other', expiresAt: T0 + 15_000 });
    // the same record read again later does not move the observation
    const again = observe(seen, held('other', { renewTime: '2025-12-31T23:00:00.000000Z' }), T0 + 10_000);
    assert.equal(again.observedAt, T0);
    assert.equal(decide(again, 'me', 15_000, T0 + 14_999).action, 'wait');
    // expired at observedAt + leaseDurationSeconds (the holder's, not ours): taken, transitions + 1
    const d = decide(again, 'me', 10_000, T0 + 15_000);
    assert.deepEqual(d, {
      action: 'update',
      acquiring: true,
      record: { holderIdentity: 'me', leaseDurationSeconds: 10, acquireTime: microTime(T0 + 15_000), renewTime: microTime(T0 + 15_000), leaseTransitions: 4 },
    });
  });

  test('a renewal seen restarts the wait', () => {
    let seen = observe(undefined, held('other'), T0);
    seen = observe(seen, held('other', { renewTime: '2026-01-01T00:00:02.000000Z' }), T0 + 12_000);
    assert.equal(seen.observedAt, T0 + 12_000);
    assert.equal(decide(seen, 'me', 15_000, T0 + 20_000).action, 'wait');
    assert.equal(decide(seen, 'me', 15_000, T0 + 27_000).action, 'update');
  });

  test('a free Lease (released: no holder) is taken at once', () => {
    const released = observe(undefined, releaseRecord(held('other'), T0), T0);
    assert.equal(isFree(released, T0), true);
    const d = decide(released, 'me', 15_000, T0);
    assert.equal(d.action, 'update');
    assert.equal(d.action === 'update' && d.acquiring, true);
    assert.equal(d.action === 'update' && d.record.leaseTransitions, 4);
  });

  test('our own Lease is renewed: same acquireTime and transitions, new renewTime', () => {
    const seen = observe(undefined, held('me'), T0);
    const d = decide(seen, 'me', 15_000, T0 + 2_000);
    assert.deepEqual(d, { action: 'update', acquiring: false, record: { ...held('me'), renewTime: microTime(T0 + 2_000) } });
  });

  test('the leader stops acting once its last successful renewal is a renew deadline old', () => {
    assert.equal(renewDeadlinePassed(T0, 10_000, T0 + 9_999), false);
    assert.equal(renewDeadlinePassed(T0, 10_000, T0 + 10_000), true);
  });

  test('release: no holder, transitions kept', () => {
    const r = releaseRecord(held('me'), T0);
    assert.equal(r.holderIdentity, '');
    assert.equal(r.leaseTransitions, 3);
    assert.equal(r.renewTime, microTime(T0));
  });

  test('Lease objects are read leniently and written with every field', () => {
    assert.deepEqual(leaseRecordOf({}), { holderIdentity: '', leaseDurationSeconds: 0, acquireTime: undefined, renewTime: undefined, leaseTransitions: 0 });
    assert.deepEqual(leaseRecordOf({ spec: { holderIdentity: 'x', leaseDurationSeconds: 'ten' } }).holderIdentity, '', 'an unreadable spec is a free Lease');
    const r = held('a');
    assert.deepEqual(leaseRecordOf({ spec: leaseSpecOf(r) }), r);
    assert.equal(leaseSpecOf({ ...r, acquireTime: undefined }).acquireTime, null);
  });

  test('MicroTime has six fractional digits (the API server parses exactly that)', () => {
    assert.equal(microTime(Date.parse('2026-03-04T05:06:07.089Z')), '2026-03-04T05:06:07.089000Z');
  });

  test("timing follows client-go's rules", () => {
    assert.deepEqual(timingProblems({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }), []);
    assert.match(timingProblems({ leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 }).join(), /longer than the renew deadline/);
    assert.match(timingProblems({ leaseDurationMs: 15_000, renewDeadlineMs: 2_400, retryPeriodMs: 2_000 }).join(), /1.2 x the retry period/);
    assert.match(timingProblems({ leaseDurationMs: 500, renewDeadlineMs: 300, retryPeriodMs: 100 }).join(), /at least 1s/);
  });
});

/**
 * Candidates run the decision loop against one simulated Lease (reads and compare-and-swap
 * writes that take time and may fail or be lost); any but one may crash or be cut off from the
 * API server for a while. At no moment may two of them
 * believe they lead, and when the leader crashes another leads within the lease duration plus
 * two retry periods and the write latency.
 */
describe('lease decisions, simulated candidates', () => {
  const timing = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };
  const TICK = 100;

  interface Candidate {
    id: string;
    obs: Observation | undefined;
    nextTry: number;
    lastRenewAt: number | undefined;
    crashedAt: number;
    pending: { at: number; rv: number | undefined; record: LeaseRecord; sentAt: number; lost: boolean } | undefined;
  }

  const scenario = fc.record({
    candidates: fc.integer({ min: 2, max: 4 }),
    crashes: fc.array(fc.integer({ min: 0, max: 120_000 }), { minLength: 4, maxLength: 4 }),
    starts: fc.array(fc.integer({ min: 0, max: 5_000 }), { minLength: 4, maxLength: 4 }),
    latencyMs: fc.integer({ min: 0, max: 1_500 }),
    // each candidate is cut off from the API server once (reads and writes fail) for a while
    partitions: fc.array(fc.record({ start: fc.integer({ min: 0, max: 120_000 }), length: fc.integer({ min: 0, max: 40_000 }) }), {
      minLength: 4,
      maxLength: 4,
    }),
    failures: fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }),
  });

  test('never two leaders; a crashed leader is replaced in time', () => {
    fc.assert(
      fc.property(scenario, (s) => {
        let lease: { rv: number; record: LeaseRecord } | undefined;
        let rv = 0;
        let failIndex = 0;
        const failing = () => s.failures[failIndex++ % s.failures.length] === true && failIndex % 3 === 0;
        const cs: Candidate[] = Array.from({ length: s.candidates }, (_, i) => ({
          id: `c${i}`,
          obs: undefined,
          nextTry: s.starts[i] as number,
          lastRenewAt: undefined,
          // the last candidate never crashes, so someone can always lead
          crashedAt: i === s.candidates - 1 ? Infinity : (s.crashes[i] as number),
          pending: undefined,
        }));
        const cutOff = (i: number, now: number) => {
          const p = s.partitions[i]!;
          return i !== s.candidates - 1 && now >= p.start && now < p.start + p.length;
        };
        const leads = (c: Candidate, now: number) =>
          now < c.crashedAt && c.lastRenewAt !== undefined && !renewDeadlinePassed(c.lastRenewAt, timing.renewDeadlineMs, now);
        let leaderlessSince: number | undefined;
        for (let now = 0; now <= 180_000; now += TICK) {
          for (const [i, c] of cs.entries()) {
            if (now >= c.crashedAt) continue;
            if (c.lastRenewAt !== undefined && renewDeadlinePassed(c.lastRenewAt, timing.renewDeadlineMs, now)) {
              // it lost: the process exits; a new one would come back with a new identity
              c.crashedAt = now;
              continue;
            }
            if (c.pending && now >= c.pending.at) {
              const p = c.pending;
              c.pending = undefined;
              const ok = !p.lost && !cutOff(i, p.sentAt) && (p.rv === undefined ? lease === undefined : lease?.rv === p.rv);
              if (ok) {
                lease = { rv: ++rv, record: p.record };
                c.obs = { record: p.record, observedAt: p.sentAt };
                c.lastRenewAt = p.sentAt;
              } else {
                c.obs = undefined; // read again on the next try
              }
              c.nextTry = now + timing.retryPeriodMs;
            }
            if (!c.pending && now >= c.nextTry && cutOff(i, now)) {
              c.nextTry = now + timing.retryPeriodMs;
            } else if (!c.pending && now >= c.nextTry) {
              c.obs = lease ? observe(c.obs, lease.record, now) : undefined;
              const d = decide(lease ? c.obs : undefined, c.id, timing.leaseDurationMs, now);
              if (d.action === 'wait') c.nextTry = now + timing.retryPeriodMs;
              else c.pending = { at: now + s.latencyMs, rv: lease?.rv, record: d.record, sentAt: now, lost: failing() };
            }
          }
          const leaders = cs.filter((c) => leads(c, now));
          if (leaders.length > 1) return false;
          if (leaders.length === 1) leaderlessSince = undefined;
          else leaderlessSince ??= now;
          if (now > 30_000 && leaderlessSince !== undefined && !cs.some((c, i) => cutOff(i, now) || cutOff(i, now - 20_000))) {
            // no leader: within a lease duration, two retries and the latency (plus failed writes retried) someone leads
            const bound = timing.leaseDurationMs + timing.renewDeadlineMs + 2 * timing.retryPeriodMs + s.latencyMs + 6 * timing.retryPeriodMs;
            if (now - leaderlessSince > bound) return false;
          }
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });
});
