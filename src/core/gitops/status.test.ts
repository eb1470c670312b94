import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GitSyncStatus } from '../../api/git-sync.ts';
import { calculateBlockedStatus, calculateFailedStatus, calculateSyncedStatus, statusMergePatch } from './status.ts';

const now = new Date('2025-06-02T10:00:00Z');
const later = new Date('2025-06-02T10:05:00Z');
const synced = (at: Date, commit = 'a'.repeat(40)) =>
  calculateSyncedStatus(undefined, {
    commit,
    now: at,
    generation: 1,
    inventory: [{ apiVersion: 'v1', kind: 'ConfigMap', namespace: 'team', name: 'c' }],
    applied: 1,
    changed: 1,
    pruned: 0,
    pruneProblems: [],
    nextSyncAt: new Date(at.getTime() + 60_000),
    handledRequest: undefined,
    hasWindows: false,
  });

/** A stalled failed attempt `later`, after `previous`. */
const failedAfter = (previous: GitSyncStatus, error: Parameters<typeof calculateFailedStatus>[1]['error']) =>
  calculateFailedStatus(previous, {
    error,
    stalled: true,
    now: later,
    generation: 1,
    inventory: undefined,
    nextSyncAt: undefined,
    handledRequest: undefined,
    hasWindows: false,
    attempted: true,
  });

test('a failure keeps the last synced commit and inventory, and names the error', () => {
  const before = synced(now);
  const failed = failedAfter(before, { reason: 'InvalidManifest', message: 'bad', file: 'a.yaml', document: 2, commit: 'b'.repeat(40) });
  assert.equal(failed.lastSyncedCommit, 'a'.repeat(40));
  assert.equal(failed.lastAttemptedCommit, 'b'.repeat(40));
  assert.equal(failed.lastAttemptTime, later.toISOString());
  assert.deepEqual(failed.inventory, before.inventory);
  assert.deepEqual(
    failed.conditions?.map((c) => [c.type, c.status, c.reason]),
    [
      ['Ready', 'False', 'InvalidManifest'],
      ['Stalled', 'True', 'InvalidManifest'],
    ],
  );
  assert.equal(failed.nextSyncAt, undefined);
});

test('conditions keep their transition time while the status does not flip', () => {
  const first = synced(now);
  const second = calculateSyncedStatus(first, {
    commit: 'c'.repeat(40),
    now: later,
    generation: 1,
    inventory: [],
    applied: 0,
    changed: 0,
    pruned: 1,
    pruneProblems: [],
    nextSyncAt: undefined,
    handledRequest: 'r',
    hasWindows: true,
  });
  const ready = second.conditions?.find((c) => c.type === 'Ready');
  assert.equal(ready?.lastTransitionTime, now.toISOString());
  assert.match(ready?.message ?? '', /Applied 0 objects from commit cccccccccccc \(0 changed, pruned 1\)/);
  assert.equal(second.lastHandledSyncRequest, 'r');
  assert.ok(second.conditions?.some((c) => c.type === 'SyncAllowed' && c.status === 'True'));
});

test('a blocked sync changes only the window condition and the next sync time', () => {
  const before = synced(now);
  const blocked = calculateBlockedStatus(before, 'Sync denied until X', later, now);
  const patch = statusMergePatch(before, blocked);
  assert.deepEqual(Object.keys(patch ?? {}).sort(), ['conditions', 'nextSyncAt']);
});

test('statusMergePatch: nulls for removed fields, nothing when equal', () => {
  const a: GitSyncStatus = { lastSyncedCommit: 'x', lastError: { reason: 'R', message: 'm' } };
  const b: GitSyncStatus = { lastSyncedCommit: 'y' };
  assert.deepEqual(statusMergePatch(a, b), { lastSyncedCommit: 'y', lastError: null });
  assert.equal(statusMergePatch(b, { ...b }), undefined);
  assert.deepEqual(statusMergePatch(undefined, b), { lastSyncedCommit: 'y' });
});

test('condition messages are bounded, whatever the number of problems (the API server refuses an oversized status)', () => {
  const problems = Array.from({ length: 2000 }, (_, i) => `ConfigMap team/config-${i}: forbidden: cannot delete configmaps in the namespace "team"`);
  const status = calculateSyncedStatus(undefined, {
    commit: 'a'.repeat(40),
    now,
    generation: 1,
    inventory: [],
    applied: 0,
    changed: 0,
    pruned: 0,
    pruneProblems: problems,
    nextSyncAt: undefined,
    handledRequest: undefined,
    hasWindows: false,
  });
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  assert.ok((ready?.message ?? '').length <= 4200, `message of ${ready?.message?.length} characters`);
  assert.match(ready?.message ?? '', /could not prune: ConfigMap team\/config-0: .*… \d+ more$/);
  const failed = failedAfter(status, { reason: 'InvalidManifest', message: problems.join('\n'), commit: 'b'.repeat(40) });
  assert.ok((failed.conditions?.find((c) => c.type === 'Ready')?.message ?? '').length <= 4200);
});
