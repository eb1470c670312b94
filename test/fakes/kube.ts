// An in-memory KubeClient for fast tests: resource versions, generations, the status
// subresource, merge / JSON / apply patches, optimistic concurrency, informers fed by
// the same store, and owner-reference garbage collection. Server-side apply is modelled
// as a merge of the applied object (no field ownership); real SSA is proven in e2e.
import {
  KubeError,
  kinds,
  type Informer,
  type KubeClient,
  type KubeObject,
  type PatchOptions,
  type ResourceKind,
  type WatchEventType,
} from '../../src/ports/kube.ts';

type Handler = (type: WatchEventType, obj: KubeObject) => void;

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return structuredClone(patch);
  const base: Record<string, unknown> =
    typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
    if (value === null) delete base[key];
    else base[key] = mergePatch(base[key], value);
  }
  return base;
}

function jsonPatch(doc: unknown, ops: Array<{ op: string; path: string; value?: unknown }>): unknown {
  const root = structuredClone(doc) as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() as string;
    let node: any = root;
    for (const p of parts) node = node?.[p];
    if (node === undefined) throw new KubeError(422, 'Invalid', `json patch path ${op.path} not found`);
    if (op.op === 'test') {
      if (JSON.stringify(node[last]) !== JSON.stringify(op.value)) throw new KubeError(422, 'Invalid', `json patch test failed at ${op.path}`);
    } else if (op.op === 'remove') {
      if (Array.isArray(node)) node.splice(Number(last), 1);
      else delete node[last];
    } else if (op.op === 'add' && Array.isArray(node)) {
      node.splice(last === '-' ? node.length : Number(last), 0, op.value);
    } else {
      node[last] = structuredClone(op.value);
    }
  }
  return root;
}

/** Like the API server, a Secret's stringData is folded into data (base64) and never stored. */
function foldStringData(secret: { data?: Record<string, string>; stringData?: Record<string, string> }): void {
  if (!secret.stringData) return;
  secret.data = { ...secret.data };
  for (const [k, v] of Object.entries(secret.stringData)) secret.data[k] = Buffer.from(v, 'utf8').toString('base64');
  delete secret.stringData;
}

/** Like the API server, fill in a few pod defaults, so templates read back differ from what was sent. */
function defaultPodTemplate(template: any): void {
  if (!template?.spec) return;
  template.spec.dnsPolicy ??= 'ClusterFirst';
  template.spec.restartPolicy ??= 'Always';
  for (const c of template.spec.containers ?? []) {
    c.imagePullPolicy ??= 'IfNotPresent';
    c.terminationMessagePath ??= '/dev/termination-log';
  }
}

const keyOf = (kind: ResourceKind, ns: string | undefined, name: string) => `${kind.apiVersion}/${kind.plural}/${kind.namespaced ? (ns ?? '') : ''}/${name}`;

export interface FakeKubeOptions {
  now?: () => Date;
}

export class FakeKube implements KubeClient {
  private readonly store = new Map<string, { kind: ResourceKind; obj: KubeObject }>();
  private readonly handlers = new Map<string, Handler[]>();
  private rv = 1;
  private uid = 1;
  /** Every write, in order: "verb kind ns/name[/sub]". Tests count API calls with it. */
  readonly writes: string[] = [];
  /** Fails the next matching requests: e.g. failNext.push({verb: 'patch', plural: 'replicasets', status: 500}). */
  readonly failNext: Array<{ verb: string; plural?: string; status: number }> = [];
  private readonly now: () => Date;

  constructor(opts: FakeKubeOptions = {}) {
    this.now = opts.now ?? (() => new Date());
  }

  private maybeFail(verb: string, kind: ResourceKind): void {
    const i = this.failNext.findIndex((f) => f.verb === verb && (!f.plural || f.plural === kind.plural));
    if (i >= 0) {
      const f = this.failNext.splice(i, 1)[0]!;
      throw new KubeError(f.status, 'Injected', `injected ${f.status} on ${verb} ${kind.plural}`);
    }
  }

  private emit(kind: ResourceKind, type: WatchEventType, obj: KubeObject): void {
    for (const h of this.handlers.get(kind.plural) ?? []) h(type, structuredClone(obj));
  }

