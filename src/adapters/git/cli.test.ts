// The git CLI adapter against real git: bare repositories in a temp dir, served over
// file:// and over HTTP (git http-backend behind node:http on 127.0.0.1, with basic auth).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkUrl, sshCommand } from './auth.ts';
import { CliGitClient } from './cli.ts';
import { classifyFailure, redact } from './errors.ts';
import { normaliseRepoPath } from './tree.ts';
import { run } from './run.ts';
import { DEFAULT_READ_LIMITS, GitError, type ReadLimits } from '../../ports/git.ts';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { SSHD, TestRepo, startGitHttpServer, startSshGitServer, tempDir, type GitHttpServer, type SshGitServer } from '../../../test/helpers/git-repos.ts';

function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} after ${ms}ms`)), ms);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

const yaml = (p: string) => /\.(ya?ml|json)$/.test(p);
const none = { kind: 'none' } as const;

async function rejectsWith(promise: Promise<unknown>, reason: string, message?: RegExp): Promise<GitError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof GitError, `expected a GitError, got ${String(err)}`);
    assert.equal(err.reason, reason, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected a ${reason} error`);
}

describe('CliGitClient over file://', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let repo: TestRepo;
  let client: CliGitClient;
  let first: string;
  let second: string;
  const read = (commit: string, paths: string[], limits: Partial<ReadLimits> = {}) =>
    client.readFiles({ key: 'ns/app', commit, paths, include: yaml, limits: { ...DEFAULT_READ_LIMITS, ...limits }, timeoutMs: 10_000 });
  const fetch = (ref: { branch?: string; tag?: string; commit?: string } = {}, url = repo.fileUrl) =>
    client.fetch({ key: 'ns/app', url, ref, auth: none, timeoutMs: 10_000 });

  before(async () => {
    dir = await tempDir();
    repo = await TestRepo.create(dir.path);
    client = new CliGitClient({ cacheDir: `${dir.path}/cache`, allowFileUrls: true });
    first = await repo.commit({ 'apps/a.yaml': 'kind: A\n', 'apps/b.yml': 'kind: B\n', 'apps/README.md': '# no', 'other/c.yaml': 'kind: C\n' }, 'first');
    await repo.tag('v1');
    second = await repo.commit({ 'apps/a.yaml': 'kind: A2\n' }, 'second');
  });
  after(() => dir.remove());

  test('resolves the default branch, a branch, an annotated tag and a commit', async () => {
    assert.deepEqual(await fetch(), { commit: second, resolvedRef: 'the default branch (HEAD)' });
    assert.equal((await fetch({ branch: 'main' })).commit, second);
    assert.equal((await fetch({ tag: 'v1' })).commit, first);
    assert.equal((await fetch({ commit: first })).commit, first);
  });

  test('reads only manifest files under the paths, at the commit asked for', async () => {
    await fetch();
    assert.deepEqual(await read(second, ['apps']), [
      { path: 'apps/a.yaml', content: 'kind: A2\n' },
      { path: 'apps/b.yml', content: 'kind: B\n' },
    ]);
    assert.deepEqual(
      (await read(first, ['./apps/', 'other/c.yaml'])).map((f) => `${f.path}=${f.content.trim()}`),
      ['apps/a.yaml=kind: A', 'apps/b.yml=kind: B', 'other/c.yaml=kind: C'],
    );
    assert.deepEqual(
      (await read(second, [])).map((f) => f.path),
      ['apps/a.yaml', 'apps/b.yml', 'other/c.yaml'],
    );
  });

  test('a branch that moved is fetched again', async () => {
    const third = await repo.commit({ 'apps/a.yaml': 'kind: A3\n' }, 'third');
    assert.equal((await fetch({ branch: 'main' })).commit, third);
    assert.equal((await read(third, ['apps/a.yaml']))[0]?.content, 'kind: A3\n');
  });

  test('missing branch, tag, commit and repository are named', async () => {
    await rejectsWith(fetch({ branch: 'nope' }), 'RefNotFound', /branch nope/);
    await rejectsWith(fetch({ tag: 'v9' }), 'RefNotFound', /tag v9/);
    await rejectsWith(fetch({ commit: 'a'.repeat(40) }), 'RefNotFound');
    await rejectsWith(client.fetch({ key: 'other', url: `file://${dir.path}/missing.git`, ref: {}, auth: none, timeoutMs: 10_000 }), 'RepositoryNotFound');
  });

  test('paths cannot escape the repository', async () => {
    await fetch();
    await rejectsWith(read(second, ['../etc']), 'InvalidPath', /must not contain ".."/);
    await rejectsWith(read(second, ['apps/../../x']), 'InvalidPath');
    await rejectsWith(read(second, ['/etc/passwd']), 'InvalidPath', /relative/);
    await rejectsWith(read(second, ['missing']), 'InvalidPath', /"missing" does not exist/);
  });

  test('symlinks: inside the paths followed; out of the paths, out of the repository or to a directory refused', async () => {
    const inside = await repo.commit({ 'links/ok.yaml': { symlink: '../apps/b.yml' }, 'links/chain.yaml': { symlink: 'ok.yaml' } }, 'link inside');
    await fetch();
    assert.deepEqual(await read(inside, ['links', 'apps/b.yml']), [
      { path: 'apps/b.yml', content: 'kind: B\n' },
      { path: 'links/chain.yaml', content: 'kind: B\n' },
      { path: 'links/ok.yaml', content: 'kind: B\n' },
    ]);
    assert.equal((await read(inside, [])).find((f) => f.path === 'links/chain.yaml')?.content, 'kind: B\n', 'the whole repository: inside it');
    // paths is a boundary: a link to a file of the repository outside spec.paths is refused too
    await rejectsWith(read(inside, ['links']), 'InvalidPath', /symlink links\/(ok|chain)\.yaml points to apps\/b\.yml, outside spec\.paths \(links\)/);

    const outside = await repo.commit(
      { 'links/ok.yaml': null, 'links/chain.yaml': null, 'links/evil.yaml': { symlink: '../../../../../../etc/passwd' } },
      'link outside',
    );
    await fetch();
    await rejectsWith(read(outside, ['links']), 'InvalidPath', /links\/evil\.yaml points outside the repository/);

    const absolute = await repo.commit({ 'links/evil.yaml': { symlink: '/etc/hostname' } }, 'absolute link');
    await fetch();
    await rejectsWith(read(absolute, ['links']), 'InvalidPath', /outside the repository/);

    const toDir = await repo.commit({ 'links/evil.yaml': null, 'links/dir.yaml': { symlink: '../apps' } }, 'dir link');
    await fetch();
    await rejectsWith(read(toDir, ['links', 'apps']), 'InvalidPath', /symlinked directories are not followed/);
    await repo.commit({ 'links/dir.yaml': null }, 'clean up');
  });

  test('file-count and symlink limits are checked before any link is followed', async () => {
    // Each link points out of the repository: following one first would fail with InvalidPath instead.
    const links = await repo.commit(
      { 'many/a.yaml': { symlink: '/etc/passwd' }, 'many/b.yaml': { symlink: '/etc/passwd' }, 'many/c.yaml': { symlink: '/etc/passwd' } },
      'many links',
    );
    await fetch();
    await rejectsWith(read(links, ['many'], { maxFiles: 2 }), 'TooManyFiles', /3 manifest files under many; the limit is 2/);
    await rejectsWith(read(links, ['many'], { maxSymlinks: 2 }), 'TooManyFiles', /3 symbolic links under many; the limit is 2/);
    await rejectsWith(read(links, ['many']), 'InvalidPath', /outside the repository/);
    await repo.commit({ 'many/a.yaml': null, 'many/b.yaml': null, 'many/c.yaml': null }, 'clean up');
  });

  test('a repository over the size limit is refused and its cache dropped', async () => {
    const big = await repo.commit({ 'blob/noise.txt': randomBytes(400_000) }, 'big blob');
    const err = await rejectsWith(
      client.fetch({ key: 'ns/big', url: repo.fileUrl, ref: {}, auth: none, timeoutMs: 10_000, maxBytes: 100_000 }),
      'RepositoryTooLarge',
      /larger than the limit of 97\.7 KiB/,
    );
    assert.doesNotMatch(err.message, new RegExp(big));
    await rejectsWith(
      client.readFiles({ key: 'ns/big', commit: big, paths: [], include: yaml, limits: DEFAULT_READ_LIMITS, timeoutMs: 5000 }),
      'GitFailed',
      /nothing fetched/,
    );
    assert.equal((await client.fetch({ key: 'ns/big', url: repo.fileUrl, ref: {}, auth: none, timeoutMs: 10_000, maxBytes: 50_000_000 })).commit, big);
    await repo.commit({ 'blob/noise.txt': null }, 'clean up');
  });

  test('two controllers sharing one cache directory do not trip over each other (a lock per repository)', async () => {
    // Two clients are two processes as far as the cache is concerned: each has its own in-memory lock.
    const cache = `${dir.path}/shared-cache`;
    const a = new CliGitClient({ cacheDir: cache, allowFileUrls: true });
    const b = new CliGitClient({ cacheDir: cache, allowFileUrls: true });
    let head = '';
    for (let round = 0; round < 4; round++) {
      // the first round also creates the key's repository, from both sides at once
      head = await repo.commit({ 'apps/a.yaml': `kind: A${round + 3}\n` }, `round ${round}`);
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? a : b).fetch({ key: 'ns/shared', url: repo.fileUrl, ref: { branch: 'main' }, auth: none, timeoutMs: 20_000 }),
        ),
      );
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value.commit : String(r.reason))),
        Array(8).fill(head),
      );
    }
    const files = await Promise.all(
      [a, b].map((c) => c.readFiles({ key: 'ns/shared', commit: head, paths: ['apps'], include: yaml, limits: DEFAULT_READ_LIMITS, timeoutMs: 10_000 })),
    );
    assert.deepEqual(files[0], files[1]);
  });

  test('huge files, too many files and non-UTF-8 files are clear errors', async () => {
    const big = await repo.commit({ 'big/huge.yaml': `data: ${'x'.repeat(300_000)}\n` }, 'huge');
    await fetch();
    await rejectsWith(read(big, ['big'], { maxFileBytes: 100_000 }), 'FileTooLarge', /big\/huge\.yaml is 293\.0 KiB; the limit is 97\.7 KiB/);
    await rejectsWith(read(big, [], { maxTotalBytes: 200_000 }), 'FileTooLarge', /total/);
    await rejectsWith(read(big, [], { maxFiles: 2 }), 'TooManyFiles');
    const latin1 = await repo.commit({ 'big/huge.yaml': null, 'enc/latin1.yaml': Buffer.from([0x61, 0x3a, 0x20, 0xe9, 0x0a]) }, 'latin1');
    await fetch();
    await rejectsWith(read(latin1, ['enc']), 'NotUtf8', /enc\/latin1\.yaml is not valid UTF-8/);
    await repo.commit({ 'enc/latin1.yaml': null }, 'clean up');
  });

  test('file:// URLs are refused unless allowed', async () => {
    const strict = new CliGitClient({ cacheDir: `${dir.path}/cache2` });
    await rejectsWith(strict.fetch({ key: 'k', url: repo.fileUrl, ref: {}, auth: none, timeoutMs: 5000 }), 'InvalidRequest', /file:\/\/ URLs are disabled/);
  });

  test('forget drops the cache', async () => {
    await fetch();
    await client.forget('ns/app');
    await rejectsWith(read(second, []), 'GitFailed', /nothing fetched/);
  });
});

