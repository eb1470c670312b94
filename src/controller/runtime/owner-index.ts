// An index over an informer's cache, kept up to date from its change events, so a reconcile
// touches only its own objects (a Rollout's ReplicaSets, a ReplicaSet's pods) instead of scanning
// every object of the namespace. controller-runtime and client-go informers have indexers; the
// list-watch cache of the kube adapter (adapters/kube/list-watch.ts) has none, hence this small one.
import type { Informer, KubeObject } from '../../ports/kube.ts';

const objectKey = (obj: KubeObject) => `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;

export class OwnerIndex {
  private readonly informer: Informer;
  private readonly keysOf: (obj: KubeObject) => string[];
  /** index key -> object key -> object */
  private readonly byKey = new Map<string, Map<string, KubeObject>>();
  /** object key -> the index keys it is filed under */
  private readonly filed = new Map<string, string[]>();
  private built = false;

  /** `keysOf` gives the index keys of an object, e.g. the uids of its controller owners. */
  constructor(informer: Informer, keysOf: (obj: KubeObject) => string[]) {
    this.informer = informer;
    this.keysOf = keysOf;
    informer.onChange((type, obj) => {
      if (!this.built) return; // built from the cache on first use
      this.remove(obj);
      if (type !== 'DELETED') this.add(obj);
    });
  }

  /** The objects filed under `key`. */
  get(key: string): KubeObject[] {
    if (!this.built) this.build();
    return [...(this.byKey.get(key)?.values() ?? [])];
  }

  private build(): void {
    this.built = true;
    for (const obj of this.informer.list()) this.add(obj);
  }

  private add(obj: KubeObject): void {
    const id = objectKey(obj);
    const keys = this.keysOf(obj);
    this.filed.set(id, keys);
    for (const key of keys) {
      let entries = this.byKey.get(key);
      if (!entries) this.byKey.set(key, (entries = new Map()));
      entries.set(id, obj);
    }
  }

  private remove(obj: KubeObject): void {
    const id = objectKey(obj);
    for (const key of this.filed.get(id) ?? []) {
      const entries = this.byKey.get(key);
      entries?.delete(id);
      if (entries?.size === 0) this.byKey.delete(key);
    }
    this.filed.delete(id);
  }
}

/** The uid of an object's controller owner of `kind` (as index key), when it has one. */
export function controllerOwnerUid(obj: KubeObject, kind: string): string[] {
  const owner = (obj.metadata?.ownerReferences ?? []).find((r) => r.controller && r.kind === kind);
  return owner ? [owner.uid] : [];
}
