// The Git port: fetch a ref into a per-GitSync cache and read manifests at a commit.
// Implemented by adapters/git/ (the git CLI). Credentials travel only inside GitAuth and
// never appear in messages, logs or errors.

/** Which ref to resolve; none set = the remote's default branch (HEAD). */
export interface GitRefSpec {
  branch?: string | undefined;
  tag?: string | undefined;
  commit?: string | undefined;
}

export type GitAuth =
  | { kind: 'none' }
  /** HTTP basic auth; a token goes in `password` (e.g. GitHub: any username, token as password). */
  | { kind: 'basic'; username: string; password: string }
  /** HTTP `Authorization: Bearer <token>`. */
  | { kind: 'bearer'; token: string }
  /** SSH private key (PEM / OpenSSH) and known_hosts lines; the host key is always checked. */
  | { kind: 'ssh'; privateKey: string; knownHosts: string };

export interface FetchRequest {
  /** Cache key, one per GitSync (e.g. "namespace/name"). */
  key: string;
  url: string;
  ref: GitRefSpec;
  auth: GitAuth;
  timeoutMs: number;
  /** The most the repository cache may hold after the fetch (bytes); beyond it the fetch fails with RepositoryTooLarge. */
  maxBytes?: number;
}

export interface FetchResult {
  commit: string;
  /** What the ref resolved through, e.g. "refs/heads/main" or "HEAD". */
  resolvedRef: string;
}

export interface ReadLimits {
  /** Largest single file (bytes). */
  maxFileBytes: number;
  /** Largest sum of all files read (bytes). */
  maxTotalBytes: number;
  /** Most files read (checked before any symbolic link is followed). */
  maxFiles: number;
  /** Most symbolic links followed in one read. */
  maxSymlinks: number;
  /** Largest repository (the fetched objects in the cache, bytes). */
  maxRepositoryBytes: number;
}

export const DEFAULT_READ_LIMITS: ReadLimits = {
  maxFileBytes: 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
  maxFiles: 2000,
  maxSymlinks: 100,
  maxRepositoryBytes: 512 * 1024 * 1024,
};

export interface ReadRequest {
  key: string;
  commit: string;
  /** Files or directories relative to the repository root ("." or "" = everything); a boundary: symlinks may not leave it. */
  paths: string[];
  /** Which files to read, by path (e.g. *.yaml); paths listed explicitly as files are read regardless. */
  include: (path: string) => boolean;
  limits: ReadLimits;
  timeoutMs: number;
}

export interface RepoFile {
  path: string;
  content: string;
}

export interface GitClient {
  /** Fetches the ref from the URL into the cache for `key` and resolves it to a commit id. */
  fetch(req: FetchRequest): Promise<FetchResult>;
  /** Reads the matching files at a fetched commit, decoded as UTF-8, sorted by path. */
  readFiles(req: ReadRequest): Promise<RepoFile[]>;
  /** Drops the cache for `key` (when its GitSync is deleted). */
  forget(key: string): Promise<void>;
}

export type GitErrorReason =
  | 'Unreachable' // DNS, connection refused, TLS
  | 'AuthenticationFailed'
  | 'HostKeyVerificationFailed'
  | 'RepositoryNotFound'
  | 'RefNotFound'
  | 'Timeout'
  | 'InvalidPath' // `..`, absolute, a symlink out of the repository or out of spec.paths, a missing path
  | 'FileTooLarge'
  | 'TooManyFiles' // also too many symbolic links
  | 'RepositoryTooLarge'
  | 'NotUtf8'
  | 'InvalidRequest' // e.g. ssh URL without known_hosts, credentials in the URL
  | 'GitFailed';

/** A Git failure with a reason a status can carry and a message a user can act on (never secrets). */
export class GitError extends Error {
  readonly reason: GitErrorReason;
  readonly path: string | undefined;
  constructor(reason: GitErrorReason, message: string, path?: string) {
    super(message);
    this.name = 'GitError';
    this.reason = reason;
    this.path = path;
  }
}
