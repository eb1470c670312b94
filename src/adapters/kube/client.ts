// The KubeClient port on a real API server. Configuration and authentication come from our
// kubeconfig reader (kubeconfig.ts), the informers' caches from our list-watch (list-watch.ts);
// requests are plain REST over node:https, because the generated typed clients cannot reach
// subresources of custom resources or send every patch type with a field manager in one uniform
// call. Nothing here loads @kubernetes/client-node (most of the controller's memory when it did);
// kubeconfig.ts imports it only for a user it cannot authenticate itself.
import http from 'node:http';
import https from 'node:https';
import { createInformer } from './informer.ts';
import type { KubeAccess } from './kubeconfig.ts';
import { TokenBucket } from './rate-limit.ts';
import {
  KubeError,
  kinds,
  type Informer,
  type InformerOptions,
  type KubeClient,
  type KubeObject,
  type PatchOptions,
  type ResourceKind,
} from '../../ports/kube.ts';

const CONTENT_TYPE: Record<PatchOptions['type'], string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface RestOptions {
  timeoutMs?: number;
  userAgent?: string;
  /** Told when an informer cannot list or watch (it keeps trying). */
  onInformerError?: (kind: ResourceKind, err: unknown) => void;
  /** How long an informer waits before its next try after repeated errors: doubling from baseMs up to maxMs. */
  informerBackoff?: { baseMs: number; maxMs: number };
  /** How long resolveKind remembers that a kind is not served (a CRD may be installed later), and that it is. */
  discoveryTtlMs?: { missing: number; found: number };
  /** Told after every request with its verb, HTTP status (0: no answer) and duration (the API request metrics). */
  onRequest?: (verb: string, code: number, seconds: number) => void;
  /** For tests: milliseconds now. */
  now?: () => number;
  /** Client-side rate limit of requests (watches aside), as client-go's QPS and burst; 0 = none. */
  qps?: number;
  burst?: number;
  /** How long the authentication read from the kubeconfig is reused (a rotated token is read again after it). */
  authRefreshMs?: number;
}

