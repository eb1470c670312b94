// GitClient over the git CLI (execution without a shell, a deadline on every call).
//
// - One bare repository per GitSync under `cacheDir/repos/`, fetched into a private ref;
//   files are read from Git objects (tree.ts), never from a checkout. Symlinks are followed
//   only to files of the same commit inside the requested paths.
// - The cache may be shared by several processes (two controllers on one machine): each
//   repository is used under a lock file (cache-lock.ts), so their fetches never collide.
// - A fetch stops once the repository grows past its size limit (the cache is watched while
//   git writes it), and the repository is dropped.
// - Credentials (auth.ts) only in the environment of the git process or 0600 files, never
//   on its command line or in the URL. No user or system git config is read.
// - Only the https, http, ssh and (when allowed) file transports are enabled.
import { createHash, randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GitError, type FetchRequest, type FetchResult, type GitClient, type GitRefSpec, type ReadRequest, type RepoFile } from '../../ports/git.ts';
import { ASKPASS_SCRIPT, authConfig, authEnv, checkUrl, secretsOf, type UrlKind } from './auth.ts';
import { withFileLock } from './cache-lock.ts';
import { classifyFailure, fetchError, firstLines, formatBytes, redactUrl } from './errors.ts';
import { run, type RunResult } from './run.ts';
import { describePaths, normaliseRepoPath, TreeReader } from './tree.ts';

export interface CliGitOptions {
  /** Where repositories are cached (created if missing); the controller needs it writable. */
  cacheDir: string;
  /** The git executable (default "git" on PATH). */
  gitBinary?: string;
  /** Accept file:// URLs (tests, local development). Default false. */
  allowFileUrls?: boolean;
}

