// An informer (a watch-fed cache of one kind) on our ListWatch: start() resolves only with a filled
// cache, errors are retried with backoff, watches ask for bookmarks, and the cache keeps only what
// the controller reads.
import type { Informer, InformerOptions, KubeObject, ResourceKind, WatchEventType } from '../../ports/kube.ts';
import { ListWatch, type ListWatchSource } from './list-watch.ts';

/** What an informer needs of its client. */
export interface InformerSource extends ListWatchSource {
  /** The collection's path, e.g. /api/v1/namespaces/ns/pods. */
  path: string;
  now: () => number;
  /** The pause before the next try after repeated errors: doubling from baseMs up to maxMs. */
  backoff: { baseMs: number; maxMs: number };
  onError?: (err: unknown) => void;
}

/**
 * What an informer keeps of each object: never managedFields (they are much of an object's size
 * and nothing reads them from a cache), and for some kinds less (the informer's `trim`). Done to
 * the object fresh from the server, before it is cached and before any handler sees it.
 */
function trimmed(obj: KubeObject, trim: ((o: KubeObject) => void) | undefined): void {
  if (obj.metadata) delete (obj.metadata as { managedFields?: unknown }).managedFields;
  trim?.(obj);
}

export function createInformer<T extends KubeObject>(source: InformerSource, kind: ResourceKind, opts: InformerOptions = {}): Informer<T> {
  const handlers: Array<(type: WatchEventType, obj: T) => void> = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  /** A pause that stop() cuts short. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        wake = undefined;
        resolve();
      }, ms);
      wake = () => {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      };
    });
  let errors = 0;
  let lastErrorAt = 0;
  const { baseMs, maxMs } = source.backoff;
  const lw = new ListWatch({
    path: source.path,
    ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
    source,
    prepare: (obj) => {
      obj.apiVersion ??= kind.apiVersion; // a list's items have neither
      obj.kind ??= kind.kind;
      trimmed(obj, opts.trim);
    },
    emit: (type, obj) => {
      for (const h of handlers) h(type, obj as T);
    },
    // After the first list, a failed watch or relist is retried after a pause: repeated errors
    // double it (with jitter) up to maxMs; a quiet spell resets it.
    failed: async (err) => {
      if (stopped) throw err;
      source.onError?.(err);
      const now = source.now();
      if (now - lastErrorAt > 2 * maxMs) errors = 0;
      lastErrorAt = now;
      errors++;
      await pause(Math.min(maxMs, baseMs * 2 ** (errors - 1)) * (0.9 + Math.random() * 0.2));
      if (stopped) throw err;
    },
  });
  let firstList: Promise<void> | undefined;
  return {
    // Resolves once the first list is in the cache, so reconciles never see an empty cache
    // (Services "missing"). Until it succeeds (API server starting, CRDs just installed), it tries
    // again with backoff and says why.
    start: () => {
      firstList ??= (async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            await lw.relist();
            break;
          } catch (err) {
            if (stopped) throw err;
            source.onError?.(err);
            await pause(Math.min(10_000, 500 * 2 ** attempt));
            if (stopped) throw err;
          }
        }
        if (!stopped) lw.run();
      })();
      return firstList;
    },
    stop: async () => {
      stopped = true;
      lw.stop();
      wake?.();
    },
    list: (namespace) => lw.list(namespace) as T[],
    get: (namespace, name) => lw.get(namespace, name) as T | undefined,
    onChange: (h) => handlers.push(h),
  };
}