  async get<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string): Promise<T | undefined> {
    this.maybeFail('get', kind);
    const e = this.store.get(keyOf(kind, namespace, name));
    return e ? (structuredClone(e.obj) as T) : undefined;
  }

  /** Synchronous read for assertions. */
  peek<T extends KubeObject = KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string): T | undefined {
    const e = this.store.get(keyOf(kind, namespace, name));
    return e ? (structuredClone(e.obj) as T) : undefined;
  }

  all<T extends KubeObject = KubeObject>(kind: ResourceKind, namespace?: string): T[] {
    return [...this.store.values()]
      .filter(
        (e) => e.kind.plural === kind.plural && e.kind.apiVersion === kind.apiVersion && (namespace === undefined || e.obj.metadata?.namespace === namespace),
      )
      .map((e) => structuredClone(e.obj) as T);
  }

  async list<T extends KubeObject>(kind: ResourceKind, namespace?: string, labelSelector?: string): Promise<T[]> {
    this.maybeFail('list', kind);
    const wanted = (labelSelector ?? '')
      .split(',')
      .filter(Boolean)
      .map((s) => s.split('='));
    return this.all<T>(kind, namespace).filter((o) => wanted.every(([k, v]) => o.metadata?.labels?.[k as string] === v));
  }

  /** Namespaces being deleted: as the API server does, nothing new may be created in them. */
  private readonly terminating = new Set<string>();

  /** What deleting a Namespace does: no new objects in it, every object in it deleted (finalizers hold theirs). */
  async terminateNamespace(namespace: string): Promise<void> {
    this.terminating.add(namespace);
    for (const e of [...this.store.values()]) {
      if (e.kind.namespaced && e.obj.metadata?.namespace === namespace)
        await this.delete(e.kind, namespace, e.obj.metadata?.name as string).catch(() => undefined);
    }
  }

  /** Objects left in a namespace (a deleted Namespace is gone once this is empty). */
  remaining(namespace: string): string[] {
    return [...this.store.values()].filter((e) => e.obj.metadata?.namespace === namespace).map((e) => `${e.kind.kind}/${e.obj.metadata?.name}`);
  }

  async create<T extends KubeObject>(kind: ResourceKind, obj: T, opts: { dryRun?: boolean } = {}): Promise<T> {
    this.maybeFail('create', kind);
    const targetNamespace = kind.namespaced ? obj.metadata?.namespace : undefined;
    if (targetNamespace !== undefined && this.terminating.has(targetNamespace)) {
      throw new KubeError(
        403,
        'Forbidden',
        `${kind.plural} is forbidden: unable to create new content in namespace ${targetNamespace} because it is being terminated`,
      );
    }
    const name =
      obj.metadata?.name ?? (typeof obj.metadata?.generateName === 'string' ? `${obj.metadata.generateName}${(this.uid + 1000).toString(36)}` : undefined);
    if (!name) throw new KubeError(422, 'Invalid', 'metadata.name: Required value');
    const ns = kind.namespaced ? obj.metadata?.namespace : undefined;
    const key = keyOf(kind, ns, name);
    if (this.store.has(key)) throw new KubeError(409, 'AlreadyExists', `${kind.plural} "${name}" already exists`);
    const created = structuredClone(obj) as KubeObject;
    created.apiVersion = kind.apiVersion;
    created.kind = kind.kind;
    created.metadata = {
      ...created.metadata,
      name,
      uid: `uid-${this.uid++}`,
      resourceVersion: String(this.rv++),
      generation: 1,
      creationTimestamp: this.now().toISOString(),
    };
    if (ns !== undefined) created.metadata.namespace = ns;
    if (kind.plural === 'replicasets') defaultPodTemplate((created as { spec?: { template?: any } }).spec?.template);
    if (kind.plural === 'secrets') foldStringData(created as { stringData?: Record<string, string> });
    if (opts.dryRun) return created as T;
    this.store.set(key, { kind, obj: created });
    this.writes.push(`create ${kind.plural} ${ns ?? ''}/${name}`);
    this.emit(kind, 'ADDED', created);
    return structuredClone(created) as T;
  }

  async patch<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string, body: unknown, opts: PatchOptions): Promise<T> {
    this.maybeFail('patch', kind);
    const key = keyOf(kind, namespace, name);
    const existing = this.store.get(key);
    if (!existing) {
      if (opts.type === 'apply' && !opts.subresource) {
        const obj = { ...(body as KubeObject), metadata: { ...(body as KubeObject).metadata, name, namespace } };
        return this.create(kind, obj as T, { dryRun: opts.dryRun ?? false });
      }
      throw new KubeError(404, 'NotFound', `${kind.plural} "${name}" not found`);
    }
    const before = existing.obj;
    const requestedRv = (body as KubeObject | undefined)?.metadata?.resourceVersion;
    if (opts.type !== 'json' && requestedRv !== undefined && requestedRv !== before.metadata?.resourceVersion) {
      throw new KubeError(409, 'Conflict', `the object has been modified; please apply your changes to the latest version and try again`);
    }
    let after: KubeObject;
    if (opts.type === 'json') after = jsonPatch(before, body as Array<{ op: string; path: string; value?: unknown }>) as KubeObject;
    else after = mergePatch(before, body) as KubeObject;
    if (opts.subresource === 'status') {
      after = { ...before, status: after.status };
    } else if (opts.subresource === 'scale') {
      const replicas = (body as { spec?: { replicas?: number } }).spec?.replicas;
      after = { ...before, spec: { ...(before.spec as object), replicas } };
    } else if (kind.plural !== 'pods' && kind.plural !== 'services' && 'status' in before) {
      after = { ...after, status: before.status }; // the main resource ignores status when a status subresource exists
    }
    after.metadata = { ...after.metadata, name, uid: before.metadata?.uid, creationTimestamp: before.metadata?.creationTimestamp } as KubeObject['metadata'];
    if (kind.plural === 'secrets') foldStringData(after as { stringData?: Record<string, string> });
    const specChanged = JSON.stringify(before.spec) !== JSON.stringify(after.spec);
    after.metadata!.generation = (before.metadata?.generation ?? 1) + (specChanged ? 1 : 0);
    if (JSON.stringify(before) === JSON.stringify({ ...after, metadata: { ...after.metadata, resourceVersion: before.metadata?.resourceVersion } })) {
      return structuredClone(before) as T; // no-op writes do not bump the resource version
    }
    after.metadata!.resourceVersion = String(this.rv++);
    if (opts.dryRun) return after as T;
    this.store.set(key, { kind, obj: after });
    this.writes.push(`patch ${kind.plural} ${namespace ?? ''}/${name}${opts.subresource ? `/${opts.subresource}` : ''}`);
    if (after.metadata?.deletionTimestamp && (after.metadata.finalizers ?? []).length === 0) {
      this.store.delete(key);
      this.emit(kind, 'DELETED', after);
      this.collectGarbage(after.metadata.uid);
    } else {
      this.emit(kind, 'MODIFIED', after);
    }
    return structuredClone(after) as T;
  }

  /** An eviction: fails as injected with failNext ({verb: 'evict'}, e.g. 429 for a PodDisruptionBudget), else deletes the pod. */
  async evict(namespace: string, name: string): Promise<void> {
    this.maybeFail('evict', kinds.pod);
    if (!this.store.has(keyOf(kinds.pod, namespace, name))) throw new KubeError(404, 'NotFound', `pods "${name}" not found`);
    this.writes.push(`evict pods ${namespace}/${name}`);
    const writes = this.writes.length;
    await this.delete(kinds.pod, namespace, name);
    this.writes.splice(writes, 1); // recorded as the eviction it is
  }

  async delete(kind: ResourceKind, namespace: string | undefined, name: string, opts: { dryRun?: boolean } = {}): Promise<void> {
    this.maybeFail('delete', kind);
    const key = keyOf(kind, namespace, name);
    const existing = this.store.get(key);
    if (!existing) throw new KubeError(404, 'NotFound', `${kind.plural} "${name}" not found`);
    if (opts.dryRun) return;
    this.writes.push(`delete ${kind.plural} ${namespace ?? ''}/${name}`);
    if ((existing.obj.metadata?.finalizers ?? []).length > 0) {
      if (!existing.obj.metadata?.deletionTimestamp) {
        existing.obj = structuredClone(existing.obj);
        existing.obj.metadata!.deletionTimestamp = this.now().toISOString();
        existing.obj.metadata!.resourceVersion = String(this.rv++);
        this.emit(kind, 'MODIFIED', existing.obj);
      }
      return;
    }
    this.store.delete(key);
    this.emit(kind, 'DELETED', existing.obj);
    this.collectGarbage(existing.obj.metadata?.uid);
  }

  private collectGarbage(ownerUid: string | undefined): void {
    if (!ownerUid) return;
    for (const e of [...this.store.values()]) {
      if (e.obj.metadata?.ownerReferences?.some((r) => r.uid === ownerUid)) {
        void this.delete(e.kind, e.obj.metadata?.namespace, e.obj.metadata?.name as string);
      }
    }
  }

  informer<T extends KubeObject>(kind: ResourceKind, opts: { namespace?: string } = {}): Informer<T> {
    const handlers: Array<(type: WatchEventType, obj: T) => void> = [];
    let started = false;
    const list = this.handlers.get(kind.plural) ?? [];
    this.handlers.set(kind.plural, list);
    const relay: Handler = (type, obj) => {
      if (!started) return;
      if (opts.namespace && obj.metadata?.namespace !== opts.namespace) return;
      for (const h of handlers) h(type, obj as T);
    };
    list.push(relay);
    return {
      start: async () => {
        started = true;
      },
      stop: async () => {
        started = false;
      },
      list: (namespace) => this.all<T>(kind, namespace ?? opts.namespace),
      get: (namespace, name) => this.peek<T>(kind, namespace, name),
      onChange: (h) => handlers.push(h),
    };
  }

  async resolveKind(apiVersion: string, kind: string): Promise<ResourceKind | undefined> {
    return Object.values(kinds).find((k) => k.apiVersion === apiVersion && k.kind === kind);
  }

  /** Every request made through impersonate(), in order: "user verb plural ns/name" (verb `patch` with dryRun is `dry-run`). */
  readonly impersonated: string[] = [];
  /** What an impersonated user may do (default: everything); a refusal is a 403, worded as the API server's. */
  authorize: (user: string, verb: string, kind: ResourceKind, namespace: string | undefined) => boolean = () => true;

  /** A client whose requests are recorded as `user`'s and checked with `authorize`; the store is this one. */
  impersonate(user: string): KubeClient {
    return new ImpersonatingView(this, user);
  }
}

