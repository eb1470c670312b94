// A lock per cached repository that holds across processes: two controllers on one machine
// (or two replicas sharing a volume) may share one git cache directory; without it their
// fetches into the same bare repository fail with "cannot lock ref" or remove each other's
// half-made repository. A lock is a file created exclusively (O_EXCL) next to the repository,
// holding who took it; its holder touches it while it works, so a lock is stale when its
// holder is gone (same host, no such process) or it has not been touched for STALE_MS. Waiters
// remove a stale lock one at a time and only after looking again (breakStaleLock).
import { randomUUID } from 'node:crypto';
import { open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { hostname } from 'node:os';
import { GitError } from '../../ports/git.ts';

const STALE_MS = 2 * 60_000;
const TOUCH_MS = 20_000;
const POLL_MS = 100;

interface Holder {
  pid: number;
  host: string;
  token: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, not ours
  }
}

async function isStale(path: string): Promise<{ stale: boolean; holder: Holder | undefined; text?: string }> {
  const [text, info] = await Promise.all([readFile(path, 'utf8').catch(() => undefined), stat(path).catch(() => undefined)]);
  if (text === undefined || !info) return { stale: false, holder: undefined }; // just released: try again
  let holder: Holder | undefined;
  try {
    holder = JSON.parse(text) as Holder;
  } catch {
    holder = undefined; // being written, or garbage: age decides
  }
  if (holder && holder.host === hostname() && !alive(holder.pid)) return { stale: true, holder, text };
  return { stale: Date.now() - info.mtimeMs > STALE_MS, holder, text };
}

/** A breaker older than this was left by a process that died while breaking a lock. */
const BREAKER_STALE_MS = 10_000;

/**
 * Removes the stale lock at `path` (its content was `staleText`), and nothing else: waiters
 * break a lock one at a time (a breaker file taken exclusively), and under the breaker look again,
 * so a lock that another waiter took meanwhile (other content) is never removed.
 */
async function breakStaleLock(path: string, staleText: string | undefined): Promise<void> {
  const breaker = `${path}.break`;
  try {
    await (await open(breaker, 'wx', 0o600)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const info = await stat(breaker).catch(() => undefined);
    if (info && Date.now() - info.mtimeMs > BREAKER_STALE_MS) await rm(breaker, { force: true });
    return; // someone else is breaking it: wait and look again
  }
  try {
    const again = await isStale(path);
    if (again.stale && again.text === staleText) await rm(path, { force: true });
  } finally {
    await rm(breaker, { force: true });
  }
}

/**
 * Takes the lock at `path` (waiting up to `timeoutMs` for another holder), runs `fn`, releases
 * it. A lock held by someone else past the wait is a Timeout error naming the holder.
 */
export async function withFileLock<T>(path: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const token = randomUUID();
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o600);
      try {
        await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), token } satisfies Holder));
      } finally {
        await handle.close();
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const { stale, holder, text } = await isStale(path);
    if (stale) {
      await breakStaleLock(path, text);
      continue;
    }
    if (Date.now() >= deadline) {
      const who = holder ? `process ${holder.pid} on ${holder.host}` : 'another process';
      throw new GitError('Timeout', `the repository cache is in use by ${who} for longer than ${timeoutMs}ms; the next sync retries`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS + Math.floor(Math.random() * POLL_MS)));
  }
  const touch = setInterval(() => {
    const now = new Date();
    void utimes(path, now, now).catch(() => undefined);
  }, TOUCH_MS);
  touch.unref();
  try {
    return await fn();
  } finally {
    clearInterval(touch);
    // Release only our own lock (a holder declared stale may have lost it to another).
    const text = await readFile(path, 'utf8').catch(() => undefined);
    if (text?.includes(token)) await rm(path, { force: true });
  }
}
