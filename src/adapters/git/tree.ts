// Reading files of one commit straight from Git objects (ls-tree + cat-file), never from a
// checkout: nothing in a repository can make the controller read its own file system.
//
// Symbolic links are resolved inside the listed tree, and `paths` is a boundary: a link is
// followed only to a file of the same commit that is inside the requested paths (the whole
// repository when none are given); one that leaves them, leaves the repository, or points
// to a directory is an InvalidPath error. The file-count and symlink limits are checked on
// the listing, before any link is followed.
import { posix } from 'node:path';
import { GitError, type ReadLimits } from '../../ports/git.ts';
import { firstLines, formatBytes } from './errors.ts';
import type { RunResult } from './run.ts';

export interface TreeEntry {
  mode: string;
  type: string;
  oid: string;
  size: number;
  path: string;
}

/** A file to read: its path, and the blob it reads (through links: the target's). */
export interface BlobRef {
  path: string;
  oid: string;
  size: number;
}

export type Exec = (args: string[], timeoutMs: number, input?: Buffer | string, maxStdoutBytes?: number) => Promise<RunResult>;

const SYMLINK_MODE = '120000';
const MAX_SYMLINK_HOPS = 8;
/** A link target longer than this is not a path (PATH_MAX is 4096). */
const MAX_LINK_BYTES = 4096;

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

export function describePaths(paths: string[]): string {
  return paths.map((p) => (p === '' ? '/' : p)).join(', ');
}

export class TreeReader {
  private readonly exec: Exec;
  private readonly dir: string;
  private readonly commit: string;
  private readonly timeoutMs: number;

  constructor(exec: Exec, dir: string, commit: string, timeoutMs: number) {
    this.exec = exec;
    this.dir = dir;
    this.commit = commit;
    this.timeoutMs = timeoutMs;
  }

  async list(paths: string[]): Promise<TreeEntry[]> {
    const args = ['-C', this.dir, 'ls-tree', '-z', '-l', '--full-tree', '-r', this.commit, ...(paths.length ? ['--', ...paths] : [])];
    const result = await this.exec(args, this.timeoutMs, undefined, 64 * 1024 * 1024);
    if (result.timedOut) throw new GitError('Timeout', `listing files at ${this.commit.slice(0, 12)} took longer than ${this.timeoutMs}ms`);
    if (result.code !== 0) throw new GitError('GitFailed', `cannot list files at commit ${this.commit.slice(0, 12)}: ${firstLines(result.stderr, [])}`);
    return parseLsTree(result.stdout);
  }

  async readBlobs(oids: string[], totalBytes: number): Promise<Buffer[]> {
    if (oids.length === 0) return [];
    const input = `${oids.join('\n')}\n`;
    const result = await this.exec(['-C', this.dir, 'cat-file', '--batch'], this.timeoutMs, input, totalBytes + oids.length * 200 + 1024);
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

  /**
   * The blobs to read for `wanted` (files of the listing `entries` of `paths`), with links
   * resolved inside the listing; limits first, then every hop of every link in one batch.
   */
  async resolve(entries: TreeEntry[], wanted: TreeEntry[], paths: string[], limits: ReadLimits): Promise<BlobRef[]> {
    const where = describePaths(paths);
    if (wanted.length > limits.maxFiles) {
      throw new GitError('TooManyFiles', `${wanted.length} manifest files under ${where}; the limit is ${limits.maxFiles} (narrow spec.paths)`);
    }
    const links = wanted.filter((e) => e.mode === SYMLINK_MODE);
    if (links.length > limits.maxSymlinks) {
      throw new GitError('TooManyFiles', `${links.length} symbolic links under ${where}; the limit is ${limits.maxSymlinks}`);
    }
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const whole = paths.includes('');
    const inBoundary = (p: string) => whole || paths.some((root) => p === root || p.startsWith(`${root}/`));
    const resolved = new Map<string, BlobRef>();
    // Each pending link: the link a person sees (for messages) and the link reached so far.
    let pending = links.map((link) => ({ link, current: link }));
    for (let hop = 0; pending.length > 0; hop++) {
      if (hop >= MAX_SYMLINK_HOPS)
        throw new GitError('InvalidPath', `symlink ${pending[0]?.link.path}: too many levels of symbolic links`, pending[0]?.link.path);
      for (const { current } of pending) {
        if (current.size > MAX_LINK_BYTES)
          throw new GitError('InvalidPath', `symlink ${current.path} has a target of ${formatBytes(current.size)}, not a path`, current.path);
      }
      const targets = await this.readBlobs(
        pending.map((p) => p.current.oid),
        pending.reduce((n, p) => n + p.current.size, 0),
      );
      const next: typeof pending = [];
      pending.forEach(({ link, current }, i) => {
        const target = (targets[i] as Buffer).toString('utf8');
        const path = posix.normalize(posix.join(posix.dirname(current.path), target));
        if (target.startsWith('/') || path === '..' || path.startsWith('../')) {
          throw new GitError(
            'InvalidPath',
            `symlink ${link.path} points outside the repository (${target}); only links to files inside it are followed`,
            link.path,
          );
        }
        if (!inBoundary(path)) {
          throw new GitError(
            'InvalidPath',
            `symlink ${link.path} points to ${path}, outside spec.paths (${where}); links are followed only to files inside the paths`,
            link.path,
          );
        }
        const entry = byPath.get(path);
        if (!entry) {
          const isDir = entries.some((e) => e.path.startsWith(`${path}/`));
          throw new GitError(
            'InvalidPath',
            isDir
              ? `symlink ${link.path} points to the directory ${path}; symlinked directories are not followed`
              : `symlink ${link.path} points to ${path}, which does not exist at this commit`,
            link.path,
          );
        }
        if (entry.type !== 'blob') throw new GitError('InvalidPath', `symlink ${link.path} points to ${path}, which is not a file`, link.path);
        if (entry.mode === SYMLINK_MODE) next.push({ link, current: entry });
        else resolved.set(link.path, { path: link.path, oid: entry.oid, size: entry.size });
      });
      pending = next;
    }
    return wanted.map((e) => resolved.get(e.path) ?? { path: e.path, oid: e.oid, size: e.size });
  }
}