class ImpersonatingView implements KubeClient {
  private readonly fake: FakeKube;
  private readonly user: string;
  constructor(fake: FakeKube, user: string) {
    this.fake = fake;
    this.user = user;
  }
  private check(verb: string, kind: ResourceKind, namespace: string | undefined, name = ''): void {
    this.fake.impersonated.push(`${this.user} ${verb} ${kind.plural} ${namespace ?? ''}/${name}`);
    if (this.fake.authorize(this.user, verb === 'dry-run' ? 'patch' : verb, kind, namespace)) return;
    const where = kind.namespaced ? ` in the namespace "${namespace ?? ''}"` : ' at the cluster scope';
    throw new KubeError(403, 'Forbidden', `${kind.plural} "${name}" is forbidden: User "${this.user}" cannot ${verb} resource "${kind.plural}"${where}`);
  }
  get<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string): Promise<T | undefined> {
    this.check('get', kind, namespace, name);
    return this.fake.get<T>(kind, namespace, name);
  }
  list<T extends KubeObject>(kind: ResourceKind, namespace?: string, labelSelector?: string): Promise<T[]> {
    this.check('list', kind, namespace);
    return this.fake.list<T>(kind, namespace, labelSelector);
  }
  create<T extends KubeObject>(kind: ResourceKind, obj: T, opts?: { dryRun?: boolean }): Promise<T> {
    this.check('create', kind, obj.metadata?.namespace, obj.metadata?.name);
    return this.fake.create<T>(kind, obj, opts);
  }
  patch<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string, body: unknown, opts: PatchOptions): Promise<T> {
    this.check(opts.dryRun ? 'dry-run' : 'patch', kind, namespace, name);
    return this.fake.patch<T>(kind, namespace, name, body, opts);
  }
  delete(kind: ResourceKind, namespace: string | undefined, name: string, opts?: { dryRun?: boolean }): Promise<void> {
    this.check('delete', kind, namespace, name);
    return this.fake.delete(kind, namespace, name, opts);
  }
  evict(namespace: string, name: string): Promise<void> {
    this.check('create', kinds.pod, namespace, `${name}/eviction`);
    return this.fake.evict(namespace, name);
  }
  informer<T extends KubeObject>(kind: ResourceKind, opts?: { namespace?: string }): Informer<T> {
    return this.fake.informer<T>(kind, opts);
  }
  resolveKind(apiVersion: string, kind: string): Promise<ResourceKind | undefined> {
    return this.fake.resolveKind(apiVersion, kind);
  }
}
