// Leader election through a coordination.k8s.io/v1 Lease, as client-go's leaderelection runs it
// (the decisions are in core/shared/lease.ts): every retry period a candidate reads the Lease and
// takes it when it is free or its holder has not renewed for a lease duration; the leader renews
// it every retry period with a write guarded by the resourceVersion it last saw (a 409 means
// someone else moved it: read again). A leader whose renewal has not succeeded within the renew
// deadline, or which sees another holder, has lost: it stops at once and says so
// (onStoppedLeading), before anyone else may take the Lease. release() hands the Lease back on
// shutdown so the next candidate takes over at its next try instead of after a lease duration.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import {
  decide,
  leaseRecordOf,
  leaseSpecOf,
  observe,
  releaseRecord,
  renewDeadlinePassed,
  type LeaseRecord,
  type LeaseTiming,
  type Observation,
} from '../../core/shared/lease.ts';
import type { Clock } from '../../ports/clock.ts';
import { KubeError, kinds, type KubeClient, type KubeObject } from '../../ports/kube.ts';

export interface LeaderMetrics {
  leading(isLeader: boolean): void;
}

/** sluice_leader_is_leader (1 on the leader, 0 elsewhere) and sluice_leader_transitions_total. */
export function createLeaderMetrics(registry: Registry, lease: string): LeaderMetrics {
  const gauge = new Gauge({
    name: 'sluice_leader_is_leader',
    help: '1 while this process holds the leader-election Lease, else 0',
    labelNames: ['lease'],
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'sluice_leader_transitions_total',
    help: 'Times this process became leader (to="leader") or stopped being leader (to="follower")',
    labelNames: ['lease', 'to'],
    registers: [registry],
  });
  gauge.set({ lease }, 0);
  return {
    leading(isLeader) {
      gauge.set({ lease }, isLeader ? 1 : 0);
      transitions.inc({ lease, to: isLeader ? 'leader' : 'follower' });
    },
  };
}

/** The pod name (HOSTNAME in a pod) and a random suffix: a restarted process never claims its predecessor's Lease. */
export function holderIdentity(hostname: string): string {
  return `${hostname || 'sluice'}_${randomBytes(4).toString('hex')}`;
}

export interface LeaderElectionOptions {
  kube: Pick<KubeClient, 'get' | 'create' | 'patch'>;
  clock: Clock;
  logger: Logger;
  namespace: string;
  /** The Lease's name (--leader-elect-id). */
  name: string;
  identity: string;
  timing: LeaseTiming;
  metrics?: LeaderMetrics;
  /** This process holds the Lease: start acting. Called once at most. */
  onStartedLeading: () => void;
  /**
   * The Lease was lost: stop acting now. `taken`: another holder is in the Lease (it may already
   * act: stop without letting work in flight finish); else not renewed in time (nobody else may
   * lead before the lease duration runs out). Never called after release().
   */
  onStoppedLeading: (reason: string, taken: boolean) => void;
}

