// GitClient over the git CLI (execution without a shell, a deadline on every call).
//
// - One bare repository per GitSync under `cacheDir/repos/`, fetched into a private ref;
//   files are read from Git objects (ls-tree + cat-file), never from a checkout, so a
//   symlink in the repository cannot make us read the controller's file system: a symlink
//   is followed only to a file inside the same commit.
// - Credentials: username/password through a GIT_ASKPASS helper that echoes environment
//   variables of the git process; a bearer token through http.extraHeader set in the
//   environment (GIT_CONFIG_*), never on the command line (visible in ps) or in the URL;
//   ssh keys and known_hosts in 0600 files of a private temp directory, removed after the
//   call, with StrictHostKeyChecking=yes. No user or system git config is read.
// - Only the https, http, ssh and (when allowed) file transports are enabled.
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, posix } from 'node:path';
import {
  GitError,
  type FetchRequest,
  type FetchResult,
  type GitAuth,
  type GitClient,
  type GitErrorReason,
  type GitRefSpec,
  type ReadRequest,
  type RepoFile,
} from '../../ports/git.ts';
import { run, type RunResult } from './run.ts';

export interface CliGitOptions {
  /** Where repositories are cached (created if missing); the controller needs it writable. */
  cacheDir: string;
  /** The git executable (default "git" on PATH). */
  gitBinary?: string;
  /** Accept file:// URLs (tests, local development). Default false. */
  allowFileUrls?: boolean;
}

const FETCH_REF = 'refs/sluice/fetched';
const MAX_SYMLINK_HOPS = 8;

const ASKPASS_SCRIPT = `#!/bin/sh
# Answers git's credential prompts from the environment of the git process (set by Sluice).
case "$1" in
  Username*) printf '%s\\n' "$SLUICE_GIT_USERNAME" ;;
  *) printf '%s\\n' "$SLUICE_GIT_PASSWORD" ;;
esac
`;

type UrlKind = 'https' | 'http' | 'ssh' | 'file';

export class CliGitClient implements GitClient {
  private readonly cacheDir: string;
  private readonly git: string;
  private readonly allowFileUrls: boolean;
  private readonly locks = new Map<string, Promise<unknown>>();
  private ready: Promise<void> | undefined;

