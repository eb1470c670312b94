import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { KubeError, kinds, type KubeObject } from '../../ports/kube.ts';
import { TerminalError } from './controller.ts';
import { STATUS_REJECTED_CONDITION, StatusWriter } from './status-writer.ts';

const NOW = new Date('2026-03-01T10:00:00Z');

async function setup(status: Record<string, unknown>) {
  const kube = new FakeKube();
  const created = await kube.create(kinds.gitSync, { apiVersion: 'sluice.dev/v1alpha1', kind: 'GitSync', metadata: { name: 'g', namespace: 'ns' }, spec: {} });
  await kube.patch(kinds.gitSync, 'ns', 'g', { status }, { type: 'merge', subresource: 'status' });
  const read = () => kube.peek(kinds.gitSync, 'ns', 'g') as KubeObject & { status?: Record<string, unknown> };
  return { kube, writer: new StatusWriter(kube, () => NOW), read, created };
}

describe('status writer', () => {
  test('nothing is sent when the status is unchanged (whatever the key order)', async () => {
    const { kube, writer, read } = await setup({ a: 1, b: { c: 2, d: [1, 2] } });
    const before = kube.writes.length;
    assert.equal(await writer.write(kinds.gitSync, read(), { b: { d: [1, 2], c: 2 }, a: 1 }), 'unchanged');
    assert.equal(kube.writes.length, before);
  });

  test('the written status is exactly the computed one: removed keys, nested ones included, are removed', async () => {
    const { writer, read } = await setup({ a: 1, nested: { keep: 'x', drop: 'y' }, gone: true });
    assert.equal(await writer.write(kinds.gitSync, read(), { a: 2, nested: { keep: 'x' } }), 'written');
    assert.deepEqual(read().status, { a: 2, nested: { keep: 'x' } });
  });

  test('a status computed from a stale read is a conflict and changes nothing', async () => {
    const { kube, writer, read } = await setup({ phase: 'Paused' });
    const stale = read();
    await kube.patch(kinds.gitSync, 'ns', 'g', { status: { phase: 'Paused', abort: true } }, { type: 'merge', subresource: 'status' }); // a person's abort
    assert.equal(await writer.write(kinds.gitSync, stale, { phase: 'Progressing' }), 'conflict');
    assert.deepEqual(read().status, { phase: 'Paused', abort: true });
  });

  test('an object deleted meanwhile is gone, not an error', async () => {
    const { kube, writer, read } = await setup({ phase: 'Paused' });
    const obj = read();
    await kube.delete(kinds.gitSync, 'ns', 'g');
    assert.equal(await writer.write(kinds.gitSync, obj, { phase: 'Healthy' }), 'gone');
  });

  test('a status the API server refuses (422) is reported once as a condition and retried slowly, not at full speed', async () => {
    const { kube, writer, read } = await setup({ phase: 'Progressing', conditions: [{ type: 'Ready', status: 'True' }] });
    const refuseLargeWrites = kube.patch.bind(kube);
    kube.patch = async (kind, ns, name, body, opts) => {
      if (JSON.stringify(body).includes('huge')) throw new KubeError(422, 'Invalid', 'status.message: Too long: must have at most 32768 bytes');
      return refuseLargeWrites(kind, ns, name, body, opts);
    };
    const attempt = () => writer.write(kinds.gitSync, read(), { phase: 'Degraded', message: 'huge', conditions: [{ type: 'Ready', status: 'True' }] });
    await assert.rejects(attempt(), (err: unknown) => err instanceof TerminalError && (err.requeueAfterMs ?? 0) >= 60_000);
    const condition = (read().status?.conditions as Array<{ type: string; message?: string }>).find((c) => c.type === STATUS_REJECTED_CONDITION);
    assert.match(condition?.message ?? '', /Too long/);
    assert.equal(read().status?.phase, 'Progressing', 'nothing else of the refused status was written');
    const writes = kube.writes.length;
    await assert.rejects(attempt(), TerminalError);
    assert.equal(kube.writes.length, writes, 'the same rejection is not written twice');
    // A later good status clears the writer's own condition.
    assert.equal(await writer.write(kinds.gitSync, read(), { phase: 'Healthy', conditions: [{ type: 'Ready', status: 'True' }] }), 'written');
    assert.deepEqual(read().status, { phase: 'Healthy', conditions: [{ type: 'Ready', status: 'True' }] });
  });

  test('other API errors are thrown (the queue backs off)', async () => {
    const { kube, writer, read } = await setup({ phase: 'Progressing' });
    kube.failNext.push({ verb: 'patch', plural: 'gitsyncs', status: 500 });
    await assert.rejects(writer.write(kinds.gitSync, read(), { phase: 'Healthy' }), (err: unknown) => err instanceof KubeError && err.status === 500);
  });

  test('fresh: the object a write returned stands in for the copy it replaced, and only for that copy', async () => {
    const { kube, writer, read } = await setup({ phase: 'Progressing' });
    const stale = read();
    assert.equal(writer.fresh(kinds.gitSync, 'ns', 'g', stale), stale, 'nothing written yet: the cache is the truth');
    assert.equal(await writer.write(kinds.gitSync, stale, { phase: 'Paused' }), 'written');
    const standIn = writer.fresh(kinds.gitSync, 'ns', 'g', stale) as KubeObject & { status?: Record<string, unknown> };
    assert.deepEqual(standIn.status, { phase: 'Paused' }, 'the cache still shows what the write replaced');
    assert.equal(standIn.metadata?.resourceVersion, read().metadata?.resourceVersion);
    assert.equal(await writer.write(kinds.gitSync, standIn, { phase: 'Healthy' }), 'written', 'a write from the stand-in is not a conflict');
    await kube.patch(kinds.gitSync, 'ns', 'g', { status: { abort: true } }, { type: 'merge', subresource: 'status' }); // someone else
    const caughtUp = read();
    assert.equal(writer.fresh(kinds.gitSync, 'ns', 'g', caughtUp), caughtUp, 'once the cache moved past, the cache wins');
    assert.equal(writer.fresh(kinds.gitSync, 'ns', 'g', stale), stale, 'and the stand-in is forgotten');
  });

  test('fresh: a recreated object (another uid) or one gone from the cache is never stood in for', async () => {
    const { kube, writer, read } = await setup({ phase: 'Progressing' });
    const old = read();
    assert.equal(await writer.write(kinds.gitSync, old, { phase: 'Paused' }), 'written');
    const recreated = { ...old, metadata: { ...old.metadata, uid: 'another' } };
    assert.equal(writer.fresh(kinds.gitSync, 'ns', 'g', recreated), recreated);
    assert.equal(await writer.write(kinds.gitSync, read(), { phase: 'Healthy' }), 'written');
    await kube.delete(kinds.gitSync, 'ns', 'g');
    assert.equal(writer.fresh(kinds.gitSync, 'ns', 'g', undefined), undefined);
  });
});
