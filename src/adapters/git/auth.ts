// Credentials for git and what URLs are allowed, for the CLI client (cli.ts): username and
// password through a GIT_ASKPASS helper that echoes environment variables of the git process;
// a bearer token through http.extraHeader set in the environment (GIT_CONFIG_*), never on the
// command line (visible in ps) or in the URL; ssh keys and known_hosts in 0600 files of a
// private temp directory, removed after the call, with StrictHostKeyChecking=yes.
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { GitError, type GitAuth } from '../../ports/git.ts';
import { redact, redactUrl } from './errors.ts';

export type UrlKind = 'https' | 'http' | 'ssh' | 'file';

export const ASKPASS_SCRIPT = `#!/bin/sh
# Answers git's credential prompts from the environment of the git process (set by Sluice).
case "$1" in
  Username*) printf '%s\\n' "$SLUICE_GIT_USERNAME" ;;
  *) printf '%s\\n' "$SLUICE_GIT_PASSWORD" ;;
esac
`;

export function authConfig(auth: GitAuth): string[] {
  // A bearer header must not follow a redirect to another host.
  return auth.kind === 'bearer' ? ['-c', 'http.followRedirects=false'] : [];
}

export async function authEnv(
  kind: UrlKind,
  auth: GitAuth,
  timeoutMs: number,
  dirs: { tmp: string; askpass: string },
): Promise<{ env: NodeJS.ProcessEnv; cleanup: () => Promise<void> }> {
  const none = async () => {};
  if (kind === 'ssh') {
    if (auth.kind !== 'ssh') {
      throw new GitError('InvalidRequest', 'ssh URLs need a Secret (spec.secretRef) with an "identity" private key and "known_hosts"');
    }
    if (!auth.knownHosts.trim()) {
      throw new GitError('InvalidRequest', 'the Secret has no "known_hosts": ssh host keys are always verified, add the host key line(s) (ssh-keyscan HOST)');
    }
    const tmp = await mkdtemp(join(dirs.tmp, 'ssh-'));
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
    return { env: { GIT_ASKPASS: dirs.askpass, SLUICE_GIT_USERNAME: auth.username, SLUICE_GIT_PASSWORD: auth.password }, cleanup: none };
  }
  if (auth.kind === 'bearer') {
    return {
      env: { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'http.extraHeader', GIT_CONFIG_VALUE_0: `Authorization: Bearer ${auth.token}` },
      cleanup: none,
    };
  }
  return { env: {}, cleanup: none };
}

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
  if (url.startsWith('-')) throw new GitError('InvalidRequest', `invalid repository URL "${redact(url, [])}"`);
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

export function secretsOf(auth: GitAuth): string[] {
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
