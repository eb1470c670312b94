// The one controller shell every controller runs in (Rollout, AnalysisRun, GitSync, and the ones
// to come), in the manner of controller-runtime:
// - informers feed keys (`namespace/name`) into a de-duplicating work queue; a reconcile is
//   level-based: it gets the key, never the event, and re-reads the current state itself;
// - each reconcile gets a child logger with `controller`, `namespace`, `name` and `reconcileID`;
// - the result is "done", "look again after N ms" (a computed requeue), a TerminalError (the
//   reconciler has recorded why, e.g. a condition: no retry, or a slow one), or any other error
//   (retried with per-key exponential backoff);
// - reconciles, errors and durations are counted per controller (ControllerMetrics);
// - stop() takes no more work, waits for the reconciles in flight, then stops the informers.
import type { Logger } from 'pino';
import type { Clock } from '../../ports/clock.ts';
import type { Informer, KubeObject, WatchEventType } from '../../ports/kube.ts';
import { noControllerMetrics, type ControllerMetrics } from './metrics.ts';
import { WorkQueue } from './queue.ts';

export interface ObjectKey {
  /** undefined for cluster-scoped objects. */
  namespace: string | undefined;
  name: string;
}

/** `namespace/name`, or `name` for a cluster-scoped object. */
export function keyOf(obj: KubeObject): string {
  const { namespace, name } = obj.metadata ?? {};
  return namespace ? `${namespace}/${name ?? ''}` : (name ?? '');
}

export function parseKey(key: string): ObjectKey {
  const slash = key.indexOf('/');
  return slash < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

/** The name of the object that controls `obj` (its controller owner reference of `kind`). */
export function controllerOwner(obj: KubeObject, kind: string): string | undefined {
  return (obj.metadata?.ownerReferences ?? []).find((r) => r.controller && r.kind === kind)?.name;
}

export interface ReconcileContext {
  log: Logger;
  reconcileID: number;
}

export type ReconcileResult = { requeueAfterMs?: number } | void;

export interface Reconciler {
  reconcile(key: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult>;
}

/**
 * A failure retrying cannot fix until something changes (an invalid spec, a status the API
 * server rejects): the reconciler has already told the user (a condition, an Event). No
 * backoff storm: the key is looked at again after `requeueAfterMs` (or on the next change).
 */
export class TerminalError extends Error {
  readonly requeueAfterMs: number | undefined;
  constructor(message: string, requeueAfterMs?: number) {
    super(message);
    this.name = 'TerminalError';
    this.requeueAfterMs = requeueAfterMs;
  }
}

/** Another informer whose changes concern some keys of this controller. */
export interface Watch {
  informer: Informer;
  keysFor: (obj: KubeObject, type: WatchEventType) => Iterable<string>;
}

export interface ControllerOptions {
  /** e.g. "rollout": the `controller` label of its logs and metrics. */
  name: string;
  reconciler: Reconciler;
  /** The kind this controller reconciles: every change queues its key; all keys are queued at start. */
  primary: Informer;
  /** Other caches whose changes map to keys (owned objects, referenced objects). */
  watches?: Watch[];
  /** Caches the reconciler reads without reacting to them (started and stopped with the controller). */
  caches?: Informer[];
  /** Skip primary events of this type (e.g. DELETED when the reconciler has nothing to do then). */
  ignore?: WatchEventType[];
  clock: Clock;
  logger: Logger;
  workers?: number;
  metrics?: ControllerMetrics;
  /** Overall reconciles per second (token bucket) and burst. */
  qps?: number;
  burst?: number;
}

export class Controller {
  readonly name: string;
  readonly queue: WorkQueue;
  private readonly opts: ControllerOptions;
  private readonly log: Logger;
  private readonly metrics: ControllerMetrics;
  private seq = 0;
  private started = false;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.name = opts.name;
    this.log = opts.logger.child({ controller: opts.name });
    this.metrics = opts.metrics ?? noControllerMetrics;
    this.queue = new WorkQueue((key) => this.reconcileKey(key), {
      workers: opts.workers ?? 4,
      clock: opts.clock,
      ...(opts.qps !== undefined ? { qps: opts.qps } : {}),
      ...(opts.burst !== undefined ? { burst: opts.burst } : {}),
      onAdd: () => this.metrics.added(opts.name),
      onError: (key, err, retryInMs) => {
        this.metrics.retried(opts.name);
        this.log.warn({ ...parseKey(key), err: messageOf(err), retryInMs }, 'Reconcile failed; retrying');
      },
    });
    this.metrics.watchQueue(opts.name, this.queue);
    const ignored = new Set(opts.ignore ?? []);
    // Changes seen before run() are not queued: a follower's caches stay warm without acting,
    // and run() looks at every primary object anyway.
    opts.primary.onChange((type, obj) => {
      if (this.started && !ignored.has(type)) this.queue.add(keyOf(obj));
    });
    for (const watch of opts.watches ?? []) {
      watch.informer.onChange((type, obj) => {
        if (!this.started) return;
        for (const key of watch.keysFor(obj, type)) this.queue.add(key);
      });
    }
  }

  private informers(): Informer[] {
    return [...new Set([this.opts.primary, ...(this.opts.watches ?? []).map((w) => w.informer), ...(this.opts.caches ?? [])])];
  }

  /**
   * Fills the caches (every replica can do this, leading or not). Resolves once all have listed.
   * Reconciles nothing until run().
   */
  async startCaches(): Promise<void> {
    await Promise.all(this.informers().map((i) => i.start()));
  }

  /** Starts reconciling: every object of the primary kind is looked at once. */
  run(): void {
    if (this.started) return;
    this.started = true;
    for (const obj of this.opts.primary.list()) this.queue.add(keyOf(obj));
  }

  async start(): Promise<void> {
    await this.startCaches();
    this.run();
  }

  /** No new reconciles; waits for those in flight; then stops the caches. */
  async stop(): Promise<void> {
    await this.queue.stop();
    await Promise.all(this.informers().map((i) => i.stop()));
  }

  private async reconcileKey(key: string): Promise<ReconcileResult> {
    const reconcileID = ++this.seq;
    const objectKey = parseKey(key);
    const log = this.log.child({ namespace: objectKey.namespace, name: objectKey.name, reconcileID });
    const started = performance.now();
    let outcome: 'success' | 'requeue' | 'terminal' | 'error' = 'error';
    try {
      const result = await this.opts.reconciler.reconcile(objectKey, { log, reconcileID });
      outcome = result?.requeueAfterMs !== undefined ? 'requeue' : 'success';
      return result;
    } catch (err) {
      if (err instanceof TerminalError) {
        outcome = 'terminal';
        log.warn({ err: err.message, retryInMs: err.requeueAfterMs }, 'Reconcile cannot proceed until something changes');
        return err.requeueAfterMs !== undefined ? { requeueAfterMs: err.requeueAfterMs } : undefined;
      }
      throw err;
    } finally {
      this.metrics.reconciled(this.name, outcome, (performance.now() - started) / 1000);
    }
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