  constructor(opts: CliGitOptions) {
    this.cacheDir = opts.cacheDir;
    this.git = opts.gitBinary ?? 'git';
    this.allowFileUrls = opts.allowFileUrls ?? false;
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(join(this.cacheDir, 'repos'), { recursive: true, mode: 0o700 });
      await mkdir(join(this.cacheDir, 'home'), { recursive: true, mode: 0o700 });
      await mkdir(join(this.cacheDir, 'tmp'), { recursive: true, mode: 0o700 });
      await writeFile(this.askpassPath, ASKPASS_SCRIPT, { mode: 0o700 });
      await chmod(this.askpassPath, 0o700);
    })();
    return this.ready;
  }

  private get askpassPath(): string {
    return join(this.cacheDir, 'askpass.sh');
  }

  private repoDir(key: string): string {
    const slug = key.replace(/[^A-Za-z0-9.-]+/g, '_').slice(0, 80);
    const digest = createHash('sha256').update(key).digest('hex').slice(0, 12);
    return join(this.cacheDir, 'repos', `${slug}-${digest}`);
  }

  /** Serialises work per key (a GitSync is never reconciled twice at once, but be safe). */
  private async withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(key, settled);
    try {
      return await next;
    } finally {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    }
  }

  private baseEnv(): NodeJS.ProcessEnv {
    return {
      PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
      HOME: join(this.cacheDir, 'home'),
      LC_ALL: 'C', // English messages, which classifyFailure reads
      LANG: 'C',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_TERMINAL_PROMPT: '0',
      GIT_ASKPASS: '/bin/false',
      SSH_ASKPASS: '/bin/false',
      GIT_LITERAL_PATHSPECS: '1',
      GIT_PROTOCOL_FROM_USER: '0',
    };
  }

  private baseConfig(): string[] {
    const transports = ['https', 'http', 'ssh', ...(this.allowFileUrls ? ['file'] : [])];
    return [
      '-c',
      'protocol.allow=never',
      ...transports.flatMap((t) => ['-c', `protocol.${t}.allow=always`]),
      '-c',
      'credential.helper=',
      '-c',
      'core.hooksPath=/dev/null',
      '-c',
      'gc.autoDetach=false',
      '-c',
      'fetch.recurseSubmodules=false',
    ];
  }

  private async runGit(
    args: string[],
    opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; input?: Buffer | string; maxStdoutBytes?: number },
  ): Promise<RunResult> {
    try {
      return await run(this.git, [...this.baseConfig(), ...args], {
        env: { ...this.baseEnv(), ...opts.env },
        timeoutMs: opts.timeoutMs,
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        ...(opts.maxStdoutBytes !== undefined ? { maxStdoutBytes: opts.maxStdoutBytes } : {}),
      });
    } catch (err) {
      throw new GitError('GitFailed', `cannot run ${this.git}: ${(err as Error).message}`);
    }
  }

  async fetch(req: FetchRequest): Promise<FetchResult> {
    await this.init();
    const kind = checkUrl(req.url, req.auth, this.allowFileUrls);
    return this.withLock(req.key, async () => {
      const dir = await this.ensureRepo(req.key, req.url, req.timeoutMs);
      const { env, cleanup } = await this.authEnv(kind, req.auth, req.timeoutMs);
      const secrets = secretsOf(req.auth);
      try {
        const refName = describeRef(req.ref);
        if (req.ref.commit) {
          const have = await this.runGit(['-C', dir, 'cat-file', '-e', `${req.ref.commit}^{commit}`], { timeoutMs: req.timeoutMs });
          if (have.code === 0) return { commit: req.ref.commit, resolvedRef: req.ref.commit };
        }
        const refspec = req.ref.branch
          ? `+refs/heads/${req.ref.branch}:${FETCH_REF}`
          : req.ref.tag
            ? `+refs/tags/${req.ref.tag}:${FETCH_REF}`
            : req.ref.commit
              ? `+${req.ref.commit}:${FETCH_REF}`
              : `+HEAD:${FETCH_REF}`;
        const fetchArgs = ['-C', dir, ...this.authConfig(req.auth), 'fetch', '--no-tags', '--no-recurse-submodules', '--quiet', '--', req.url, refspec];
        let result = await this.runGit(fetchArgs, { env, timeoutMs: req.timeoutMs });
        if (result.code !== 0 && req.ref.commit && classifyFailure(result) === 'RefNotFound') {
          // Servers that refuse fetching a commit by id: fetch every branch and tag, then look for it.
          result = await this.runGit(
            [
              '-C',
              dir,
              ...this.authConfig(req.auth),
              'fetch',
              '--no-tags',
              '--quiet',
              '--',
              req.url,
              '+refs/heads/*:refs/sluice/heads/*',
              '+refs/tags/*:refs/sluice/tags/*',
            ],
            { env, timeoutMs: req.timeoutMs },
          );
          if (result.code === 0) {
            const have = await this.runGit(['-C', dir, 'cat-file', '-e', `${req.ref.commit}^{commit}`], { timeoutMs: req.timeoutMs });
            if (have.code !== 0) throw new GitError('RefNotFound', `commit ${req.ref.commit} is not in any branch or tag of ${req.url}`);
            return { commit: req.ref.commit, resolvedRef: req.ref.commit };
          }
        }
        if (result.code !== 0) throw fetchError(result, req.url, refName, secrets, req.timeoutMs);
        const parsed = await this.runGit(['-C', dir, 'rev-parse', '--verify', '--quiet', `${FETCH_REF}^{commit}`], { timeoutMs: req.timeoutMs });
        const commit = parsed.stdout.toString('utf8').trim();
        if (parsed.code !== 0 || !/^[0-9a-f]{40,64}$/.test(commit)) {
          throw new GitError('RefNotFound', `${refName} of ${req.url} does not point to a commit`);
        }
        return { commit, resolvedRef: refName };
      } finally {
        await cleanup();
      }
    });
  }

  private async ensureRepo(key: string, url: string, timeoutMs: number): Promise<string> {
    const dir = this.repoDir(key);
    const marker = join(dir, 'sluice-url');
    const current = await readFile(marker, 'utf8').catch(() => undefined);
    if (current === url) return dir;
    // New, or the URL changed: start from an empty repository so nothing of the old remote is trusted.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const init = await this.runGit(['init', '--bare', '--quiet', '--template=', dir], { timeoutMs });
    if (init.code !== 0) throw new GitError('GitFailed', `cannot create the repository cache: ${firstLines(init.stderr, [])}`);
    await writeFile(marker, url);
    return dir;
  }

  private authConfig(auth: GitAuth): string[] {
    // A bearer header must not follow a redirect to another host.
    return auth.kind === 'bearer' ? ['-c', 'http.followRedirects=false'] : [];
  }

  private async authEnv(kind: UrlKind, auth: GitAuth, timeoutMs: number): Promise<{ env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }> {
    const none = async () => {};
    if (kind === 'ssh') {
      if (auth.kind !== 'ssh') {
        throw new GitError('InvalidRequest', 'ssh URLs need a Secret (spec.secretRef) with an "identity" private key and "known_hosts"');
      }
      if (!auth.knownHosts.trim()) {
        throw new GitError('InvalidRequest', 'the Secret has no "known_hosts": ssh host keys are always verified, add the host key line(s) (ssh-keyscan HOST)');
      }
      const tmp = await mkdtemp(join(this.cacheDir, 'tmp', 'ssh-'));
      await chmod(tmp, 0o700);
      const keyFile = join(tmp, 'identity');
      const knownHostsFile = join(tmp, 'known_hosts');
      await writeFile(keyFile, auth.privateKey.endsWith('\n') ? auth.privateKey : `${auth.privateKey}\n`, { mode: 0o600 });
      await writeFile(knownHostsFile, auth.knownHosts.endsWith('\n') ? auth.knownHosts : `${auth.knownHosts}\n`, { mode: 0o600 });
      return {
        env: { GIT_SSH_COMMAND: sshCommand(keyFile, knownHostsFile, timeoutMs), GIT_SSH_VARIANT: 'ssh' },
        cleanup: () => rm(tmp, { recursive: true, force: true }),
      };
    }
    if (auth.kind === 'ssh') throw new GitError('InvalidRequest', `the Secret holds an ssh key but the URL is ${kind}; use an ssh:// or git@host:path URL`);
    if (auth.kind === 'basic') {
      return { env: { GIT_ASKPASS: this.askpassPath, SLUICE_GIT_USERNAME: auth.username, SLUICE_GIT_PASSWORD: auth.password }, cleanup: none };
    }
    if (auth.kind === 'bearer') {
      return {
        env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Bearer ${auth.token}` },
        cleanup: none,
      };
    }
    return { env: {}, cleanup: none };
  }

  async readFiles(req: ReadRequest): Promise<RepoFile[]> {
    await this.init();
    const paths = req.paths.length ? req.paths.map(normaliseRepoPath) : [''];
    if (!/^[0-9a-f]{40,64}$/.test(req.commit)) throw new GitError('InvalidRequest', `not a commit id: ${req.commit}`);
    return this.withLock(req.key, async () => {
      const dir = this.repoDir(req.key);
      if (!(await stat(dir).catch(() => undefined))) throw new GitError('GitFailed', 'nothing fetched yet for this GitSync');
      const reader = new TreeReader(this, dir, req.commit, req.timeoutMs);
      const whole = paths.includes('');
      const entries = await reader.list(whole ? [] : paths, true);
      // Every requested path must exist; a requested path that is itself a symlink is followed.
      const explicit = new Set<string>();
      for (const path of whole ? [] : paths) {
        const exact = entries.find((e) => e.path === path);
        const inside = entries.some((e) => e.path.startsWith(`${path}/`));
        if (!exact && !inside) throw new GitError('InvalidPath', `path "${path}" does not exist at commit ${req.commit.slice(0, 12)}`, path);
        if (exact?.type === 'commit') throw new GitError('InvalidPath', `path "${path}" is a submodule; submodules are not read`, path);
        if (exact) explicit.add(path);
      }
      const wanted = entries.filter((e) => e.type === 'blob' && (explicit.has(e.path) || req.include(e.path)));
      const blobs: Array<{ path: string; oid: string; size: number }> = [];
      for (const entry of wanted) {
        if (entry.mode === '120000') blobs.push({ path: entry.path, ...(await reader.followSymlink(entry)) });
        else blobs.push({ path: entry.path, oid: entry.oid, size: entry.size });
      }
      if (blobs.length > req.limits.maxFiles) {
        throw new GitError(
          'TooManyFiles',
          `${blobs.length} manifest files under ${describePaths(paths)}; the limit is ${req.limits.maxFiles} (narrow spec.paths)`,
        );
      }
      let total = 0;
      for (const blob of blobs) {
        if (blob.size > req.limits.maxFileBytes) {
          throw new GitError(
            'FileTooLarge',
            `file ${blob.path} is ${formatBytes(blob.size)}; the limit is ${formatBytes(req.limits.maxFileBytes)} per file`,
            blob.path,
          );
        }
        total += blob.size;
      }
      if (total > req.limits.maxTotalBytes) {
        throw new GitError(
          'FileTooLarge',
          `manifests under ${describePaths(paths)} total ${formatBytes(total)}; the limit is ${formatBytes(req.limits.maxTotalBytes)}`,
        );
      }
      const contents = await reader.readBlobs(
        blobs.map((b) => b.oid),
        total,
      );
      const decoder = new TextDecoder('utf-8', { fatal: true });
      return blobs
        .map((blob, i) => {
          const bytes = contents[i] as Buffer;
          let content: string;
          try {
            content = decoder.decode(bytes);
          } catch {
            throw new GitError('NotUtf8', `file ${blob.path} is not valid UTF-8 text; save it as UTF-8`, blob.path);
          }
          if (content.includes('\u0000')) throw new GitError('NotUtf8', `file ${blob.path} is binary (it contains NUL bytes), not a YAML manifest`, blob.path);
          return { path: blob.path, content };
        })
        .sort((a, b) => a.path.localeCompare(b.path));
    });
  }

  async forget(key: string): Promise<void> {
    await this.withLock(key, () => rm(this.repoDir(key), { recursive: true, force: true }));
  }

  /** @internal for TreeReader */
  exec(args: string[], timeoutMs: number, input?: Buffer | string, maxStdoutBytes?: number): Promise<RunResult> {
    return this.runGit(args, { timeoutMs, ...(input !== undefined ? { input } : {}), ...(maxStdoutBytes !== undefined ? { maxStdoutBytes } : {}) });
  }
}

interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  size: number;
  path: string;
}

class TreeReader {
  private readonly client: CliGitClient;
  private readonly dir: string;
  private readonly commit: string;
  private readonly timeoutMs: number;

  constructor(client: CliGitClient, dir: string, commit: string, timeoutMs: number) {
    this.client = client;
    this.dir = dir;
    this.commit = commit;
    this.timeoutMs = timeoutMs;
  }

  async list(paths: string[], recursive: boolean): Promise<TreeEntry[]> {
    const args = ['-C', this.dir, 'ls-tree', '-z', '-l', '--full-tree', ...(recursive ? ['-r'] : []), this.commit, ...(paths.length ? ['--', ...paths] : [])];
    const result = await this.client.exec(args, this.timeoutMs, undefined, 64 * 1024 * 1024);
    if (result.timedOut) throw new GitError('Timeout', `listing files at ${this.commit.slice(0, 12)} took longer than ${this.timeoutMs}ms`);
    if (result.code !== 0) throw new GitError('GitFailed', `cannot list files at commit ${this.commit.slice(0, 12)}: ${firstLines(result.stderr, [])}`);
    return parseLsTree(result.stdout);
  }

  /** Follows a symlink to a file inside the commit; anything else is an InvalidPath error. */
  async followSymlink(link: TreeEntry): Promise<{ oid: string; size: number }> {
    let current = link;
    for (let hop = 0; hop < MAX_SYMLINK_HOPS; hop++) {
      const [targetBytes] = await this.readBlobs([current.oid], current.size);
      const target = (targetBytes as Buffer).toString('utf8');
      const resolved = posix.normalize(posix.join(posix.dirname(current.path), target));
      if (target.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
        throw new GitError(
          'InvalidPath',
          `symlink ${link.path} points outside the repository (${target}); only links to files inside it are followed`,
          link.path,
        );
      }
      const [entry] = await this.list([resolved], false);
      if (!entry || entry.path !== resolved) {
        throw new GitError('InvalidPath', `symlink ${link.path} points to ${resolved}, which does not exist at this commit`, link.path);
      }
      if (entry.type === 'tree')
        throw new GitError('InvalidPath', `symlink ${link.path} points to the directory ${resolved}; symlinked directories are not followed`, link.path);
      if (entry.type !== 'blob') throw new GitError('InvalidPath', `symlink ${link.path} points to ${resolved}, which is not a file`, link.path);
      if (entry.mode !== '120000') return { oid: entry.oid, size: entry.size };
      current = entry;
    }
    throw new GitError('InvalidPath', `symlink ${link.path}: too many levels of symbolic links`, link.path);
  }

  async readBlobs(oids: string[], totalBytes: number): Promise<Buffer[]> {
    if (oids.length === 0) return [];
    const input = `${oids.join('\n')}\n`;
    const result = await this.client.exec(['-C', this.dir, 'cat-file', '--batch'], this.timeoutMs, input, totalBytes + oids.length * 200 + 1024);
    if (result.timedOut) throw new GitError('Timeout', `reading files took longer than ${this.timeoutMs}ms`);
    if (result.code !== 0 || result.outputTooLarge) throw new GitError('GitFailed', `cannot read files: ${firstLines(result.stderr, [])}`);
    const out: Buffer[] = [];
    let offset = 0;
    const buf = result.stdout;
    for (const oid of oids) {
      const newline = buf.indexOf(0x0a, offset);
      const header = buf.subarray(offset, newline).toString('utf8');
      const [gotOid, type, size] = header.split(' ');
      if (gotOid !== oid || type !== 'blob' || size === undefined) throw new GitError('GitFailed', `unexpected object ${header} while reading ${oid}`);
      const start = newline + 1;
      const end = start + Number(size);
      out.push(buf.subarray(start, end));
      offset = end + 1;
    }
    return out;
  }
}

export function parseLsTree(stdout: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  for (const record of stdout.toString('utf8').split('\0')) {
    if (!record) continue;
    const tab = record.indexOf('\t');
    const [mode, type, oid, size] = record.slice(0, tab).trim().split(/\s+/);
    if (!mode || !type || !oid) continue;
    entries.push({ mode, type, oid, size: size === '-' || size === undefined ? 0 : Number(size), path: record.slice(tab + 1) });
  }
  return entries;
}

/** A repository-relative path without `./`, trailing `/` or `..`; "" means the root. */
export function normaliseRepoPath(path: string): string {
  if (path.includes('\0') || path.includes('\\')) throw new GitError('InvalidPath', `path "${path}" holds a NUL or a backslash`, path);
  if (path.startsWith('/')) throw new GitError('InvalidPath', `path "${path}" must be relative to the repository root`, path);
  const segments = path.split('/').filter((s) => s !== '' && s !== '.');
  if (segments.includes('..')) throw new GitError('InvalidPath', `path "${path}" must not contain ".."`, path);
  return segments.join('/');
}

function describePaths(paths: string[]): string {
  return paths.map((p) => (p === '' ? '/' : p)).join(', ');
}

function describeRef(ref: GitRefSpec): string {
  if (ref.branch) return `branch ${ref.branch}`;
  if (ref.tag) return `tag ${ref.tag}`;
  if (ref.commit) return `commit ${ref.commit}`;
  return 'the default branch (HEAD)';
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Quotes for the shell that git runs GIT_SSH_COMMAND with (the paths are ours, but be exact). */
const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export function sshCommand(keyFile: string, knownHostsFile: string, timeoutMs: number): string {
  return [
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    shellQuote(keyFile),
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    `UserKnownHostsFile=${shellQuote(knownHostsFile)}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'PasswordAuthentication=no',
    '-o',
    `ConnectTimeout=${Math.max(1, Math.ceil(timeoutMs / 1000))}`,
  ].join(' ');
}

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** Checks a URL before any git call; returns its transport. */
export function checkUrl(url: string, auth: GitAuth, allowFileUrls: boolean): UrlKind {
  if (url.startsWith('-')) throw new GitError('InvalidRequest', `invalid repository URL "${url}"`);
  if (/^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:/.test(url)) return 'ssh';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new GitError('InvalidRequest', `invalid repository URL "${redactUrl(url)}": expected https://, http://, ssh://, git@host:path or file://`);
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (scheme === 'file') {
    if (!allowFileUrls) throw new GitError('InvalidRequest', 'file:// URLs are disabled on this controller (they read its own file system)');
    return 'file';
  }
  if (scheme === 'ssh') {
    if (parsed.password) throw new GitError('InvalidRequest', 'the URL holds a password; use an ssh key in the Secret named by spec.secretRef');
    return 'ssh';
  }
  if (scheme !== 'https' && scheme !== 'http') throw new GitError('InvalidRequest', `unsupported URL scheme ${scheme}: use https, http, ssh or file`);
  if (parsed.username || parsed.password) {
    throw new GitError('InvalidRequest', `the URL ${redactUrl(url)} holds credentials; remove them and put them in the Secret named by spec.secretRef`);
  }
  const host = parsed.hostname;
  if (scheme === 'http' && auth.kind !== 'none' && !LOOPBACK_HOSTS.has(host) && !(isIP(host) && host.startsWith('127.'))) {
    throw new GitError('InvalidRequest', `refusing to send credentials over plain http to ${host}; use https`);
  }
  return scheme;
}

export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1***@');
}

