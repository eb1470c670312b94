// The live copies of what a commit declares, read for a sync: one LIST per kind and namespace
// when there are several, a GET each otherwise. `call` is the sync's request wrapper (deadline,
// and the core's classification of refusals).
import { describeRef, refKey, type DesiredObject } from '../../core/gitops/placement.ts';
import { KubeError, type KubeObject, type ResourceKind } from '../../ports/kube.ts';
import type { SyncContext } from './sync-phases.ts';

/**
 * Objects of one kind in one namespace: from this many on they are read with one LIST instead of
 * a GET each (a sync of 2,000 ConfigMaps: 1 request, not 2,000), when the sync's identity may
 * list them; else, and always for Secrets (never listed), a GET each.
 */
const LIST_FROM = 5;

export async function readLive(
  ctx: Pick<SyncContext, 'kube'>,
  objects: ReadonlyArray<DesiredObject>,
  call: <T>(what: string, fn: () => Promise<T>) => Promise<T>,
): Promise<Map<string, KubeObject | undefined>> {
  const groups = new Map<string, DesiredObject[]>();
  for (const d of objects) {
    const kind = d.resource as ResourceKind;
    const key = `${kind.apiVersion} ${kind.plural} ${d.ref.namespace ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), d]);
  }
  const live = new Map<string, KubeObject | undefined>();
  for (const group of groups.values()) {
    const first = group[0]!;
    const kind = first.resource as ResourceKind;
    if (group.length >= LIST_FROM && !(kind.apiVersion === 'v1' && kind.plural === 'secrets')) {
      const where = first.ref.namespace ? ` in namespace ${first.ref.namespace}` : '';
      const listed = await call(`list ${kind.plural}${where}`, async () => {
        try {
          return await ctx.kube.list(kind, first.ref.namespace);
        } catch (err) {
          if (err instanceof KubeError && err.status === 403) return undefined; // may get, not list: a GET each
          throw err;
        }
      });
      if (listed) {
        const byName = new Map(listed.map((o) => [o.metadata?.name, o]));
        for (const d of group) live.set(refKey(d.ref), byName.get(d.ref.name));
        continue;
      }
    }
    for (const d of group) {
      live.set(refKey(d.ref), await call(`get ${describeRef(d.ref)}`, () => ctx.kube.get(d.resource as ResourceKind, d.ref.namespace, d.ref.name)));
    }
  }
  return live;
}
