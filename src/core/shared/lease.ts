// Leader election over a coordination.k8s.io/v1 Lease: what to do, given the Lease as last read,
// when it was seen to change, and now. The same rules as client-go's leaderelection package:
// - a Lease held by someone else is trusted until leaseDurationSeconds after *this* process saw
//   its record change (its renewTime is written by another clock and is never compared with
//   ours); a free Lease (empty holder, as after a release) can be taken at once;
// - the holder renews every retry period; it counts itself leader only while its last
//   successful renewal is younger than the renew deadline, which is shorter than the lease
//   duration, so it stops acting before anyone else may take over;
// - a release empties the holder, so the next candidate takes the Lease at its next try.
// Pure: time comes in as epoch milliseconds; writes come back as data.
import { z } from 'zod';

/** The part of a Lease's spec that leader election reads and writes. */
export interface LeaseRecord {
  /** '' when nobody holds the Lease. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  acquireTime: string | undefined;
  renewTime: string | undefined;
  leaseTransitions: number;
}

export interface LeaseTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/** What this process last saw of the Lease, and when (its own clock) that record first appeared. */
export interface Observation {
  record: LeaseRecord;
  observedAt: number;
}

export type LeaseDecision =
  /** No Lease exists: create it holding it. */
  | { action: 'create'; record: LeaseRecord }
  /** Write this record (guarded by the resourceVersion read): take a free or expired Lease, or renew ours. */
  | { action: 'update'; record: LeaseRecord; acquiring: boolean }
  /** Someone else holds a valid Lease. */
  | { action: 'wait'; holder: string; expiresAt: number };

/** client-go's JitterFactor: the renew deadline must leave room for a jittered retry. */
const JITTER_FACTOR = 1.2;

const LeaseSpec = z
  .object({
    holderIdentity: z.string().nullish(),
    leaseDurationSeconds: z.number().int().nullish(),
    acquireTime: z.string().nullish(),
    renewTime: z.string().nullish(),
    leaseTransitions: z.number().int().nullish(),
  })
  .loose();

/** The record of a Lease object as read from the API server (missing fields as Kubernetes defaults them). */
export function leaseRecordOf(lease: Record<string, unknown>): LeaseRecord {
  const parsed = LeaseSpec.safeParse(lease.spec ?? {});
  const spec = parsed.success ? parsed.data : {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: spec.acquireTime ?? undefined,
    renewTime: spec.renewTime ?? undefined,
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

/** The Lease spec to write for a record. */
export function leaseSpecOf(record: LeaseRecord): Record<string, unknown> {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: record.acquireTime ?? null,
    renewTime: record.renewTime ?? null,
    leaseTransitions: record.leaseTransitions,
  };
}

function sameRecord(a: LeaseRecord, b: LeaseRecord): boolean {
  return (
    a.holderIdentity === b.holderIdentity &&
    a.leaseDurationSeconds === b.leaseDurationSeconds &&
    a.acquireTime === b.acquireTime &&
    a.renewTime === b.renewTime &&
    a.leaseTransitions === b.leaseTransitions
  );
}

/**
 * The observation after reading `record` at `now`: the time only moves when the record changed,
 * so a holder that stopped renewing expires `leaseDurationSeconds` after its last change was seen.
 */
export function observe(previous: Observation | undefined, record: LeaseRecord, now: number): Observation {
  return previous && sameRecord(previous.record, record) ? previous : { record, observedAt: now };
}

/** When the observed holder's claim runs out, by this process's clock. */
export function expiresAt(observation: Observation): number {
  return observation.observedAt + observation.record.leaseDurationSeconds * 1000;
}

/** True when the Lease may be taken: nobody holds it, or its holder has not renewed for a lease duration. */
export function isFree(observation: Observation, now: number): boolean {
  return observation.record.holderIdentity === '' || expiresAt(observation) <= now;
}

/** Kubernetes MicroTime (RFC 3339 with microseconds), as the API server expects in a Lease. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** What `identity` does about the Lease it observed (undefined: there is no Lease). */
export function decide(observation: Observation | undefined, identity: string, leaseDurationMs: number, now: number): LeaseDecision {
  const stamp = microTime(now);
  const leaseDurationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  if (!observation) {
    return { action: 'create', record: { holderIdentity: identity, leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: 0 } };
  }
  const current = observation.record;
  if (current.holderIdentity === identity) {
    return { action: 'update', acquiring: false, record: { ...current, leaseDurationSeconds, renewTime: stamp } };
  }
  if (!isFree(observation, now)) {
    return { action: 'wait', holder: current.holderIdentity, expiresAt: expiresAt(observation) };
  }
  return {
    action: 'update',
    acquiring: true,
    record: { holderIdentity: identity, leaseDurationSeconds, acquireTime: stamp, renewTime: stamp, leaseTransitions: current.leaseTransitions + 1 },
  };
}

/**
 * True when a leader whose last successful renewal started at `lastRenewAt` must stop acting:
 * the renew deadline has passed. Others wait a whole lease duration from when they saw that
 * renewal, so the leader stops at least leaseDuration - renewDeadline before they may take over.
 */
export function renewDeadlinePassed(lastRenewAt: number, renewDeadlineMs: number, now: number): boolean {
  return now - lastRenewAt >= renewDeadlineMs;
}

/** The record that hands the Lease back: no holder, so the next candidate takes it at its next try. */
export function releaseRecord(current: LeaseRecord, now: number): LeaseRecord {
  const stamp = microTime(now);
  return { holderIdentity: '', leaseDurationSeconds: 1, acquireTime: stamp, renewTime: stamp, leaseTransitions: current.leaseTransitions };
}

/** What is wrong with a timing (client-go's rules); empty when it is usable. */
export function timingProblems(t: LeaseTiming): string[] {
  const problems: string[] = [];
  if (t.leaseDurationMs < 1000) problems.push('the lease duration must be at least 1s (a Lease counts whole seconds)');
  if (t.retryPeriodMs <= 0) problems.push('the retry period must be positive');
  if (t.leaseDurationMs <= t.renewDeadlineMs) problems.push('the lease duration must be longer than the renew deadline');
  if (t.renewDeadlineMs <= t.retryPeriodMs * JITTER_FACTOR) problems.push(`the renew deadline must be longer than ${JITTER_FACTOR} x the retry period`);
  return problems;
}
