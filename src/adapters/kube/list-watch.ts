// A list+watch cache of one collection, as client-go's reflector keeps one: LIST, then WATCH from the
// list's resourceVersion with bookmarks and a random 5-10 minute timeoutSeconds, after which it
// watches again from the last resourceVersion it saw. A 410 Gone (or an ERROR event) lists again,
// and that relist tells the handlers of every change it finds, deletes included. A broken watch is
// retried after a pause the owner chooses (the informer's backoff).
//
// Objects in the cache are REPLACED on every change and never mutated in place once cached: the
// rollout reconciler's ParseCache (controller/runtime/parse-cache.ts) keys its parses on object
// identity, so an object edited in place would keep a stale parse. An object whose resourceVersion
// did not change keeps its identity (and its parse) through a relist.
import { StringDecoder } from 'node:string_decoder';
import { KubeError, type KubeObject, type WatchEventType } from '../../ports/kube.ts';

/** What a list-watch needs of its client. */
export interface ListWatchSource {
  /** GET of the collection (through the client's rate limit). */
  list(path: string): Promise<unknown>;
  /** Opens a watch (not rate-limited); resolves with the response body once the server answers 200, rejects (KubeError) otherwise. */
  watch(path: string, signal: AbortSignal): Promise<AsyncIterable<Buffer | string>>;
}

export interface ListWatchOptions {
  /** The collection's path, e.g. /api/v1/namespaces/ns/pods. */
  path: string;
  labelSelector?: string;
  source: ListWatchSource;
  /** Readies an object from the server before it is cached (defaults, trimming); the object is new and not yet seen by anyone. */
  prepare: (obj: KubeObject) => void;
  /** Told of every change to the cache. */
  emit: (type: WatchEventType, obj: KubeObject) => void;
  /** Told when the watch or a relist fails; resolves when it may try again (its backoff), or rejects to stop trying. */
  failed: (err: unknown) => Promise<void>;
}

interface WatchEvent {
  type?: string;
  object?: KubeObject & { code?: number; message?: string; reason?: string };
}

/** client-go's reflector: a watch asks the server to end it after 5-10 minutes, spreading the re-watches. */
const watchTimeoutSeconds = () => 300 + Math.floor(Math.random() * 300);
/** A watch that ends sooner than this with no event at all is treated as a failure (no tight loop of re-watches). */
const QUICK_END_MS = 1000;

const keyOf = (obj: KubeObject) => ({ ns: obj.metadata?.namespace ?? '', name: obj.metadata?.name ?? '' });

export class ListWatch {
  private readonly opts: ListWatchOptions;
  private objects = new Map<string, Map<string, KubeObject>>();
  private resourceVersion = '';
  private stopped = false;
  private readonly abort = new AbortController();
  private running = false;

  constructor(opts: ListWatchOptions) {
    this.opts = opts;
  }

  get(namespace: string | undefined, name: string): KubeObject | undefined {
    return this.objects.get(namespace ?? '')?.get(name);
  }

  list(namespace?: string): KubeObject[] {
    if (namespace) return [...(this.objects.get(namespace)?.values() ?? [])];
    return [...this.objects.values()].flatMap((m) => [...m.values()]);
  }