describe('CliGitClient over HTTP (git http-backend)', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let repo: TestRepo;
  let client: CliGitClient;
  let server: GitHttpServer;
  let head: string;
  const password = 's3cr3t-Pa55word';

  before(async () => {
    dir = await tempDir();
    repo = await TestRepo.create(dir.path, 'app.git');
    head = await repo.commit({ 'deploy/app.yaml': 'kind: X\n' }, 'first');
    server = await startGitHttpServer({ root: dir.path, basicAuth: { username: 'deployer', password } });
    client = new CliGitClient({ cacheDir: `${dir.path}/cache` });
  });
  after(async () => {
    await server.close();
    await dir.remove();
  });

  test('basic auth: the right credentials fetch and read', async () => {
    const url = `${server.url}/app.git`;
    const res = await client.fetch({ key: 'a', url, ref: { branch: 'main' }, auth: { kind: 'basic', username: 'deployer', password }, timeoutMs: 10_000 });
    assert.equal(res.commit, head);
    const files = await client.readFiles({ key: 'a', commit: head, paths: ['deploy'], include: yaml, limits: DEFAULT_READ_LIMITS, timeoutMs: 10_000 });
    assert.deepEqual(files, [{ path: 'deploy/app.yaml', content: 'kind: X\n' }]);
    assert.ok(server.authorizations.includes(`Basic ${Buffer.from(`deployer:${password}`).toString('base64')}`));
  });

  test('a commit id is fetched over HTTP too', async () => {
    const older = head;
    await repo.commit({ 'deploy/app.yaml': 'kind: Y\n' }, 'second');
    const res = await client.fetch({
      key: 'c',
      url: `${server.url}/app.git`,
      ref: { commit: older },
      auth: { kind: 'basic', username: 'deployer', password },
      timeoutMs: 10_000,
    });
    assert.equal(res.commit, older);
  });

  test('wrong or missing credentials: AuthenticationFailed, and the password is never in the message', async () => {
    const url = `${server.url}/app.git`;
    const wrong = await rejectsWith(
      client.fetch({ key: 'b', url, ref: {}, auth: { kind: 'basic', username: 'deployer', password: 'wrong-password-123' }, timeoutMs: 10_000 }),
      'AuthenticationFailed',
    );
    assert.doesNotMatch(wrong.message, /wrong-password-123/);
    assert.match(wrong.message, /check the credentials/);
    await rejectsWith(client.fetch({ key: 'b', url, ref: {}, auth: none, timeoutMs: 10_000 }), 'AuthenticationFailed');
  });

  test('unknown repository over HTTP', async () => {
    await rejectsWith(
      client.fetch({ key: 'd', url: `${server.url}/nope.git`, ref: {}, auth: { kind: 'basic', username: 'deployer', password }, timeoutMs: 10_000 }),
      'RepositoryNotFound',
    );
  });
});

