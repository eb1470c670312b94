// Several controller replicas with leader election on one Lease: who leads (the replicas' own
// sluice_leader_is_leader metric and the Lease's holder), waiting for a leader, and the
// leadership intervals each process logged, to check that no two ever overlapped.
import { readFileSync } from 'node:fs';
import type { ControllerHandle } from './controller.ts';
import type { Kubectl } from './kubectl.ts';
import { waitFor } from './wait.ts';

export interface LeaseRef {
  namespace: string;
  id: string;
}

/** The flags of src/main.ts for leader election on `lease` (Kubernetes' default timing unless given). */
export function leaderElectionArgs(lease: LeaseRef, timing: { leaseDuration?: string; renewDeadline?: string; retryPeriod?: string } = {}): string[] {
  return [
    '--leader-elect',
    `--leader-elect-namespace=${lease.namespace}`,
    `--leader-elect-id=${lease.id}`,
    ...(timing.leaseDuration ? [`--leader-elect-lease-duration=${timing.leaseDuration}`] : []),
    ...(timing.renewDeadline ? [`--leader-elect-renew-deadline=${timing.renewDeadline}`] : []),
    ...(timing.retryPeriod ? [`--leader-elect-retry-period=${timing.retryPeriod}`] : []),
  ];
}

/** True when the replica runs and its metrics say it holds the Lease. */
export async function isLeader(ctl: ControllerHandle): Promise<boolean> {
  if (!ctl.isRunning()) return false;
  try {
    return /^sluice_leader_is_leader\{[^}]*\} 1$/m.test(await ctl.metrics());
  } catch {
    return false;
  }
}

export async function leaders(ctls: ControllerHandle[]): Promise<ControllerHandle[]> {
  const flags = await Promise.all(ctls.map(isLeader));
  return ctls.filter((_, i) => flags[i]);
}

/** Waits until exactly one replica leads (and it is not `not`); returns it. */
export async function waitForLeader(ctls: ControllerHandle[], describe: string, timeoutMs: number, not?: ControllerHandle): Promise<ControllerHandle> {
  return waitFor(
    describe,
    async () => {
      const now = await leaders(ctls);
      if (now.length > 1) throw Object.assign(new Error(`two leaders at once: ${now.map((c) => c.name).join(', ')}`), { fatal: true });
      return now.length === 1 && now[0] !== not ? now[0] : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  ) as Promise<ControllerHandle>;
}

export async function leaseHolder(k: Kubectl, lease: LeaseRef): Promise<string | undefined> {
  const r = await k.run(['get', 'lease', lease.id, '-n', lease.namespace, '-o', 'jsonpath={.spec.holderIdentity}']);
  return r.code === 0 ? r.stdout.trim() || undefined : undefined;
}

/** How many controller reconciles a replica has counted (0 for a replica that never reconciled). */
export async function reconcileCount(ctl: ControllerHandle): Promise<number> {
  let total = 0;
  for (const m of (await ctl.metrics()).matchAll(/^sluice_controller_reconcile_total\{[^}]*\} (\d+)$/gm)) total += Number(m[1]);
  return total;
}

export interface LeadershipInterval {
  replica: string;
  identity: string;
  from: number;
  /** When it stopped acting (drained, exited, killed); Infinity while it still leads. */
  to: number;
  how: string;
}

/**
 * The leadership intervals in a replica's log (one log file across its restarts). A run that
 * led and logged no end was killed: `killedAt` holds when the test's SIGKILLs returned.
 */
export function leadershipIntervals(ctl: ControllerHandle, killedAt: number[]): LeadershipInterval[] {
  const lines = readFileSync(ctl.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as { time: number; msg: string; identity?: string };
      } catch {
        return undefined;
      }
    })
    .filter((l) => l !== undefined);
  const out: LeadershipInterval[] = [];
  // a run that led and logged no end was killed: it stopped at the first kill after it became leader
  const killed = (from: number, fallback: number) => killedAt.find((t) => t >= from) ?? fallback;
  let open: LeadershipInterval | undefined;
  for (const l of lines) {
    if (l.msg === 'Starting Sluice controller' && open) {
      out.push({ ...open, to: killed(open.from, l.time), how: 'killed' });
      open = undefined;
    } else if (l.msg === 'Became leader') {
      open = { replica: ctl.name, identity: l.identity ?? '?', from: l.time, to: Infinity, how: 'leading' };
    } else if (open && (l.msg === 'Controllers stopped' || l.msg.startsWith('Exiting: leadership lost'))) {
      out.push({ ...open, to: l.time, how: l.msg });
      open = undefined;
    }
  }
  if (open) out.push(ctl.isRunning() ? open : { ...open, to: killed(open.from, Infinity), how: 'killed' });
  return out;
}

/** Throws when two leadership intervals overlap. */
export function assertNoOverlap(intervals: LeadershipInterval[]): void {
  const sorted = [...intervals].sort((a, b) => a.from - b.from);
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    const next = sorted[i]!;
    if (next.from < before.to) {
      throw new Error(
        `two leaders at once: ${before.replica} (${before.identity}) led until ${fmt(before.to)} (${before.how}), ` +
          `${next.replica} (${next.identity}) from ${fmt(next.from)}`,
      );
    }
  }
}

const fmt = (t: number) => (Number.isFinite(t) ? new Date(t).toISOString() : 'now');