const FETCH_REF = 'refs/sluice/fetched';
/** How often a running fetch's repository size is looked at. */
const SIZE_WATCH_MS = 200;

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
      // Written aside and renamed: another process sharing the cache may be running it.
      const temp = join(this.cacheDir, 'tmp', `askpass-${randomUUID()}`);
      await writeFile(temp, ASKPASS_SCRIPT, { mode: 0o700 });
      await chmod(temp, 0o700);
      await rename(temp, this.askpassPath);
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

  /** Serialises work per key: in this process (a promise chain), and across processes sharing the cache (a lock file). */
  private async withLock<T>(key: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
    const fn = () => withFileLock(`${this.repoDir(key)}.lock`, timeoutMs, work);
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
    opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; input?: Buffer | string; maxStdoutBytes?: number; signal?: AbortSignal },
  ): Promise<RunResult> {
    try {
      return await run(this.git, [...this.baseConfig(), ...args], {
        env: { ...this.baseEnv(), ...opts.env },
        timeoutMs: opts.timeoutMs,
        ...(opts.signal ? { signal: opts.signal } : {}),
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
    return this.withLock(req.key, req.timeoutMs, () => this.fetchLocked(req, kind));
  }

  private async fetchLocked(req: FetchRequest, kind: UrlKind): Promise<FetchResult> {
    const dir = await this.ensureRepo(req.key, req.url, req.timeoutMs);
    const { env, cleanup } = await authEnv(kind, req.auth, req.timeoutMs, { tmp: join(this.cacheDir, 'tmp'), askpass: this.askpassPath });
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
      const fetchArgs = ['-C', dir, ...authConfig(req.auth), 'fetch', '--no-tags', '--no-recurse-submodules', '--quiet', '--', req.url, refspec];
      let result = await this.fetchWithin(dir, req, fetchArgs, env);
      if (result.code !== 0 && req.ref.commit && classifyFailure(result) === 'RefNotFound') {
        // Servers that refuse fetching a commit by id: fetch every branch and tag, then look for it.
        result = await this.runGit(
          [
            '-C',
            dir,
            ...authConfig(req.auth),
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
        await this.checkSize(dir, req);
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
  }

  /** Runs the fetch while watching the repository's size; past `req.maxBytes` git is stopped and the repository dropped. */
  private async fetchWithin(dir: string, req: FetchRequest, args: string[], env: NodeJS.ProcessEnv): Promise<RunResult> {
    const max = req.maxBytes;
    if (max === undefined) return this.runGit(args, { env, timeoutMs: req.timeoutMs });
    const stop = new AbortController();
    let seen = 0;
    let watching = true;
    const watch = (async () => {
      while (watching && !stop.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, SIZE_WATCH_MS));
        seen = await directoryBytes(join(dir, 'objects'));
        if (seen > max) stop.abort();
      }
    })();
    try {
      const result = await this.runGit(args, { env, timeoutMs: req.timeoutMs, signal: stop.signal });
      if (result.aborted) throw await this.tooLarge(dir, req, seen);
      await this.checkSize(dir, req);
      return result;
    } finally {
      watching = false;
      await watch;
    }
  }

  private async checkSize(dir: string, req: FetchRequest): Promise<void> {
    if (req.maxBytes === undefined) return;
    const bytes = await directoryBytes(join(dir, 'objects'));
    if (bytes > req.maxBytes) throw await this.tooLarge(dir, req, bytes);
  }

  private async tooLarge(dir: string, req: FetchRequest, bytes: number): Promise<GitError> {
    await rm(dir, { recursive: true, force: true });
    return new GitError(
      'RepositoryTooLarge',
      `the repository ${redactUrl(req.url)} is larger than the limit of ${formatBytes(req.maxBytes ?? 0)} ` +
        `(${formatBytes(bytes)} fetched before stopping); Sluice does not keep it`,
    );
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

  async readFiles(req: ReadRequest): Promise<RepoFile[]> {
    await this.init();
    const paths = req.paths.length ? req.paths.map(normaliseRepoPath) : [''];
    if (!/^[0-9a-f]{40,64}$/.test(req.commit)) throw new GitError('InvalidRequest', `not a commit id: ${req.commit}`);
    return this.withLock(req.key, req.timeoutMs, async () => {
      const dir = this.repoDir(req.key);
      if (!(await stat(join(dir, 'sluice-url')).catch(() => undefined))) throw new GitError('GitFailed', 'nothing fetched yet for this GitSync');
      const reader = new TreeReader((args, ms, input, max) => this.exec(args, ms, input, max), dir, req.commit, req.timeoutMs);
      const whole = paths.includes('');
      const entries = await reader.list(whole ? [] : paths);
      // Every requested path must exist; a requested path that is itself a symlink is followed (inside the paths).
      const explicit = new Set<string>();
      for (const path of whole ? [] : paths) {
        const exact = entries.find((e) => e.path === path);
        const inside = entries.some((e) => e.path.startsWith(`${path}/`));
        if (!exact && !inside) throw new GitError('InvalidPath', `path "${path}" does not exist at commit ${req.commit.slice(0, 12)}`, path);
        if (exact?.type === 'commit') throw new GitError('InvalidPath', `path "${path}" is a submodule; submodules are not read`, path);
        if (exact) explicit.add(path);
      }
      const wanted = entries.filter((e) => e.type === 'blob' && (explicit.has(e.path) || req.include(e.path)));
      const blobs = await reader.resolve(entries, wanted, whole ? [''] : paths, req.limits);
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
    await this.withLock(key, 60_000, () => rm(this.repoDir(key), { recursive: true, force: true }));
  }

  private exec(args: string[], timeoutMs: number, input?: Buffer | string, maxStdoutBytes?: number): Promise<RunResult> {
    return this.runGit(args, { timeoutMs, ...(input !== undefined ? { input } : {}), ...(maxStdoutBytes !== undefined ? { maxStdoutBytes } : {}) });
  }
}

function describeRef(ref: GitRefSpec): string {
  if (ref.branch) return `branch ${ref.branch}`;
  if (ref.tag) return `tag ${ref.tag}`;
  if (ref.commit) return `commit ${ref.commit}`;
  return 'the default branch (HEAD)';
}

/** Quotes for the shell that git runs GIT_SSH_COMMAND with (the paths are ours, but be exact). */

/** Bytes of the files under a directory (a missing one is empty); links are not followed. */
async function directoryBytes(root: string): Promise<number> {
  let total = 0;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop() as string;
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      const path = join(dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info?.isDirectory()) stack.push(path);
      else if (info?.isFile()) total += info.size;
    }
  }
  return total;
}
