// Git for the e2e suite: bare repositories on disk, served over smart HTTP by
// `git http-backend` behind e2e/git/server.ts (own process, loopback), and also
// reachable as file:// URLs. Scenarios clone a working copy, write files,
// commit and push like a person would.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { freePort, log, nodeBin, repoRoot, run, runOk, startProcess, type ManagedProcess } from './proc.ts';
import { waitFor } from './wait.ts';

/** What a test process needs to use a running git server (part of the descriptor). */
export interface GitServerInfo {
  /** http://127.0.0.1:PORT — repositories are at `${url}/${name}.git`. */
  url: string;
  /** Directory holding the bare repositories (`${name}.git`). */
  reposDir: string;
  /** Directory for working copies. */
  workDir: string;
  /** A git config file used instead of the user's global one (identity, default branch). */
  configFile: string;
}

export interface GitServerHandle extends GitServerInfo {
  process: ManagedProcess;
  stop(): Promise<void>;
}

export interface Repo {
  name: string;
  /** Path of the bare repository. */
  path: string;
  /** file:///…/name.git */
  fileUrl: string;
  /** http://127.0.0.1:PORT/name.git */
  httpUrl: string;
}

export interface WorkingCopy {
  dir: string;
  repo: Repo;
  /** Writes a file (creating directories), relative to the working copy. */
  write(path: string, content: string): void;
  read(path: string): string;
  remove(path: string): void;
  /** `git add -A && git commit`; returns the new commit sha. */
  commit(message: string, opts?: { allowEmpty?: boolean }): Promise<string>;
  /** Pushes the current branch (default main) to origin over the clone's URL. */
  push(branch?: string): Promise<void>;
  /** write()/remove() (null content) each file, commit and push; returns the sha. */
  commitAndPush(message: string, files?: Record<string, string | null>): Promise<string>;
  /** Fetches and fast-forwards. */
  pull(): Promise<void>;
  head(): Promise<string>;
  /** Any git command in the working copy; throws on failure, returns stdout. */
  git(...args: string[]): Promise<string>;
}

function gitEnv(info: Pick<GitServerInfo, 'configFile'>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GIT_CONFIG_GLOBAL: info.configFile,
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'E2E Person',
    GIT_AUTHOR_EMAIL: 'person@e2e.sluice.dev',
    GIT_COMMITTER_NAME: 'E2E Person',
    GIT_COMMITTER_EMAIL: 'person@e2e.sluice.dev',
  };
}

function git(info: Pick<GitServerInfo, 'configFile'>, cwd: string, args: string[]): Promise<string> {
  return runOk('git', args, { cwd, env: gitEnv(info), timeoutMs: 60_000 });
}

export interface GitServerOptions {
  stateDir: string;
}

export async function startGitServer(opts: GitServerOptions): Promise<GitServerHandle> {
  const base = join(opts.stateDir, 'git');
  const reposDir = join(base, 'repos');
  const workDir = join(base, 'work');
  mkdirSync(reposDir, { recursive: true });
  mkdirSync(workDir, { recursive: true });
  const configFile = join(base, 'gitconfig');
  writeFileSync(
    configFile,
    '[user]\n\tname = E2E Person\n\temail = person@e2e.sluice.dev\n' +
      '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n' +
      '[advice]\n\tdetachedHead = false\n[safe]\n\tdirectory = *\n',
  );
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc = startProcess({
    name: 'git-http',
    cmd: nodeBin,
    args: [join(repoRoot, 'e2e', 'git', 'server.ts')],
    env: { ...process.env, GIT_PROJECT_ROOT: reposDir, GIT_HTTP_ADDR: `127.0.0.1:${port}` },
    logFile: join(opts.stateDir, 'logs', 'git-http.log'),
  });
  try {
    await waitFor(
      'git http server /healthz',
      async () => {
        if (!proc.isRunning()) throw new Error(`git http server exited (see ${proc.logFile})`);
        const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) });
        return r.ok;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  }
  log('git', `http server ready on ${url} (repos in ${reposDir})`);
  return { url, reposDir, workDir, configFile, process: proc, stop: () => proc.stop() };
}

/** Creates a bare repository `name` (pushes over HTTP allowed). Optional initial files go in one commit. */
export async function createRepo(info: GitServerInfo, name: string, opts: { files?: Record<string, string>; message?: string } = {}): Promise<Repo> {
  const path = join(info.reposDir, `${name}.git`);
  if (existsSync(path)) throw new Error(`repository ${name} already exists at ${path}`);
  await git(info, info.reposDir, ['init', '--bare', '--quiet', '--initial-branch=main', path]);
  await git(info, path, ['config', 'http.receivepack', 'true']);
  const repo: Repo = { name, path, fileUrl: `file://${path}`, httpUrl: `${info.url}/${name}.git` };
  if (opts.files && Object.keys(opts.files).length > 0) {
    const wc = await cloneRepo(info, repo, { via: 'file' });
    await wc.commitAndPush(opts.message ?? 'initial commit', opts.files);
    rmSync(wc.dir, { recursive: true, force: true });
  }
  return repo;
}

/** Clones `repo` (over HTTP by default, like a person would) into a fresh directory. */
export async function cloneRepo(info: GitServerInfo, repo: Repo, opts: { via?: 'http' | 'file'; dir?: string } = {}): Promise<WorkingCopy> {
  const dir = opts.dir ?? mkdtempSync(join(info.workDir, `${repo.name}-`));
  const url = opts.via === 'file' ? repo.fileUrl : repo.httpUrl;
  await git(info, dirname(dir), ['clone', '--quiet', url, dir]);
  // an empty repository clones without a branch: start main
  const branch = (await run('git', ['symbolic-ref', '--short', 'HEAD'], { cwd: dir, env: gitEnv(info) })).stdout.trim();
  if (branch !== 'main') await git(info, dir, ['checkout', '--quiet', '-B', 'main']);
  const g = (...args: string[]) => git(info, dir, args);
  const wc: WorkingCopy = {
    dir,
    repo,
    write(path, content) {
      const f = join(dir, path);
      mkdirSync(dirname(f), { recursive: true });
      writeFileSync(f, content);
    },
    read: (path) => readFileSync(join(dir, path), 'utf8'),
    remove(path) {
      rmSync(join(dir, path), { recursive: true, force: true });
    },
    async commit(message, o = {}) {
      await g('add', '-A');
      await g('commit', '--quiet', ...(o.allowEmpty ? ['--allow-empty'] : []), '-m', message);
      return (await g('rev-parse', 'HEAD')).trim();
    },
    async push(branch = 'main') {
      await g('push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    },
    async commitAndPush(message, files = {}) {
      for (const [p, c] of Object.entries(files)) {
        if (c === null) wc.remove(p);
        else wc.write(p, c);
      }
      const sha = await wc.commit(message);
      await wc.push();
      return sha;
    },
    async pull() {
      await g('pull', '--quiet', '--ff-only');
    },
    head: async () => (await g('rev-parse', 'HEAD')).trim(),
    git: g,
  };
  return wc;
}
