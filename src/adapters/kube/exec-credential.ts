// kubeconfig `exec` credential plugins (client.authentication.k8s.io v1 and v1beta1), as kubectl
// runs them: the command with its args and env, KUBERNETES_EXEC_INFO describing the request (and
// the cluster, with provideClusterInfo), an ExecCredential on stdout. The credential is reused until
// shortly before its status.expirationTimestamp (forever without one, as client-node did). Errors name the plugin and carry its stderr;
// nothing the plugin prints on stdout (the token) ever goes into a message.
import { spawn } from 'node:child_process';

export const EXEC_API_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

/** A user's `exec` block of a kubeconfig. */
export interface ExecConfig {
  command: string;
  args?: string[];
  env?: Array<{ name: string; value: string }>;
  apiVersion?: string;
  installHint?: string;
  provideClusterInfo?: boolean;
}

/** What a plugin gives back: a bearer token, or a client certificate and key (PEM). */
export interface ExecResult {
  token?: string;
  cert?: string;
  key?: string;
}

/** How long a plugin may take before it is stopped (kubectl has no limit; a hung one would stall every request). */
const EXEC_TIMEOUT_MS = 60_000;
const STDERR_LIMIT = 2000;
/**
 * A credential is renewed this long before it expires: the REST client reuses what
 * applyToHTTPSOptions gave it for authRefreshMs (a minute), so one taken just before its expiry
 * would be sent after it.
 */
const RENEW_BEFORE_MS = 60_000;

interface Cached {
  result: Promise<ExecResult>;
  expires: number | undefined;
}

export class ExecCredentials {
  private readonly cache = new Map<string, Cached>();
  private readonly now: () => number;

  constructor(now: () => number = Date.now) {
    this.now = now;
  }

  /** The credential of `user`, from the cache while it has not expired, else from running the plugin. */
  get(user: string, exec: ExecConfig, cluster: Record<string, unknown> | undefined): Promise<ExecResult> {
    const key = JSON.stringify([user, exec]);
    const hit = this.cache.get(key);
    if (hit && (hit.expires === undefined || this.now() < hit.expires - RENEW_BEFORE_MS)) return hit.result;
    const entry: Cached = { result: Promise.resolve({}), expires: undefined };
    entry.result = run(user, exec, cluster).then(
      ({ result, expires }) => {
        entry.expires = expires;
        return result;
      },
      (err: unknown) => {
        if (this.cache.get(key) === entry) this.cache.delete(key); // a failure is not kept: the next request runs it again
        throw err;
      },
    );
    this.cache.set(key, entry);
    return entry.result;
  }
}

function run(user: string, exec: ExecConfig, cluster: Record<string, unknown> | undefined): Promise<{ result: ExecResult; expires: number | undefined }> {
  const apiVersion = exec.apiVersion ?? 'client.authentication.k8s.io/v1';
  const what = `exec credential plugin "${exec.command}" of user "${user}"`;
  const info = { apiVersion, kind: 'ExecCredential', spec: { interactive: false, ...(exec.provideClusterInfo && cluster ? { cluster } : {}) } };
  const env: NodeJS.ProcessEnv = { ...process.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) };
  for (const e of exec.env ?? []) env[e.name] = e.value;
  return new Promise((resolve, reject) => {
    const child = spawn(exec.command, exec.args ?? [], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Our own timer: spawn's `timeout` is left running when the command does not exist.
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, EXEC_TIMEOUT_MS).unref();
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < STDERR_LIMIT) err += c.toString('utf8');
    });
    const stderr = () => (err.trim() ? `: ${err.trim().slice(0, STDERR_LIMIT)}` : '');
    child.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === 'ENOENT') reject(new Error(`${what} not found (not a file, nor on PATH)${exec.installHint ? `; ${exec.installHint.trim()}` : ''}`));
      else reject(new Error(`${what} cannot run: ${e.message}`));
    });
    // After a failed start 'error' has rejected already (a promise settles once).
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        const how = timedOut ? `gave no answer in ${EXEC_TIMEOUT_MS / 1000} s` : signal ? `was stopped by ${signal}` : `failed with exit code ${code}`;
        return reject(new Error(`${what} ${how}${stderr()}`));
      }
      let cred: { apiVersion?: string; kind?: string; status?: Record<string, unknown> };
      try {
        cred = JSON.parse(Buffer.concat(out).toString('utf8')) as typeof cred;
      } catch {
        return reject(new Error(`${what} printed no ExecCredential (its output is not JSON)${stderr()}`));
      }
      if (cred?.kind !== 'ExecCredential' || cred.apiVersion !== apiVersion) {
        return reject(new Error(`${what} printed a ${cred?.apiVersion ?? '?'} ${cred?.kind ?? '?'}, not the ${apiVersion} ExecCredential it was asked for`));
      }
      const status = cred.status ?? {};
      const str = (k: string) => (typeof status[k] === 'string' && status[k] !== '' ? (status[k] as string) : undefined);
      const result: ExecResult = {};
      const token = str('token');
      const cert = str('clientCertificateData');
      const key = str('clientKeyData');
      if (token) result.token = token;
      if (cert && key) Object.assign(result, { cert, key });
      if (!token && !(cert && key)) return reject(new Error(`${what} gave neither a token nor a client certificate and key`));
      const at = str('expirationTimestamp');
      const expires = at === undefined ? undefined : Date.parse(at);
      if (expires !== undefined && Number.isNaN(expires)) return reject(new Error(`${what} gave an expirationTimestamp that is not a time: ${at}`));
      resolve({ result, expires });
    });
  });
}