function secretsOf(auth: GitAuth): string[] {
  switch (auth.kind) {
    case 'basic':
      return [auth.password, auth.username].filter((s) => s.length >= 3);
    case 'bearer':
      return [auth.token];
    case 'ssh':
      return [auth.privateKey];
    default:
      return [];
  }
}

/** Removes secrets and userinfo from a message. */
export function redact(text: string, secrets: ReadonlyArray<string>): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@\s/'"]*@/gi, '$1***@').replace(/(Authorization:\s*)\S+(\s+\S+)?/gi, '$1***');
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out;
}

function firstLines(stderr: string, secrets: ReadonlyArray<string>): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !/^(hint:|warning: redirecting)/.test(l));
  const text = lines.slice(-3).join(' / ');
  return redact(text.length > 400 ? `${text.slice(0, 400)}…` : text, secrets) || 'no message from git';
}

export function classifyFailure(result: Pick<RunResult, 'stderr' | 'timedOut'>): GitErrorReason {
  if (result.timedOut) return 'Timeout';
  const e = result.stderr;
  if (/Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No \S+ host key is known/i.test(e)) return 'HostKeyVerificationFailed';
  if (
    /Authentication failed|could not read (Username|Password)|returned error: 40[13]|HTTP 40[13]|Permission denied \(publickey|terminal prompts disabled|Invalid username or password/i.test(
      e,
    )
  ) {
    return 'AuthenticationFailed';
  }
  if (/couldn't find remote ref|not our ref|unadvertised object|no such remote ref|invalid refspec|remote HEAD refers to nonexistent ref/i.test(e))
    return 'RefNotFound';
  if (/repository .* not found|does not appear to be a git repository|returned error: 404|HTTP 404|not a git repository/i.test(e)) return 'RepositoryNotFound';
  if (
    /Could not resolve host|Connection refused|Failed to connect|Connection timed out|Network is unreachable|Could not read from remote repository|unable to access|SSL|certificate|Connection reset|Empty reply/i.test(
      e,
    )
  ) {
    return 'Unreachable';
  }
  return 'GitFailed';
}

const REASON_TEXT: Record<GitErrorReason, string> = {
  Unreachable: 'the repository cannot be reached',
  AuthenticationFailed: 'authentication failed (check the credentials in the Secret named by spec.secretRef)',
  HostKeyVerificationFailed: 'the ssh host key does not match known_hosts in the Secret',
  RepositoryNotFound: 'the repository does not exist (or the credentials cannot see it)',
  RefNotFound: 'the ref does not exist in the repository',
  Timeout: 'git took longer than spec.timeout',
  InvalidPath: 'invalid path',
  FileTooLarge: 'file too large',
  TooManyFiles: 'too many files',
  NotUtf8: 'not UTF-8',
  InvalidRequest: 'invalid request',
  GitFailed: 'git failed',
};

function fetchError(result: RunResult, url: string, refName: string, secrets: ReadonlyArray<string>, timeoutMs: number): GitError {
  const reason = classifyFailure(result);
  const detail = reason === 'Timeout' ? `no answer within ${timeoutMs}ms` : firstLines(result.stderr, secrets);
  return new GitError(reason, `fetching ${refName} from ${redactUrl(url)}: ${REASON_TEXT[reason]}: ${detail}`);
}