describe('CliGitClient: bearer tokens, unreachable hosts and timeouts', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let client: CliGitClient;

  before(async () => {
    dir = await tempDir();
    client = new CliGitClient({ cacheDir: `${dir.path}/cache` });
  });
  after(() => dir.remove());

  test('a bearer token is sent as an Authorization header', async () => {
    const repo = await TestRepo.create(dir.path, 'tok.git');
    const head = await repo.commit({ 'a.yaml': 'kind: A\n' });
    const server = await startGitHttpServer({ root: dir.path, bearer: 'tok-123456' });
    try {
      const res = await client.fetch({ key: 't', url: `${server.url}/tok.git`, ref: {}, auth: { kind: 'bearer', token: 'tok-123456' }, timeoutMs: 10_000 });
      assert.equal(res.commit, head);
      assert.ok(server.authorizations.every((a) => a === 'Bearer tok-123456'));
    } finally {
      await server.close();
    }
  });

  test('a closed port is Unreachable', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((r) => server.close(() => r()));
    await rejectsWith(client.fetch({ key: 'u', url: `http://127.0.0.1:${port}/x.git`, ref: {}, auth: none, timeoutMs: 10_000 }), 'Unreachable');
  });

  test('a server that never answers hits the timeout, and git is killed', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const server: Server = createServer(() => {}); // accepts, never answers
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const started = Date.now();
    try {
      const err = await rejectsWith(client.fetch({ key: 'slow', url: `http://127.0.0.1:${port}/x.git`, ref: {}, auth: none, timeoutMs: 700 }), 'Timeout');
      assert.match(err.message, /no answer within 700ms/);
      assert.ok(Date.now() - started < 10_000);
      // The killed git (and its http helper) closes its connections: wait for that, with a deadline.
      assert.ok(sockets.size > 0);
      await withDeadline(
        Promise.all([...sockets].map((s) => (s.closed ? undefined : new Promise((r) => s.once('close', r))))),
        5000,
        'git still holds its connection',
      );
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('ssh needs known_hosts, and host keys are always checked', async () => {
    await rejectsWith(
      client.fetch({ key: 's', url: 'git@github.com:org/repo.git', ref: {}, auth: { kind: 'ssh', privateKey: 'KEY', knownHosts: ' ' }, timeoutMs: 5000 }),
      'InvalidRequest',
      /known_hosts/,
    );
    await rejectsWith(
      client.fetch({ key: 's', url: 'ssh://git@example.com/org/repo.git', ref: {}, auth: none, timeoutMs: 5000 }),
      'InvalidRequest',
      /identity/,
    );
    const cmd = sshCommand("/tmp/a b/id'x", '/tmp/kh', 5000);
    assert.match(cmd, /StrictHostKeyChecking=yes/);
    assert.match(cmd, /-i '\/tmp\/a b\/id'\\''x'/);
    assert.match(cmd, /UserKnownHostsFile='\/tmp\/kh'/);
    assert.match(cmd, /BatchMode=yes/);
  });
});

describe('CliGitClient over ssh (a real sshd on 127.0.0.1)', { skip: existsSync(SSHD) ? false : `no sshd at ${SSHD} (install openssh-server)` }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let server: SshGitServer;
  let repo: TestRepo;
  let head: string;
  let client: CliGitClient;
  before(async () => {
    dir = await tempDir();
    repo = await TestRepo.create(dir.path, 'ssh.git');
    head = await repo.commit({ 'deploy/a.yaml': 'kind: S\n' });
    server = await startSshGitServer(`${dir.path}/sshd`);
    client = new CliGitClient({ cacheDir: `${dir.path}/cache` });
  });
  after(async () => {
    await server?.close();
    await dir.remove();
  });
  const url = () => `${server.url}${repo.bare}`;

  test('the right key and host key fetch and read; key files are removed after the call', async () => {
    const res = await client.fetch({
      key: 's',
      url: url(),
      ref: { branch: 'main' },
      auth: { kind: 'ssh', privateKey: server.clientKey, knownHosts: server.knownHosts },
      timeoutMs: 20_000,
    });
    assert.equal(res.commit, head);
    const files = await client.readFiles({ key: 's', commit: head, paths: [], include: yaml, limits: DEFAULT_READ_LIMITS, timeoutMs: 10_000 });
    assert.deepEqual(files, [{ path: 'deploy/a.yaml', content: 'kind: S\n' }]);
    assert.deepEqual(await readdir(`${dir.path}/cache/tmp`), []);
  });

  test('a host key that is not in known_hosts is refused (no trust on first use)', async () => {
    const otherHost = server.knownHosts.replace(/ssh-ed25519 \S+/, 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl');
    await rejectsWith(
      client.fetch({ key: 's2', url: url(), ref: {}, auth: { kind: 'ssh', privateKey: server.clientKey, knownHosts: otherHost }, timeoutMs: 20_000 }),
      'HostKeyVerificationFailed',
    );
    await rejectsWith(
      client.fetch({
        key: 's2',
        url: url(),
        ref: {},
        auth: {
          kind: 'ssh',
          privateKey: server.clientKey,
          knownHosts: 'github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
        },
        timeoutMs: 20_000,
      }),
      'HostKeyVerificationFailed',
    );
  });

  test('a key the server does not accept is AuthenticationFailed, and the key is not in the message', async () => {
    const other = await tempDir();
    try {
      const { run } = await import('./run.ts');
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', `${other.path}/k`], { env: { PATH: process.env.PATH ?? '/usr/bin' }, timeoutMs: 10_000 });
      const { readFile } = await import('node:fs/promises');
      const wrongKey = await readFile(`${other.path}/k`, 'utf8');
      const err = await rejectsWith(
        client.fetch({ key: 's3', url: url(), ref: {}, auth: { kind: 'ssh', privateKey: wrongKey, knownHosts: server.knownHosts }, timeoutMs: 20_000 }),
        'AuthenticationFailed',
      );
      assert.doesNotMatch(err.message, /PRIVATE KEY/);
    } finally {
      await other.remove();
    }
  });
});

describe('URL and message hygiene', () => {
  test('credentials in URLs are refused; credentials over plain http only to loopback', () => {
    assert.throws(() => checkUrl('https://user:pw@github.com/a/b.git', none, false), /holds credentials/);
    assert.throws(() => checkUrl('https://tok@github.com/a/b.git', none, false), /holds credentials/);
    assert.throws(() => checkUrl('http://git.example.com/a.git', { kind: 'bearer', token: 't' }, false), /plain http/);
    assert.equal(checkUrl('http://127.0.0.1:8080/a.git', { kind: 'bearer', token: 't' }, false), 'http');
    assert.equal(checkUrl('http://git.example.com/a.git', none, false), 'http');
    assert.equal(checkUrl('git@github.com:org/repo.git', none, false), 'ssh');
    assert.equal(checkUrl('ssh://git@github.com/org/repo.git', none, false), 'ssh');
    assert.throws(() => checkUrl('ext::sh -c touch% /tmp/pwned', none, false), /unsupported URL scheme|invalid repository URL/);
    assert.throws(() => checkUrl('--upload-pack=touch /tmp/x', none, false), /invalid repository URL/);
  });

  test('redact removes secrets, userinfo and authorization headers', () => {
    assert.equal(redact('fatal: https://u:p@h/x failed with hunter22', ['hunter22']), 'fatal: https://***@h/x failed with *****');
    assert.equal(redact('Authorization: Bearer abc', []), 'Authorization: ***');
  });

  test('credentials in odd URL forms never reach a message', () => {
    for (const url of ['https:///TOKEN@github.com/a/b.git', 'https:TOKEN@github.com/a/b.git', 'https:\\\\TOKEN@github.com/a/b.git', '-https://u:TOKEN@h/x']) {
      assert.throws(
        () => checkUrl(url, none, false),
        (err: Error) => !err.message.includes('TOKEN'),
        url,
      );
      assert.ok(!redact(`fatal: unable to access '${url}': 403`, []).includes('TOKEN'), url);
    }
  });

  test('repository paths are normalised', () => {
    assert.equal(normaliseRepoPath('./apps//prod/'), 'apps/prod');
    assert.equal(normaliseRepoPath('.'), '');
    assert.throws(() => normaliseRepoPath('a/../b'), /\.\./);
  });

  test('git failures are classified', () => {
    const c = (stderr: string) => classifyFailure({ stderr, timedOut: false });
    assert.equal(c("fatal: couldn't find remote ref refs/heads/x"), 'RefNotFound');
    assert.equal(c("fatal: Authentication failed for 'https://h/x'"), 'AuthenticationFailed');
    assert.equal(c('Host key verification failed.'), 'HostKeyVerificationFailed');
    assert.equal(c("fatal: unable to access 'https://h/': Could not resolve host: h"), 'Unreachable');
    assert.equal(c("fatal: repository 'https://h/x/' not found"), 'RepositoryNotFound');
    assert.equal(classifyFailure({ stderr: '', timedOut: true }), 'Timeout');
  });
});

test('run: aborting its signal kills the process (what stops a fetch past the size limit)', async () => {
  const stop = new AbortController();
  const started = Date.now();
  const running = run('sleep', ['30'], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, timeoutMs: 60_000, signal: stop.signal });
  stop.abort();
  const result = await withDeadline(running, 10_000, 'sleep still running');
  assert.equal(result.aborted, true);
  assert.equal(result.timedOut, false);
  assert.ok(Date.now() - started < 10_000);
});
