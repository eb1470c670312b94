// The audit-log request count (run with `npx node --test bench/lib/audit.test.ts`; not part of
// npm test, like the rest of bench/). The API server's log writer rotates its file at a size
// limit (100 MB when --audit-log-maxsize is 0); a count across a rotation must not come back short.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { auditArgs, auditMark, countRequests } from './audit.ts';

const line = (verb: string, resource: string, t: number, ua = 'sluice-controller/1'): string =>
  JSON.stringify({
    stage: 'ResponseComplete',
    verb,
    userAgent: ua,
    requestReceivedTimestamp: new Date(t).toISOString(),
    objectRef: { resource },
    responseStatus: { code: 200 },
    requestURI: `/apis/x/${resource}`,
  }) + '\n';

test('requests written before and after a rotation are all counted, and only those after the mark', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'audit.log');
  writeFileSync(log, line('get', 'rollouts', 1_000));
  const mark = auditMark(log);
  appendFileSync(log, line('create', 'replicasets', 2_000) + line('patch', 'rollouts', 2_100, 'argo-rollouts/1'));
  // the writer's rotation: the full file is renamed with a timestamp, a new one is started
  renameSync(log, join(dir, 'audit-2026-12-01T14-30-00.000.log'));
  writeFileSync(log, line('patch', 'replicasets', 3_000) + line('update', 'rollouts', 3_100));

  const counts = await countRequests(mark, /^sluice-controller/, 0, 10_000);
  assert.equal(counts.total, 3);
  assert.deepEqual(counts.byVerb, { create: 1, patch: 1, update: 1 });
});

test('a count whose log lost its first part says so instead of coming back short', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'audit.log');
  writeFileSync(log, line('get', 'rollouts', 1_000).repeat(10));
  const mark = auditMark(log);
  rmSync(log); // rotated and the backup deleted
  writeFileSync(log, line('patch', 'replicasets', 3_000));
  await assert.rejects(countRequests(mark, /^sluice-controller/, 0, 10_000), /audit log .* (rotated|replaced)/);
});

test('the API server is told never to rotate during a run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'audit-'));
  try {
    const { args } = auditArgs(dir);
    const size = Number(args.find((a) => a.startsWith('--audit-log-maxsize='))?.split('=')[1]);
    assert.ok(size >= 100_000, `--audit-log-maxsize=${size} MB (0 means the writer's default of 100 MB)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