export class LeaderElector {
  private readonly opts: LeaderElectionOptions;
  private readonly log: Logger;
  private readonly lease: string;
  private observation: Observation | undefined;
  /** The Lease as last read or written: its resourceVersion guards the next write. */
  private cached: KubeObject | undefined;
  private leading = false;
  private lastRenewAt = 0;
  private stopped = false;
  private followed: string | undefined;
  private cancelTick: (() => void) | undefined;
  private cancelDeadline: (() => void) | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(opts: LeaderElectionOptions) {
    this.opts = opts;
    this.lease = `${opts.namespace}/${opts.name}`;
    this.log = opts.logger.child({ component: 'leader-election', identity: opts.identity, lease: this.lease });
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Tries at once, then every retry period. */
  start(): void {
    this.log.info({ leaseDurationMs: this.opts.timing.leaseDurationMs, renewDeadlineMs: this.opts.timing.renewDeadlineMs }, 'Waiting to become leader');
    this.schedule(0);
  }

  /**
   * Stops trying; when leading, hands the Lease back (no holder) so another candidate takes it
   * at its next try. Call it after the controllers have drained.
   */
  async release(): Promise<void> {
    this.stopped = true;
    this.cancelTick?.();
    await this.inFlight;
    this.cancelDeadline?.();
    if (!this.leading) return;
    this.setLeading(false);
    try {
      let lease = this.cached ?? (await this.read());
      for (let attempt = 0; lease && attempt < 2; attempt++) {
        const current = leaseRecordOf(lease);
        if (current.holderIdentity !== this.opts.identity) return;
        try {
          await this.write(lease, releaseRecord(current, this.now()));
          this.log.info('Released leadership');
          return;
        } catch (err) {
          if (!isConflict(err)) throw err;
          lease = await this.read();
        }
      }
    } catch (err) {
      this.log.warn({ err: messageOf(err) }, 'Cannot release the Lease; another replica takes over when it expires');
    }
  }

  private now(): number {
    return this.opts.clock.now().getTime();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.cancelTick = this.opts.clock.setTimer(ms, () => {
      this.cancelTick = undefined;
      this.inFlight = this.tick().finally(() => {
        this.inFlight = undefined;
        this.schedule(this.opts.timing.retryPeriodMs);
      });
    });
  }

  private async tick(): Promise<void> {
    try {
      if (this.leading && this.cached) {
        // the leader's fast path: renew on the Lease as we last wrote it
        const renewal = decide(this.observation, this.opts.identity, this.opts.timing.leaseDurationMs, this.now());
        if (renewal.action === 'update') {
          try {
            await this.claim(this.cached, renewal.record);
            return;
          } catch (err) {
            if (!isConflict(err)) throw err;
            this.log.debug('The Lease changed since our last renewal; reading it again');
          }
        }
      }
      const lease = await this.read();
      if (this.stopped && !this.leading) return;
      if (lease) this.observation = observe(this.observation, leaseRecordOf(lease), this.now());
      await this.acquireOrRenew(lease);
    } catch (err) {
      this.cached = undefined;
      if (this.stopped && !this.leading) return;
      if (isConflict(err)) this.log.debug({ err: messageOf(err) }, 'Someone else wrote the Lease first');
      else this.log.warn({ err: messageOf(err), leading: this.leading }, 'Cannot read or write the leader-election Lease; retrying');
    }
  }

  private async acquireOrRenew(lease: KubeObject | undefined): Promise<void> {
    const observation = lease ? this.observation : undefined;
    if (observation && this.leading && observation.record.holderIdentity !== this.opts.identity) {
      this.lose(`the Lease is held by ${observation.record.holderIdentity || 'nobody'}`, true);
      return;
    }
    const decision = decide(observation, this.opts.identity, this.opts.timing.leaseDurationMs, this.now());
    if (decision.action === 'wait') {
      this.cached = lease;
      if (this.followed !== decision.holder) {
        this.followed = decision.holder;
        this.log.info({ leader: decision.holder }, 'Following the leader');
      }
      return;
    }
    if (decision.action === 'update') {
      await this.claim(lease as KubeObject, decision.record);
      return;
    }
    const sentAt = this.now();
    const created = await this.opts.kube.create(kinds.lease, {
      apiVersion: kinds.lease.apiVersion,
      kind: kinds.lease.kind,
      metadata: { name: this.opts.name, namespace: this.opts.namespace },
      spec: leaseSpecOf(decision.record),
    });
    this.written(created, decision.record, sentAt);
  }

  /** Writes our claim guarded by `lease`'s resourceVersion. */
  private async claim(lease: KubeObject, record: LeaseRecord): Promise<void> {
    const sentAt = this.now();
    const written = await this.write(lease, record);
    this.written(written, record, sentAt);
  }

  private write(lease: KubeObject, record: LeaseRecord): Promise<KubeObject> {
    return this.opts.kube.patch(
      kinds.lease,
      this.opts.namespace,
      this.opts.name,
      { metadata: { resourceVersion: lease.metadata?.resourceVersion }, spec: leaseSpecOf(record) },
      { type: 'merge' },
    );
  }

  private read(): Promise<KubeObject | undefined> {
    return this.opts.kube.get(kinds.lease, this.opts.namespace, this.opts.name);
  }

  /** Our write went through: we hold the Lease as of `sentAt` (when the write left, the earliest it can have landed). */
  private written(lease: KubeObject, record: LeaseRecord, sentAt: number): void {
    this.cached = lease;
    this.observation = { record, observedAt: sentAt };
    this.lastRenewAt = sentAt;
    this.followed = undefined;
    this.armDeadline();
    if (!this.leading) {
      this.setLeading(true);
      this.log.info({ transitions: record.leaseTransitions }, 'Became leader');
      if (!this.stopped) this.opts.onStartedLeading();
    }
  }

  private armDeadline(): void {
    this.cancelDeadline?.();
    const due = this.lastRenewAt + this.opts.timing.renewDeadlineMs - this.now();
    this.cancelDeadline = this.opts.clock.setTimer(due, () => {
      this.cancelDeadline = undefined;
      if (this.leading && renewDeadlinePassed(this.lastRenewAt, this.opts.timing.renewDeadlineMs, this.now())) {
        this.lose(`the Lease was not renewed within the renew deadline (${this.opts.timing.renewDeadlineMs}ms)`, false);
      }
    });
  }

  private lose(reason: string, taken: boolean): void {
    if (!this.leading) return;
    this.stopped = true;
    this.cancelTick?.();
    this.cancelDeadline?.();
    this.setLeading(false);
    this.log.error({ reason, lastRenewal: new Date(this.lastRenewAt).toISOString() }, 'Lost leadership');
    this.opts.onStoppedLeading(reason, taken);
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.opts.metrics?.leading(leading);
  }
}

function isConflict(err: unknown): boolean {
  return err instanceof KubeError && err.status === 409;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
