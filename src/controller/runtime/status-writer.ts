// The one status writer (Rollout, AnalysisRun, GitSync, and the kinds to come).
//
// A reconcile computes the whole status and hands it here once. The write is a merge patch of
// the status subresource from the status the reconcile read to the one it computed, guarded by
// the resourceVersion it read: if anyone wrote in between (a person's promote, an earlier write
// the cache has not shown yet), the API server answers 409 and nothing is overwritten; the
// caller looks again on fresh state. No write at all when nothing changed.
//
// An informer shows a write some milliseconds after it was made, and a reconcile woken in between
// (a pod became ready) would plan from the version the write replaced: its status write is doomed
// (409) and it would record that transition's Events again. So the writer keeps what each write
// returned until the cache moves past the version it replaced; `fresh` hands a reconcile that
// object instead of the stale copy. It never guesses an order between resourceVersions: the
// returned object is used only while the cache shows exactly the version the write replaced.
//
// The conflict rule, the same everywhere: 409 is a conflict (look again now); 422 is not — the
// API server refuses the status itself (too large, a value the schema refuses). That is written
// down once as a StatusWriteRejected condition (a small write that does pass) and retried slowly
// through a TerminalError, never at the queue's full rate.
import type { Condition } from '../../api/meta.ts';
import { mergePatchBetween } from '../../core/shared/merge-patch.ts';
import { STATUS_REJECTED_REQUEUE_MS } from '../../core/shared/requeue.ts';
import { KubeError, type KubeClient, type KubeObject, type ResourceKind } from '../../ports/kube.ts';
import { TerminalError } from './controller.ts';

export type StatusWrite = 'written' | 'unchanged' | 'conflict' | 'gone';

export const STATUS_REJECTED_CONDITION = 'StatusWriteRejected';
const MAX_REJECTION_MESSAGE = 1000;

type StatusHolder = KubeObject & { status?: unknown };

function statusOf(obj: StatusHolder): Record<string, unknown> {
  const status = obj.status;
  return typeof status === 'object' && status !== null && !Array.isArray(status) ? (status as Record<string, unknown>) : {};
}

/** The writer's own condition is never part of what a reconcile computes: a good write clears it. */
function withoutRejection(status: Record<string, unknown>): Record<string, unknown> {
  const conditions = status.conditions;
  if (!Array.isArray(conditions) || !conditions.some((c: Condition) => c?.type === STATUS_REJECTED_CONDITION)) return status;
  const left = conditions.filter((c: Condition) => c?.type !== STATUS_REJECTED_CONDITION);
  const { conditions: _dropped, ...rest } = status;
  return left.length ? { ...rest, conditions: left } : rest;
}

interface LastWrite {
  /** The resourceVersion the write replaced. */
  replaced: string;
  uid: string | undefined;
  returned: StatusHolder;
}

const keyOf = (kind: ResourceKind, namespace: string | undefined, name: string | undefined): string => `${kind.plural}/${namespace ?? ''}/${name ?? ''}`;

export class StatusWriter {
  private readonly kube: Pick<KubeClient, 'patch'>;
  private readonly now: () => Date;
  /** Per object: its last write, until the cache shows something other than what that write replaced. */
  private readonly lastWrites = new Map<string, LastWrite>();

  constructor(kube: Pick<KubeClient, 'patch'>, now: () => Date) {
    this.kube = kube;
    this.now = now;
  }

  /**
   * The object a reconcile should work from: `cached` (from an informer), or the object this
   * writer's last write of it returned, while the cache still shows the version that write replaced.
   */
  fresh<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string, cached: T | undefined): T | undefined {
    const key = keyOf(kind, namespace, name);
    const last = this.lastWrites.get(key);
    if (!last) return cached;
    const stale = cached !== undefined && cached.metadata?.resourceVersion === last.replaced && cached.metadata?.uid === last.uid;
    if (stale) return structuredClone(last.returned) as T;
    this.lastWrites.delete(key);
    return cached;
  }

  /**
   * Writes `next` as the status of `obj` (the object as the reconcile read it).
   * - 'unchanged': next equals what was read; nothing sent.
   * - 'written'
   * - 'conflict': someone wrote first; look again on fresh state.
   * - 'gone': the object was deleted meanwhile.
   * Throws a TerminalError (slow retry) when the API server refuses the status as invalid, and
   * the API's own error for anything else (retried with backoff).
   */
  async write(kind: ResourceKind, obj: StatusHolder, next: object): Promise<StatusWrite> {
    const before = statusOf(obj);
    const wanted = withoutRejection(next as Record<string, unknown>);
    const patch = mergePatchBetween(before, wanted);
    if (patch === undefined) return 'unchanged';
    try {
      const returned = await this.send(kind, obj, patch);
      this.remember(kind, obj, returned);
      return 'written';
    } catch (err) {
      if (!(err instanceof KubeError)) throw err;
      if (err.status === 409) return 'conflict';
      if (err.status === 404) return 'gone';
      if (err.status === 422) return this.reportRejection(kind, obj, before, err);
      throw err;
    }
  }

  private remember(kind: ResourceKind, obj: StatusHolder, returned: unknown): void {
    const key = keyOf(kind, obj.metadata?.namespace, obj.metadata?.name);
    const replaced = obj.metadata?.resourceVersion;
    const isObject = typeof returned === 'object' && returned !== null && (returned as StatusHolder).metadata?.resourceVersion;
    if (!replaced || !isObject) {
      this.lastWrites.delete(key);
      return;
    }
    const { managedFields: _m, ...metadata } = (returned as StatusHolder).metadata ?? {};
    this.lastWrites.set(key, { replaced, uid: obj.metadata?.uid, returned: { ...(returned as StatusHolder), metadata } });
  }

  private send(kind: ResourceKind, obj: StatusHolder, statusPatch: unknown): Promise<unknown> {
    const resourceVersion = obj.metadata?.resourceVersion;
    const body = { ...(resourceVersion ? { metadata: { resourceVersion } } : {}), status: statusPatch };
    return this.kube.patch(kind, obj.metadata?.namespace, obj.metadata?.name ?? '', body, { type: 'merge', subresource: 'status' });
  }

  /** Records why once (a condition, when that much can be written), then gives up until later. */
  private async reportRejection(kind: ResourceKind, obj: StatusHolder, before: Record<string, unknown>, err: KubeError): Promise<never> {
    const reason = err.message.length > MAX_REJECTION_MESSAGE ? `${err.message.slice(0, MAX_REJECTION_MESSAGE)}…` : err.message;
    const message = `The API server refused the computed status: ${reason}`;
    const conditions = Array.isArray(before.conditions) ? (before.conditions as Condition[]) : [];
    const existing = conditions.find((c) => c?.type === STATUS_REJECTED_CONDITION);
    if (existing?.message !== message) {
      const condition: Condition = {
        type: STATUS_REJECTED_CONDITION,
        status: 'True',
        reason: 'Invalid',
        message,
        lastTransitionTime: existing?.lastTransitionTime ?? this.now().toISOString(),
      };
      try {
        await this.send(kind, obj, { conditions: [...conditions.filter((c) => c?.type !== STATUS_REJECTED_CONDITION), condition] });
      } catch {
        // Even the condition does not pass (or someone wrote first): the log and metrics carry it.
      }
    }
    throw new TerminalError(message, STATUS_REJECTED_REQUEUE_MS);
  }
}
