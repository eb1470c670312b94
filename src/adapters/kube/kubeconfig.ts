// The kubeconfig, read as kubectl reads it: --kubeconfig, else the files listed in $KUBECONFIG
// merged (the first file to name a cluster, user or context wins, and the first current-context),
// else ~/.kube/config, else the in-cluster ServiceAccount; --context picks another context. Our own
// reader, because @kubernetes/client-node's KubeConfig loads all of that library (every generated
// API, undici, openid-client: most of the controller's memory). A user or cluster this file does not
// handle (an auth-provider, a proxy-url, an exec plugin of another API version) is handed to
// client-node's KubeConfig, imported only then: those users keep working and pay its memory.
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { EXEC_API_VERSIONS, ExecCredentials, type ExecConfig } from './exec-credential.ts';

/** How the REST client reaches and authenticates to the API server. */
export interface KubeAccess {
  /** The current context's cluster's server URL; undefined when the current context names no known cluster. */
  readonly server: string | undefined;
  /** The current context's namespace, if it sets one. */
  readonly namespace: string | undefined;
  /** Every context, with its cluster (shell completion lists them). */
  readonly contexts: ReadonlyArray<{ name: string; cluster: string }>;
  /** TLS (ca, cert, key, rejectUnauthorized, servername) and authentication (headers, auth) for a request; may run a plugin. */
  applyToHTTPSOptions(o: https.RequestOptions): Promise<void>;
}

export interface KubeConfigOptions {
  /** A context of the kubeconfig to use instead of its current-context (kubectl's --context). */
  context?: string;
  /** For tests: the directory of the in-cluster ServiceAccount files. */
  serviceAccountDir?: string;
}

type Entry = Record<string, unknown>;
interface Context {
  cluster: string;
  user?: string;
  namespace?: string;
}
interface Merged {
  clusters: Map<string, Entry>;
  users: Map<string, Entry>;
  contexts: Map<string, Context>;
  currentContext?: string;
}

const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
const IN_CLUSTER = { cluster: 'inCluster', user: 'inClusterUser', context: 'inClusterContext' };
/** Fields holding a file path, resolved against the directory of the kubeconfig that names them (as kubectl does). */
const PATH_FIELDS = { clusters: ['certificate-authority'], users: ['client-certificate', 'client-key', 'tokenFile', 'token-file'] };

export function loadKubeConfig(path?: string, opts: KubeConfigOptions = {}): KubeAccess {
  const merged = read(path, opts.serviceAccountDir ?? SERVICE_ACCOUNT_DIR);
  if (opts.context !== undefined) {
    if (!merged.contexts.has(opts.context)) {
      const known = [...merged.contexts.keys()];
      throw new Error(`context "${opts.context}" not found in the kubeconfig (contexts: ${known.join(', ') || 'none'})`);
    }
    merged.currentContext = opts.context;
  }
  return new Kubeconfig(merged);
}

/** A kubeconfig from its text, as if read from a file in `dir` (tests; a kubeconfig held in memory). */
export function kubeconfigFromText(text: string, dir: string, opts: Pick<KubeConfigOptions, 'context'> = {}): KubeAccess {
  const merged = empty();
  mergeDocument(merged, parse(text) as unknown, dir, '(text)');
  if (opts.context !== undefined) merged.currentContext = opts.context;
  return new Kubeconfig(merged);
}

const empty = (): Merged => ({ clusters: new Map(), users: new Map(), contexts: new Map() });

function read(path: string | undefined, saDir: string): Merged {
  if (path) return readFiles([path]);
  // As kubectl does, files listed in $KUBECONFIG that do not exist are skipped.
  const listed = process.env.KUBECONFIG?.split(delimiter).filter(Boolean) ?? [];
  if (listed.length > 0) {
    const present = listed.filter((file) => existsSync(file));
    if (present.length === 0) throw new Error(`none of the files in KUBECONFIG exist: ${listed.join(', ')}`);
    return readFiles(present);
  }
  const home = process.env.HOME || homedir();
  const file = join(home, '.kube', 'config');
  if (home && existsSync(file)) return readFiles([file]);
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error('no kubeconfig found: set KUBECONFIG or --kubeconfig, or run the controller in a cluster');
  return inCluster(host, port, saDir);
}

function readFiles(files: string[]): Merged {
  const merged = empty();
  for (const file of files) {
    let doc: unknown;
    try {
      doc = parse(readFileSync(file, 'utf8')) as unknown;
    } catch (err) {
      throw new Error(`cannot read kubeconfig ${file}: ${(err as Error).message}`);
    }
    mergeDocument(merged, doc, dirname(resolve(file)), file);
  }
  return merged;
}

