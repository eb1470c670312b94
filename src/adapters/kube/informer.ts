// An informer (a watch-fed cache of one kind) on @kubernetes/client-node's ListWatch: start()
// resolves only with a filled cache, errors are retried with backoff, watches ask for bookmarks,
// and the cache keeps only what the controller reads.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { Informer, InformerOptions, KubeObject, ResourceKind, WatchEventType } from '../../ports/kube.ts';

/** What an informer needs of its client. */
export interface InformerSource {
  config: KubeConfig;
  /** The collection's path, e.g. /api/v1/namespaces/ns/pods. */
  path: string;
  /** GET of a path (the list); goes through the client's rate limit. */
  list: (path: string) => Promise<unknown>;
  now: () => number;
  /** The pause before the next try after repeated errors: doubling from baseMs up to maxMs. */
  backoff: { baseMs: number; maxMs: number };
  onError?: (err: unknown) => void;
}

/** Watches that ask for bookmarks, so a reconnect resumes from a recent resourceVersion instead of relisting. */
class BookmarkingWatch extends Watch {
  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
  }
}

/**
 * What an informer keeps of each object: never managedFields (they are much of an object's size
 * and nothing reads them from a cache), and for some kinds less (the informer's `trim`). The
 * cache holds the object the event handlers get, so trimming it here trims the cache.
 */
function trimInPlace(obj: KubernetesObject, trim: ((o: KubernetesObject) => void) | undefined): void {
  if (obj.metadata) delete (obj.metadata as { managedFields?: unknown }).managedFields;
  trim?.(obj);
}

export function createInformer<T extends KubeObject>(source: InformerSource, kind: ResourceKind, opts: InformerOptions = {}): Informer<T> {
  const path = source.path;
  const listFn = async () => {
    const query = opts.labelSelector ? `?labelSelector=${encodeURIComponent(opts.labelSelector)}` : '';
    const list = (await source.list(path + query)) as { items: KubernetesObject[]; metadata: { resourceVersion: string } };
    for (const item of list.items) {
      item.apiVersion ??= kind.apiVersion;
      item.kind ??= kind.kind;
    }
    return list as never;
  };
  const handlers: Array<(type: WatchEventType, obj: T) => void> = [];
  let lw: ListWatch<KubernetesObject> | undefined;
  const emit = (type: WatchEventType) => (obj: KubernetesObject) => {
    if (type !== 'DELETED') trimInPlace(obj, opts.trim as ((o: KubernetesObject) => void) | undefined);
    for (const h of handlers) h(type, obj as T);
  };
  let firstList: Promise<void> | undefined;
  let stopped = false;
  return {
    // Resolves once the first list is in the cache. (ListWatch's 'connect' fires before the
    // list, so waiting on it would let reconciles see an empty cache: Services "missing".)
    start: () => {
      firstList ??= (async () => {
        const watcher = new ListWatch(path, new BookmarkingWatch(source.config), listFn, false, opts.labelSelector);
        lw = watcher;
        watcher.on('add', emit('ADDED'));
        watcher.on('update', emit('MODIFIED'));
        watcher.on('delete', emit('DELETED'));
        let synced = false;
        let failure: unknown;
        let errors = 0;
        let lastErrorAt = 0;
        const { baseMs, maxMs } = source.backoff;
        watcher.on('error', (err) => {
          if (!synced) {
            failure = err;
            return;
          }
          // ListWatch stops on an error; start it again after a pause so the cache heals
          // (it resumes from its resourceVersion, or lists again after a 410). Repeated
          // errors double the pause (with jitter) up to maxMs; a quiet spell resets it.
          source.onError?.(err);
          const now = source.now();
          if (now - lastErrorAt > 2 * maxMs) errors = 0;
          lastErrorAt = now;
          errors++;
          const delay = Math.min(maxMs, baseMs * 2 ** (errors - 1)) * (0.9 + Math.random() * 0.2);
          setTimeout(() => {
            if (!stopped) void watcher.start().catch(() => undefined);
          }, delay).unref();
        });
        // Until the first list succeeds (API server starting, CRDs just installed), try again
        // with backoff and say why; start() resolves only with a filled cache.
        for (let attempt = 0; ; attempt++) {
          failure = undefined;
          await watcher.start();
          if (failure === undefined) break;
          if (stopped) throw failure instanceof Error ? failure : new Error(String(failure));
          source.onError?.(failure);
          await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** attempt)));
        }
        synced = true;
      })();
      return firstList;
    },
    stop: async () => {
      stopped = true;
      await lw?.stop();
    },
    list: (namespace) => (lw?.list(namespace) ?? []) as T[],
    get: (namespace, name) => lw?.get(name, namespace) as T | undefined,
    onChange: (h) => handlers.push(h),
  };
}