/** A group/version as the API server accepts it: `v1`, `apps/v1`, `sluice.dev/v1alpha1`. */
const GROUP_VERSION = /^(?:(?=[^/]{1,253}\/)[a-z0-9]([-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A kind: a letter, then letters, digits or dashes (a CRD's kind lower-cased is a DNS-1035 label). */
const KIND = /^[A-Za-z]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$/;
/** One path segment (namespace, name, resource): never empty, `.` or `..`, which a URL would resolve. */
function segment(value: string, what: string): string {
  if (value === '' || value === '.' || value === '..' || /^%2e(%2e)?$/i.test(value) || value.length > 253) {
    throw new KubeError(400, 'Invalid', `${JSON.stringify(value.slice(0, 80))} is not a valid ${what}`);
  }
  return encodeURIComponent(value);
}

export { loadKubeConfig } from './kubeconfig.ts';

/** Who a client's requests impersonate (Kubernetes impersonation headers). */
interface Impersonation {
  user: string;
  groups: string[];
}

const IDLE_SOCKET_MS = 30_000;

export class RestKubeClient implements KubeClient {
  readonly config: KubeAccess;
  private impersonation: Impersonation | undefined;
  private readonly impersonating = new Map<string, RestKubeClient>();
  private readonly server: URL;
  private readonly opts: Required<Omit<RestOptions, 'onInformerError' | 'onRequest'>> & Pick<RestOptions, 'onInformerError'>;
  private readonly onRequest: RestOptions['onRequest'];
  private readonly discovered = new Map<string, { kind: ResourceKind | undefined; at: number }>();
  private requestOptions?: { options: Promise<https.RequestOptions>; at: number };
  private ownAgent?: { key: string; agent: http.Agent };
  /** Shared with the impersonating clients made from this one: one budget for the process. */
  private limiter: TokenBucket;
  /** Requests made, by verb: the benchmarks read API cost from here. */
  readonly requestCount: Record<string, number> = {};

  constructor(config: KubeAccess, opts: RestOptions = {}) {
    this.config = config;
    if (config.server === undefined) throw new Error('kubeconfig has no current cluster: set a current-context or pass --kubeconfig');
    this.server = new URL(config.server);
    this.onRequest = opts.onRequest;
    this.opts = {
      timeoutMs: opts.timeoutMs ?? 30_000,
      userAgent: opts.userAgent ?? 'sluice',
      informerBackoff: opts.informerBackoff ?? { baseMs: 1000, maxMs: 60_000 },
      discoveryTtlMs: opts.discoveryTtlMs ?? { missing: 30_000, found: 10 * 60_000 },
      now: opts.now ?? Date.now,
      qps: opts.qps ?? 50,
      burst: opts.burst ?? 100,
      authRefreshMs: opts.authRefreshMs ?? 60_000,
      ...(opts.onInformerError ? { onInformerError: opts.onInformerError } : {}),
    };
    this.limiter = new TokenBucket(this.opts.qps, this.opts.burst);
  }

  /**
   * The TLS options on a keep-alive agent (an Agent's default closes every connection, so every
   * request would open a new one and do a TLS handshake: most of the controller's CPU, and a round
   * trip more per request), made again only when they change (a rotated client certificate). The
   * agent client-node makes for a user it authenticates is replaced the same way; a proxy agent
   * is left as it is.
   */
  private keepAliveAgent(o: https.RequestOptions): https.RequestOptions['agent'] {
    const agent = o.agent;
    if (agent && agent.constructor !== https.Agent && agent.constructor !== http.Agent) return agent;
    const secure = agent ? agent.constructor === https.Agent : this.server.protocol === 'https:';
    const from = (agent ? ((agent as http.Agent & { options?: https.AgentOptions }).options ?? {}) : o) as https.AgentOptions;
    const options = Object.fromEntries(
      Object.entries({
        ca: from.ca,
        cert: from.cert,
        key: from.key,
        pfx: from.pfx,
        passphrase: from.passphrase,
        rejectUnauthorized: from.rejectUnauthorized,
        servername: from.servername,
      }).filter(([, v]) => v !== undefined),
    ) as https.AgentOptions;
    const key = JSON.stringify([secure, Object.entries(options).map(([k, v]) => [k, Buffer.isBuffer(v) ? v.toString('base64') : v])]);
    if (this.ownAgent?.key !== key) {
      const old = this.ownAgent?.agent;
      if (old) setTimeout(() => old.destroy(), IDLE_SOCKET_MS).unref(); // after the requests in flight on it
      // An idle connection is closed after IDLE_SOCKET_MS, before the API server would (a request
      // sent on a connection the server is closing fails).
      const alive = { ...options, keepAlive: true, timeout: from.timeout ?? IDLE_SOCKET_MS };
      this.ownAgent = { key, agent: secure ? new https.Agent(alive) : new http.Agent(alive) };
    }
    return this.ownAgent.agent;
  }

  /**
   * TLS and authentication from the kubeconfig, read again every authRefreshMs: an in-cluster
   * ServiceAccount token is rotated by the kubelet, and a token read once would expire.
   */
  private baseOptions(): Promise<https.RequestOptions> {
    const now = this.opts.now();
    if (!this.requestOptions || now - this.requestOptions.at >= this.opts.authRefreshMs) {
      const options = (async () => {
        const o: https.RequestOptions = { headers: {} };
        await this.config.applyToHTTPSOptions(o);
        o.agent = this.keepAliveAgent(o);
        return o;
      })();
      // A failed read is not kept: the next request tries again.
      options.catch(() => {
        if (this.requestOptions?.options === options) this.requestOptions = undefined;
      });
      this.requestOptions = { options, at: now };
    }
    return this.requestOptions.options;
  }

  /** The request path of a resource; every part is checked and encoded (a manifest's names never steer the request elsewhere). */
  path(kind: ResourceKind, namespace?: string, name?: string, subresource?: string): string {
    if (!GROUP_VERSION.test(kind.apiVersion)) throw new KubeError(400, 'Invalid', `${JSON.stringify(kind.apiVersion.slice(0, 80))} is not a valid apiVersion`);
    const base = kind.apiVersion.includes('/') ? `/apis/${kind.apiVersion}` : `/api/${kind.apiVersion}`;
    const ns = kind.namespaced && namespace ? `/namespaces/${segment(namespace, 'namespace')}` : '';
    const tail = `${name ? `/${segment(name, 'name')}` : ''}${subresource ? `/${segment(subresource, 'subresource')}` : ''}`;
    return `${base}${ns}/${segment(kind.plural, 'resource')}${tail}`;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<T> {
    this.requestCount[method] = (this.requestCount[method] ?? 0) + 1;
    await this.limiter.take();
    const base = await this.baseOptions();
    const url = new URL(path, this.server);
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const transport = url.protocol === 'https:' ? https : http;
    const started = performance.now();
    const observe = (code: number) => this.onRequest?.(method, code, (performance.now() - started) / 1000);
    return new Promise<T>((resolve, reject) => {
      const req = transport.request(
        url,
        {
          ...base,
          method,
          timeout: this.opts.timeoutMs,
          headers: {
            ...(base.headers as Record<string, string>),
            Accept: 'application/json',
            'User-Agent': this.opts.userAgent,
            ...this.impersonationHeaders(),
            ...(payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            observe(status);
            if (status >= 200 && status < 300) {
              try {
                resolve((text ? JSON.parse(text) : undefined) as T);
              } catch {
                reject(new KubeError(status, 'BadResponse', `${method} ${path}: response is not JSON`));
              }
              return;
            }
            reject(statusError(method, path, status, text));
          });
          res.on('error', (err) => reject(new KubeError(0, 'Unreachable', `${method} ${path}: ${err.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timed out after ${this.opts.timeoutMs}ms`)));
      req.on('error', (err) => {
        observe(0);
        reject(new KubeError(0, 'Unreachable', `${method} ${path}: ${err.message}`));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /** Impersonation headers of a client made by impersonating(): on requests and watches alike. */
  private impersonationHeaders(): Record<string, string | string[]> {
    const who = this.impersonation;
    if (!who) return {};
    return { 'Impersonate-User': who.user, ...(who.groups.length ? { 'Impersonate-Group': who.groups } : {}) };
  }

  /**
   * A watch: a GET over the same TLS, authentication and keep-alive agent as every request, not
   * rate-limited (as client-go's), resolving with the body once the server answers 200. The server
   * ends it at its timeoutSeconds; a connection silent for longer than that is given up.
   */
  private async watch(path: string, signal: AbortSignal): Promise<AsyncIterable<Buffer>> {
    const base = await this.baseOptions();
    const url = new URL(path, this.server);
    const timeout = (Number(url.searchParams.get('timeoutSeconds')) || 600) * 1000 + 60_000;
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = transport.request(
        url,
        {
          ...base,
          method: 'GET',
          signal,
          timeout,
          headers: {
            ...(base.headers as Record<string, string>),
            Accept: 'application/json',
            'User-Agent': this.opts.userAgent,
            ...this.impersonationHeaders(),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (status === 200) return resolve(res);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => reject(statusError('WATCH', url.pathname, status, Buffer.concat(chunks).toString('utf8'))));
          res.on('error', (err) => reject(new KubeError(0, 'Unreachable', `WATCH ${url.pathname}: ${err.message}`)));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no event for ${timeout / 1000} s`)));
      req.on('error', (err) => reject(new KubeError(0, 'Unreachable', `WATCH ${url.pathname}: ${err.message}`)));
      req.end();
    });
  }

  async get<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.request<T>('GET', this.path(kind, namespace, name));
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return undefined;
      throw err;
    }
  }

  async list<T extends KubeObject>(kind: ResourceKind, namespace?: string, labelSelector?: string): Promise<T[]> {
    const query = labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : '';
    const list = await this.request<{ items: T[] }>('GET', this.path(kind, namespace) + query);
    return list.items.map((item) => ({ apiVersion: kind.apiVersion, kind: kind.kind, ...item }));
  }

  create<T extends KubeObject>(kind: ResourceKind, obj: T, opts: { dryRun?: boolean; fieldManager?: string } = {}): Promise<T> {
    const params = new URLSearchParams();
    if (opts.dryRun) params.set('dryRun', 'All');
    if (opts.fieldManager) params.set('fieldManager', opts.fieldManager);
    const query = params.size ? `?${params}` : '';
    return this.request<T>('POST', this.path(kind, obj.metadata?.namespace) + query, obj);
  }

  async evict(namespace: string, name: string): Promise<void> {
    const eviction = { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } };
    await this.request('POST', this.path(kinds.pod, namespace, name, 'eviction'), eviction);
  }

  patch<T extends KubeObject>(kind: ResourceKind, namespace: string | undefined, name: string, body: unknown, opts: PatchOptions): Promise<T> {
    const params = new URLSearchParams();
    if (opts.fieldManager) params.set('fieldManager', opts.fieldManager);
    if (opts.force) params.set('force', 'true');
    if (opts.dryRun) params.set('dryRun', 'All');
    const query = params.size ? `?${params}` : '';
    return this.request<T>('PATCH', this.path(kind, namespace, name, opts.subresource) + query, body, CONTENT_TYPE[opts.type]);
  }

  async delete(
    kind: ResourceKind,
    namespace: string | undefined,
    name: string,
    opts: { propagationPolicy?: 'Foreground' | 'Background' | 'Orphan'; dryRun?: boolean } = {},
  ): Promise<void> {
    const params = new URLSearchParams();
    if (opts.dryRun) params.set('dryRun', 'All');
    const body = opts.propagationPolicy ? { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: opts.propagationPolicy } : undefined;
    await this.request('DELETE', this.path(kind, namespace, name) + (params.size ? `?${params}` : ''), body);
  }

  informer<T extends KubeObject>(kind: ResourceKind, opts: InformerOptions = {}): Informer<T> {
    return createInformer<T>(
      {
        path: this.path(kind, opts.namespace),
        list: (path) => this.request('GET', path),
        watch: (path, signal) => this.watch(path, signal),
        now: this.opts.now,
        backoff: this.opts.informerBackoff,
        ...(this.opts.onInformerError ? { onError: (err: unknown) => this.opts.onInformerError?.(kind, err) } : {}),
      },
      kind,
      opts,
    );
  }

  /**
   * A client whose every request carries Impersonate-User (and Impersonate-Group) headers: the
   * API server authorizes it as that user, e.g. system:serviceaccount:<ns>:<name> (for a
   * ServiceAccount without groups it adds the ServiceAccount groups itself). Requests only:
   * informers of the returned client do not impersonate. One client per identity is kept.
   */
  impersonate(user: string, groups: string[] = []): KubeClient {
    const key = JSON.stringify([user, groups]);
    let client = this.impersonating.get(key);
    if (!client) {
      client = new RestKubeClient(this.config, this.opts);
      client.impersonation = { user, groups: [...groups] };
      client.limiter = this.limiter;
      this.impersonating.set(key, client);
    }
    return client;
  }

  /**
   * Maps apiVersion+kind to its resource through discovery. Anything that is not a valid
   * group/version and kind is undefined without a request. A kind not served is remembered
   * for discoveryTtlMs.missing only, so a CRD installed after the controller started is found.
   */
  async resolveKind(apiVersion: string, kind: string): Promise<ResourceKind | undefined> {
    const known = Object.values(kinds).find((k) => k.apiVersion === apiVersion && k.kind === kind);
    if (known) return known;
    if (!GROUP_VERSION.test(apiVersion) || !KIND.test(kind)) return undefined;
    const key = `${apiVersion}/${kind}`;
    const now = this.opts.now();
    const cached = this.discovered.get(key);
    if (cached && now - cached.at < (cached.kind ? this.opts.discoveryTtlMs.found : this.opts.discoveryTtlMs.missing)) return cached.kind;
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    const remember = (resolved: ResourceKind | undefined) => {
      this.discovered.set(key, { kind: resolved, at: now });
      return resolved;
    };
    try {
      const list = await this.request<{ resources?: Array<{ name: string; kind: string; namespaced: boolean }> }>('GET', path);
      const found = (list.resources ?? []).find((r) => r.kind === kind && !r.name.includes('/'));
      return remember(found ? { apiVersion, kind, plural: found.name, namespaced: found.namespaced } : undefined);
    } catch (err) {
      if (err instanceof KubeError && err.status === 404) return remember(undefined);
      throw err;
    }
  }
}

/** The KubeError of an answer that is not 2xx: the Status object's reason and message, else the raw text. */
function statusError(method: string, path: string, status: number, text: string): KubeError {
  let reason = 'Unknown';
  let message = text.slice(0, 500);
  try {
    const parsed = JSON.parse(text) as { reason?: string; message?: string };
    reason = parsed.reason ?? reason;
    message = parsed.message ?? message;
  } catch {
    // not a Status object; keep the raw text
  }
  return new KubeError(status, reason, `${method} ${path}: ${status} ${message}`);
}