function mergeDocument(into: Merged, doc: unknown, dir: string, file: string): void {
  const fail = (what: string) => new Error(`cannot read kubeconfig ${file}: ${what}`);
  if (doc === null || doc === undefined) return; // an empty file
  if (typeof doc !== 'object' || Array.isArray(doc)) throw fail('it is not a YAML mapping');
  const d = doc as Record<string, unknown>;
  for (const [section, key] of [
    ['clusters', 'cluster'],
    ['users', 'user'],
    ['contexts', 'context'],
  ] as const) {
    const list = d[section] ?? [];
    if (!Array.isArray(list)) throw fail(`${section} is not a list`);
    list.forEach((item: unknown, i) => {
      const named = item as { name?: unknown } & Record<string, unknown>;
      if (!named || typeof named.name !== 'string' || named.name === '') throw fail(`${section}[${i}].name is missing`);
      const body = (named[key] ?? {}) as Entry;
      if (typeof body !== 'object' || Array.isArray(body)) throw fail(`${section}[${i}].${key} is not a mapping`);
      if (section === 'contexts') {
        if (typeof body.cluster !== 'string' || !body.cluster) throw fail(`contexts[${i}].context.cluster is missing`);
        if (!into.contexts.has(named.name)) into.contexts.set(named.name, contextOf(body));
        return;
      }
      if (section === 'clusters' && (typeof body.server !== 'string' || !body.server)) throw fail(`clusters[${i}].cluster.server is missing`);
      if (!into[section].has(named.name)) into[section].set(named.name, absolute(body, PATH_FIELDS[section], dir));
    });
  }
  const current = d['current-context'];
  if (!into.currentContext && typeof current === 'string' && current) into.currentContext = current;
}

function contextOf(body: Entry): Context {
  const ctx: Context = { cluster: String(body.cluster) };
  if (typeof body.user === 'string' && body.user) ctx.user = body.user;
  if (typeof body.namespace === 'string' && body.namespace) ctx.namespace = body.namespace;
  return ctx;
}

/** A copy of the entry with its relative paths (and an exec command given as a relative path) made absolute. */
function absolute(body: Entry, fields: string[], dir: string): Entry {
  const out: Entry = { ...body };
  for (const f of fields) if (typeof out[f] === 'string' && out[f] && !isAbsolute(out[f])) out[f] = join(dir, out[f]);
  const exec = out.exec as { command?: unknown } | undefined;
  if (exec && typeof exec.command === 'string' && exec.command.includes('/') && !isAbsolute(exec.command)) {
    out.exec = { ...exec, command: join(dir, exec.command) };
  }
  return out;
}

function inCluster(host: string, port: string, saDir: string): Merged {
  const token = join(saDir, 'token');
  if (!existsSync(token)) throw new Error(`in a cluster (KUBERNETES_SERVICE_HOST is set) but no ServiceAccount token at ${token}: is it mounted?`);
  const merged = empty();
  merged.clusters.set(IN_CLUSTER.cluster, { server: `https://${isIPv6(host) ? `[${host}]` : host}:${port}`, 'certificate-authority': join(saDir, 'ca.crt') });
  // The kubelet rotates the token in the file; it is read again for every applyToHTTPSOptions.
  merged.users.set(IN_CLUSTER.user, { tokenFile: token });
  const ctx: Context = { cluster: IN_CLUSTER.cluster, user: IN_CLUSTER.user };
  const nsFile = join(saDir, 'namespace');
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : '';
  if (namespace) ctx.namespace = namespace;
  merged.contexts.set(IN_CLUSTER.context, ctx);
  merged.currentContext = IN_CLUSTER.context;
  return merged;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : typeof v === 'number' ? String(v) : undefined);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);

/** A file's bytes, else base64 data (the file first, as client-node did). */
function bytes(file: unknown, data: unknown, what: string): Buffer | undefined {
  const path = str(file);
  if (path) {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`cannot read the ${what} ${path}: ${(err as Error).message}`);
    }
  }
  const b64 = str(data);
  return b64 ? Buffer.from(b64, 'base64') : undefined;
}

class Kubeconfig implements KubeAccess {
  private readonly merged: Merged;
  private readonly execs = new ExecCredentials();
  private fallback: Promise<{ applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }> | undefined;

  constructor(merged: Merged) {
    this.merged = merged;
  }

  private get context(): Context | undefined {
    return this.merged.currentContext === undefined ? undefined : this.merged.contexts.get(this.merged.currentContext);
  }
  private get cluster(): Entry | undefined {
    const ctx = this.context;
    return ctx && this.merged.clusters.get(ctx.cluster);
  }
  private get user(): Entry | undefined {
    const name = this.context?.user;
    return name === undefined ? undefined : this.merged.users.get(name);
  }

  get server(): string | undefined {
    return str(this.cluster?.server)?.replace(/\/$/, '');
  }
  get namespace(): string | undefined {
    return this.context?.namespace;
  }
  get contexts(): Array<{ name: string; cluster: string }> {
    return [...this.merged.contexts].map(([name, c]) => ({ name, cluster: c.cluster }));
  }

