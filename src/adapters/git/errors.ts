// What git says, made into errors a person can act on: the reason (classified from git's
// English messages; the client runs git with LC_ALL=C), a short message without secrets.
import { GitError, type GitErrorReason } from '../../ports/git.ts';
import { redactText, redactUrl as redactCoreUrl } from '../../core/shared/redact.ts';
import type { RunResult } from './run.ts';

/** What git and its transports print when the credentials are wrong or missing. */
const AUTHENTICATION_FAILED = new RegExp(
  [
    'Authentication failed',
    'could not read (Username|Password)',
    'returned error: 40[13]',
    'HTTP 40[13]',
    'Permission denied \\(publickey',
    'terminal prompts disabled',
    'Invalid username or password',
  ].join('|'),
  'i',
);

/** What they print when the server cannot be reached at all. */
const UNREACHABLE = new RegExp(
  [
    'Could not resolve host',
    'Connection refused',
    'Failed to connect',
    'Connection timed out',
    'Network is unreachable',
    'Could not read from remote repository',
    'unable to access',
    'SSL',
    'certificate',
    'Connection reset',
    'Empty reply',
  ].join('|'),
  'i',
);

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** The URL without its userinfo, in every form a URL parser accepts (the shared masker, src/core/shared/redact.ts). */
export function redactUrl(url: string): string {
  return redactCoreUrl(url);
}

/** Removes secrets, URL userinfo (any form) and authorization headers from a message: the shared masker. */
export function redact(text: string, secrets: ReadonlyArray<string>): string {
  return redactText(text, secrets);
}

export function firstLines(stderr: string, secrets: ReadonlyArray<string>): string {
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
  if (AUTHENTICATION_FAILED.test(e)) {
    return 'AuthenticationFailed';
  }
  if (/couldn't find remote ref|not our ref|unadvertised object|no such remote ref|invalid refspec|remote HEAD refers to nonexistent ref/i.test(e))
    return 'RefNotFound';
  if (/repository .* not found|does not appear to be a git repository|returned error: 404|HTTP 404|not a git repository/i.test(e)) return 'RepositoryNotFound';
  if (UNREACHABLE.test(e)) {
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
  RepositoryTooLarge: 'the repository is too large',
  NotUtf8: 'not UTF-8',
  InvalidRequest: 'invalid request',
  GitFailed: 'git failed',
};

export function fetchError(result: RunResult, url: string, refName: string, secrets: ReadonlyArray<string>, timeoutMs: number): GitError {
  const reason = classifyFailure(result);
  const detail = reason === 'Timeout' ? `no answer within ${timeoutMs}ms` : firstLines(result.stderr, secrets);
  return new GitError(reason, `fetching ${refName} from ${redactUrl(url)}: ${REASON_TEXT[reason]}: ${detail}`);
}
