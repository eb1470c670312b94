import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from './cache-lock.ts';

/** A pid no process has: the holder of a lock it left behind is gone. */
const DEAD_PID = 2 ** 22 + 12345;

async function inTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-lock-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('the repository cache lock', () => {
  test('holders never overlap, also when many waiters find a lock its dead holder left behind', () =>
    inTempDir(async (dir) => {
      for (let round = 0; round < 30; round++) {
        const path = join(dir, `repo-${round}.lock`);
        await writeFile(path, JSON.stringify({ pid: DEAD_PID, host: hostname(), token: 'dead' }));
        let inside = 0;
        let most = 0;
        const holder = () =>
          withFileLock(path, 10_000, async () => {
            inside++;
            most = Math.max(most, inside);
            await new Promise((resolve) => setImmediate(resolve));
            await new Promise((resolve) => setTimeout(resolve, 5));
            inside--;
          });
        await Promise.all(Array.from({ length: 4 }, holder));
        assert.equal(most, 1, `round ${round}: ${most} holders at once`);
      }
    }));

  test('a lock held by a live process past the wait is a Timeout naming it', () =>
    inTempDir(async (dir) => {
      const path = join(dir, 'repo.lock');
      await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), token: 'other' }));
      await assert.rejects(
        withFileLock(path, 300, async () => assert.fail('must not run')),
        (err: Error) => /in use by process \d+ on .* for longer than 300ms/.test(err.message),
      );
    }));
});