  /** LIST into the cache; the handlers are told what changed since the cache's last state (deletes first). */
  async relist(): Promise<void> {
    const query = this.opts.labelSelector ? `?labelSelector=${encodeURIComponent(this.opts.labelSelector)}` : '';
    const list = (await this.opts.source.list(this.opts.path + query)) as { items?: KubeObject[]; metadata?: { resourceVersion?: string } };
    if (this.stopped) return;
    const items = list.items ?? [];
    const fresh = new Map<string, Set<string>>();
    for (const item of items) {
      const { ns, name } = keyOf(item);
      let names = fresh.get(ns);
      if (!names) fresh.set(ns, (names = new Set()));
      names.add(name);
    }
    for (const [ns, objects] of [...this.objects]) {
      for (const [name, old] of [...objects]) {
        if (fresh.get(ns)?.has(name)) continue;
        this.remove(ns, name);
        this.opts.emit('DELETED', old);
      }
    }
    for (const item of items) this.upsert(item);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  /** Watches from the last list until stopped: re-watches after a timeout, relists after a 410, pauses after a failure. */
  run(): void {
    if (this.running) return;
    this.running = true;
    void (async () => {
      while (!this.stopped) {
        try {
          if (!this.resourceVersion) await this.relist();
          if (this.stopped) break;
          await this.watchOnce();
        } catch (err) {
          if (this.stopped) break;
          if (err instanceof KubeError && err.status === 410) {
            this.resourceVersion = ''; // too old: list again, at once
            continue;
          }
          try {
            await this.opts.failed(err);
          } catch {
            break;
          }
        }
      }
    })();
  }

  /** Aborts the watch in flight; no timer or socket is left. A list in flight ends by itself and changes nothing. */
  stop(): void {
    this.stopped = true;
    this.abort.abort();
  }

  /** One watch, until the server ends it (resolves) or it breaks (rejects). */
  private async watchOnce(): Promise<void> {
    const params = new URLSearchParams({
      watch: 'true',
      resourceVersion: this.resourceVersion,
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(watchTimeoutSeconds()),
    });
    if (this.opts.labelSelector) params.set('labelSelector', this.opts.labelSelector);
    const mine = new AbortController();
    const signal = AbortSignal.any([this.abort.signal, mine.signal]);
    const started = Date.now();
    let events = 0;
    try {
      const body = await this.opts.source.watch(`${this.opts.path}?${params}`, signal);
      const decoder = new StringDecoder('utf8');
      let pending = '';
      for await (const chunk of body) {
        pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (!line || this.stopped) continue;
          let event: WatchEvent;
          try {
            event = JSON.parse(line) as WatchEvent;
          } catch {
            throw new Error(`watch ${this.opts.path}: an event that is not JSON: ${line.slice(0, 80)}`);
          }
          events++;
          this.handle(event);
        }
      }
    } finally {
      mine.abort(); // the response is done with, whichever way this ends
    }
    if (events === 0 && Date.now() - started < QUICK_END_MS && !this.stopped) throw new Error(`watch ${this.opts.path}: the server ended it at once`);
  }

  private handle(event: WatchEvent): void {
    const obj = event.object;
    if (event.type === 'ERROR') {
      this.resourceVersion = ''; // whatever went wrong, a fresh list is the way back
      const code = obj?.code ?? 0;
      if (code === 410) throw new KubeError(410, obj?.reason ?? 'Expired', `watch ${this.opts.path}: ${obj?.message ?? 'resourceVersion too old'}`);
      throw new KubeError(code, obj?.reason ?? 'Unknown', `watch ${this.opts.path}: ${obj?.message ?? 'an ERROR event'}`);
    }
    if (!obj?.metadata) return;
    switch (event.type) {
      case 'ADDED':
      case 'MODIFIED':
        this.upsert(obj);
        break;
      case 'DELETED': {
        const { ns, name } = keyOf(obj);
        if (this.remove(ns, name)) this.opts.emit('DELETED', obj);
        break;
      }
      case 'BOOKMARK':
        break; // only the resourceVersion moves on
      default:
        return;
    }
    this.resourceVersion = obj.metadata.resourceVersion ?? this.resourceVersion;
  }

  /** Caches a new object from the server in place of the one it replaces (never editing that one); an unchanged version is kept as is. */
  private upsert(obj: KubeObject): void {
    const { ns, name } = keyOf(obj);
    let objects = this.objects.get(ns);
    const found = objects?.get(name);
    const version = obj.metadata?.resourceVersion;
    if (found && version !== undefined && found.metadata?.resourceVersion === version) return;
    this.opts.prepare(obj);
    if (!objects) this.objects.set(ns, (objects = new Map()));
    objects.set(name, obj);
    this.opts.emit(found ? 'MODIFIED' : 'ADDED', obj);
  }

  private remove(ns: string, name: string): boolean {
    const objects = this.objects.get(ns);
    if (!objects?.delete(name)) return false;
    if (objects.size === 0) this.objects.delete(ns);
    return true;
  }
}
