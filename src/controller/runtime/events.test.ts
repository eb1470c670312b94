import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { KubeError, kinds } from '../../ports/kube.ts';
import { EventRecorder, eventName } from './events.ts';

const source = { component: 'sluice-controller', reportingComponent: 'sluice.dev/controller', instance: 'test' };
const involved = { apiVersion: 'sluice.dev/v1alpha1', kind: 'Rollout', metadata: { name: 'web', namespace: 'shop', uid: 'u1' } };
const log = pino({ level: 'silent' });
const aborted = { type: 'Warning' as const, reason: 'RolloutAborted', message: 'Rollout aborted' };

describe('event recorder', () => {
  test('one Event per transition: the same transition again is a duplicate, another transition is new', async () => {
    const kube = new FakeKube();
    const events = new EventRecorder(kube, () => new Date('2026-01-01T00:00:00Z'), source);
    assert.equal(await events.record(involved, aborted, [3, 'abc', 0], log), 'recorded');
    assert.equal(await events.record(involved, aborted, [3, 'abc', 0], log), 'duplicate');
    assert.equal(await events.record(involved, aborted, [3, 'abc', 1], log), 'recorded');
    const stored = kube.all(kinds.event, 'shop') as Array<{ reason: string; involvedObject: { uid: string }; reportingInstance: string }>;
    assert.equal(stored.length, 2);
    assert.equal(stored[0]?.involvedObject.uid, 'u1');
    assert.equal(stored[0]?.reportingInstance, 'test');
  });

  test('names are stable, short and valid object names', () => {
    const name = eventName({ metadata: { name: 'x'.repeat(300), uid: 'u' } }, [1], aborted);
    assert.equal(name, eventName({ metadata: { name: 'x'.repeat(300), uid: 'u' } }, [1], aborted));
    assert.ok(name.length <= 253);
    assert.match(name, /^x+\.[0-9a-f]{16}$/);
  });

  test('messages longer than Kubernetes allows are cut, not refused', async () => {
    const kube = new FakeKube();
    const events = new EventRecorder(kube, () => new Date(), source);
    await events.record(involved, { ...aborted, message: 'm'.repeat(5000) }, [], log);
    const [event] = kube.all(kinds.event, 'shop') as Array<{ message: string }>;
    assert.ok((event?.message.length ?? 0) <= 1024);
  });

  test('forbidden (no RBAC, or a namespace being deleted) goes on; other failures fail the reconcile', async () => {
    const kube = new FakeKube();
    const events = new EventRecorder(kube, () => new Date(), source);
    kube.failNext.push({ verb: 'create', plural: 'events', status: 403 });
    assert.equal(await events.record(involved, aborted, [], log), 'forbidden');
    kube.failNext.push({ verb: 'create', plural: 'events', status: 500 });
    await assert.rejects(events.record(involved, aborted, [], log), (err: unknown) => err instanceof KubeError && err.status === 500);
  });
});
