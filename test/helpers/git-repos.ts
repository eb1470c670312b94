// Test support (not used by the controller): real git repositories in a temp directory,
// and a tiny HTTP git server (git http-backend as CGI behind node:http on 127.0.0.1, with
// optional basic auth). Every process and server started here is stopped by `close()`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run } from '../../src/adapters/git/run.ts';

export const GIT_HTTP_BACKEND = process.env.GIT_HTTP_BACKEND ?? '/usr/lib/git-core/git-http-backend';

const GIT_ENV: NodeJS.ProcessEnv = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: tmpdir(),
  LC_ALL: 'C',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'Test',
  GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test',
  GIT_COMMITTER_EMAIL: 'test@example.com',
};

export async function git(args: string[], cwd?: string): Promise<string> {
  const result = await run('git', args, { env: GIT_ENV, timeoutMs: 30_000, ...(cwd ? { cwd } : {}) });
  if (result.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout.toString('utf8').trim();
}

export type FileChange = string | Buffer | { symlink: string } | null;

/** A bare repository plus a working clone that commits and pushes like a person would. */
export class TestRepo {
  readonly bare: string;
  readonly work: string;
  readonly name: string;

  private constructor(bare: string, work: string, name: string) {
    this.bare = bare;
    this.work = work;
    this.name = name;
  }

  static async create(root: string, name = 'repo.git', branch = 'main'): Promise<TestRepo> {
    const bare = join(root, name);
    const work = join(root, `${name}-work`);
    await git(['init', '--bare', '--quiet', `--initial-branch=${branch}`, bare]);
    await git(['config', 'uploadpack.allowAnySHA1InWant', 'true'], bare);
    await git(['config', 'http.receivepack', 'true'], bare);
    await git(['init', '--quiet', `--initial-branch=${branch}`, work]);
    await git(['remote', 'add', 'origin', bare], work);
    return new TestRepo(bare, work, name);
  }

  get fileUrl(): string {
    return `file://${this.bare}`;
  }

  /** Writes (string/Buffer), symlinks or deletes (null) files, commits, pushes; returns the commit id. */
  async commit(files: Record<string, FileChange>, message = 'change', branch = 'main'): Promise<string> {
    for (const [path, change] of Object.entries(files)) {
      const full = join(this.work, path);
      await mkdir(dirname(full), { recursive: true });
      if (change === null) await rm(full, { force: true, recursive: true });
      else if (typeof change === 'object' && !Buffer.isBuffer(change)) {
        await unlink(full).catch(() => undefined);
        await symlink(change.symlink, full);
      } else await writeFile(full, change);
    }
    await git(['add', '--all'], this.work);
    await git(['commit', '--quiet', '--allow-empty', '-m', message], this.work);
    const sha = await git(['rev-parse', 'HEAD'], this.work);
    await git(['push', '--quiet', '--force', 'origin', `HEAD:refs/heads/${branch}`], this.work);
    return sha;
  }

  async tag(name: string, annotated = true): Promise<void> {
    await git(annotated ? ['tag', '-a', '-m', name, name] : ['tag', name], this.work);
    await git(['push', '--quiet', 'origin', `refs/tags/${name}`], this.work);
  }

  /** Makes the working clone match `ref` (e.g. a reset for a force push). */
  async resetTo(ref: string): Promise<void> {
    await git(['reset', '--quiet', '--hard', ref], this.work);
  }
}

export async function tempDir(prefix = 'sluice-git-'): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

export interface GitHttpServer {
  /** Base URL, e.g. http://127.0.0.1:PORT; a repository is at `${url}/${name}`. */
  url: string;
  /** Requests answered, by status code. */
  statuses: number[];
  /** Authorization headers seen (to check what the client sent). */
  authorizations: Array<string | undefined>;
  close(): Promise<void>;
}

/** Serves every bare repository under `root` over smart HTTP on 127.0.0.1. */
export async function startGitHttpServer(opts: { root: string; basicAuth?: { username: string; password: string }; bearer?: string }): Promise<GitHttpServer> {
  const children = new Set<ChildProcess>();
  const statuses: number[] = [];
  const authorizations: Array<string | undefined> = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    authorizations.push(req.headers.authorization);
    const reply = (status: number, headers: Record<string, string> = {}) => {
      statuses.push(status);
      res.writeHead(status, headers).end();
    };
    let user: string | undefined;
    if (opts.basicAuth || opts.bearer) {
      const header = req.headers.authorization ?? '';
      const basic = opts.basicAuth ? `Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString('base64')}` : undefined;
      const bearer = opts.bearer ? `Bearer ${opts.bearer}` : undefined;
      if (header !== basic && header !== bearer) {
        req.resume();
        return reply(401, { 'WWW-Authenticate': 'Basic realm="git"' });
      }
      user = opts.basicAuth?.username ?? 'token';
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: '127.0.0.1',
      ...(user ? { REMOTE_USER: user } : {}),
      ...(req.headers['git-protocol'] ? { GIT_PROTOCOL: String(req.headers['git-protocol']) } : {}),
      ...(req.headers['content-encoding'] ? { HTTP_CONTENT_ENCODING: String(req.headers['content-encoding']) } : {}),
      ...(req.headers['content-length'] ? { CONTENT_LENGTH: String(req.headers['content-length']) } : {}),
    };
    const child = spawn(GIT_HTTP_BACKEND, [], { env, stdio: ['pipe', 'pipe', 'ignore'] });
    children.add(child);
    child.on('close', () => children.delete(child));
    child.on('error', () => reply(500));
    req.pipe(child.stdin);
    child.stdin.on('error', () => {});
    let head = Buffer.alloc(0);
    let headersDone = false;
    child.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      let end = head.indexOf('\r\n\r\n');
      let sep = 4;
      if (end < 0) {
        end = head.indexOf('\n\n');
        sep = 2;
      }
      if (end < 0) return;
      headersDone = true;
      let status = 200;
      const headers: Record<string, string> = {};
      for (const line of head.subarray(0, end).toString('utf8').split(/\r?\n/)) {
        const colon = line.indexOf(':');
        if (colon < 0) continue;
        const key = line.slice(0, colon).trim();
        const value = line.slice(colon + 1).trim();
        if (key.toLowerCase() === 'status') status = Number(value.split(' ')[0]);
        else headers[key] = value;
      }
      statuses.push(status);
      res.writeHead(status, headers);
      res.write(head.subarray(end + sep));
    });
    child.stdout.on('end', () => {
      if (!headersDone) {
        statuses.push(502);
        res.writeHead(502);
      }
      res.end();
    });
  };
  const server: Server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    statuses,
    authorizations,
    close: async () => {
      for (const child of children) child.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const SSHD = process.env.SSHD ?? '/usr/sbin/sshd';

export interface SshGitServer {
  /** ssh://user@127.0.0.1:PORT — append the absolute path of a bare repository. */
  url: string;
  /** The known_hosts line of this server. */
  knownHosts: string;
  /** A private key the server accepts. */
  clientKey: string;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  const { createServer: createTcpServer } = await import('node:net');
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Starts sshd on 127.0.0.1 (needs the openssh-server package) accepting one generated key. */
export async function startSshGitServer(dir: string): Promise<SshGitServer> {
  const { userInfo } = await import('node:os');
  const { readFile } = await import('node:fs/promises');
  const user = userInfo().username;
  await mkdir(dir, { recursive: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')], { env: GIT_ENV, timeoutMs: 10_000 });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')], { env: GIT_ENV, timeoutMs: 10_000 });
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'client_key.pub')), { mode: 0o600 });
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  const port = await freePort();
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${join(dir, 'host_key')}`,
    'PidFile none',
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'StrictModes no',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    `AllowUsers ${user}`,
    'LogLevel INFO',
  ].join('\n');
  await writeFile(join(dir, 'sshd_config'), `${config}\n`);
  const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sshd did not start within 10s: ${log}`)), 10_000);
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString('utf8');
      if (/Server listening on 127\.0\.0\.1 port/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sshd exited (${code}): ${log}`));
    });
  });
  child.stderr.removeAllListeners('data');
  child.stderr.resume();
  child.removeAllListeners('exit');
  const hostPub = (await readFile(join(dir, 'host_key.pub'), 'utf8')).trim().split(' ').slice(0, 2).join(' ');
  return {
    url: `ssh://${user}@127.0.0.1:${port}`,
    knownHosts: `[127.0.0.1]:${port} ${hostPub}\n`,
    clientKey: await readFile(join(dir, 'client_key'), 'utf8'),
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