  /** Whether this user or cluster needs something only client-node does. */
  private needsClientNode(cluster: Entry, user: Entry): boolean {
    const exec = user.exec as { apiVersion?: unknown } | undefined;
    return (
      user['auth-provider'] !== undefined || cluster['proxy-url'] !== undefined || (exec !== undefined && !EXEC_API_VERSIONS.includes(String(exec.apiVersion)))
    );
  }

  async applyToHTTPSOptions(o: https.RequestOptions): Promise<void> {
    const cluster = this.cluster;
    if (!cluster) throw new Error('kubeconfig has no current cluster: set a current-context or pass --kubeconfig');
    const user = this.user ?? {};
    if (this.needsClientNode(cluster, user)) return (await this.clientNode(cluster, user)).applyToHTTPSOptions(o);
    const headers = (o.headers ??= {}) as Record<string, string | string[]>;
    if (cluster['insecure-skip-tls-verify'] === true) o.rejectUnauthorized = false;
    const servername = str(cluster['tls-server-name']);
    if (servername) o.servername = servername;
    const ca = bytes(cluster['certificate-authority'], cluster['certificate-authority-data'], 'certificate authority');
    if (ca) o.ca = ca;
    const cert = bytes(user['client-certificate'], user['client-certificate-data'], 'client certificate');
    const key = bytes(user['client-key'], user['client-key-data'], 'client key');
    if (cert) o.cert = cert;
    if (key) o.key = key;
    if (user.exec) {
      const name = this.context?.user ?? '';
      const got = await this.execs.get(
        name,
        user.exec as ExecConfig,
        user.exec && (user.exec as ExecConfig).provideClusterInfo ? clusterInfo(cluster, ca) : undefined,
      );
      if (got.cert && got.key) Object.assign(o, { cert: got.cert, key: got.key });
      if (got.token) headers.Authorization = `Bearer ${got.token}`;
    }
    const tokenFile = str(user.tokenFile) ?? str(user['token-file']);
    const token = str(user.token) ?? (tokenFile ? readToken(tokenFile) : undefined);
    if (token) headers.Authorization = `Bearer ${token}`;
    const username = str(user.username);
    if (username) o.auth = `${username}:${str(user.password) ?? ''}`;
    // Impersonation set in the kubeconfig (kubectl's --as, --as-group, --as-uid).
    const as = str(user.as);
    if (as) headers['Impersonate-User'] = as;
    const groups = strings(user['as-groups']);
    if (groups.length) headers['Impersonate-Group'] = groups;
    const uid = str(user['as-uid']);
    if (uid) headers['Impersonate-Uid'] = uid;
    const extra = (user['as-user-extra'] ?? {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(extra)) headers[`Impersonate-Extra-${encodeURIComponent(k)}`] = strings(v);
  }

  /** client-node's KubeConfig for this context alone (paths already absolute), loaded on first use. */
  private clientNode(cluster: Entry, user: Entry): Promise<{ applyToHTTPSOptions(o: https.RequestOptions): Promise<void> }> {
    this.fallback ??= (async () => {
      const { KubeConfig } = await import('@kubernetes/client-node');
      const kc = new KubeConfig();
      const ctx = this.context as Context;
      const userName = ctx.user ?? 'user';
      // client-node reads `token-file` where kubectl writes `tokenFile`.
      const userBody = user.tokenFile && !user['token-file'] ? { ...user, 'token-file': user.tokenFile } : user;
      kc.loadFromString(
        JSON.stringify({
          clusters: [{ name: ctx.cluster, cluster }],
          users: [{ name: userName, user: userBody }],
          contexts: [{ name: 'current', context: { cluster: ctx.cluster, user: userName } }],
          'current-context': 'current',
        }),
      );
      return kc;
    })();
    this.fallback.catch(() => (this.fallback = undefined));
    return this.fallback;
  }
}

function readToken(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new Error(`cannot read the token file ${file}: ${(err as Error).message}`);
  }
}

/** The cluster as an exec plugin is told of it (ExecCredential spec.cluster). */
function clusterInfo(cluster: Entry, ca: Buffer | undefined): Record<string, unknown> {
  const extensions = Array.isArray(cluster.extensions) ? (cluster.extensions as Array<{ name?: string; extension?: unknown }>) : [];
  const config = extensions.find((e) => e.name === 'client.authentication.k8s.io/exec')?.extension;
  return {
    server: cluster.server,
    ...(cluster['tls-server-name'] ? { 'tls-server-name': cluster['tls-server-name'] } : {}),
    ...(cluster['insecure-skip-tls-verify'] === true ? { 'insecure-skip-tls-verify': true } : {}),
    ...(ca ? { 'certificate-authority-data': ca.toString('base64') } : {}),
    ...(config !== undefined ? { config } : {}),
  };
}
