import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { Registry } from 'prom-client';
import { FakeClock } from '../../../test/fakes/clock.ts';
import { FakeKube } from '../../../test/fakes/kube.ts';
import { kinds } from '../../ports/kube.ts';
import { Controller, keyOf, parseKey, TerminalError, type ObjectKey, type ReconcileContext } from './controller.ts';
import { createControllerMetrics } from './metrics.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** A logger whose lines the test can read. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

const configMap = (name: string, namespace = 'team') => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace } });
const configMaps = { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true } as const;

describe('controller shell', () => {
  test('keys: namespace/name, or the name alone for cluster-scoped objects', () => {
    assert.equal(keyOf({ metadata: { namespace: 'a', name: 'b' } }), 'a/b');
    assert.equal(keyOf({ metadata: { name: 'c' } }), 'c');
    assert.deepEqual(parseKey('a/b'), { namespace: 'a', name: 'b' });
    assert.deepEqual(parseKey('c'), { namespace: undefined, name: 'c' });
  });

  test('every reconcile gets a child logger with controller, namespace, name and reconcileID', async () => {
    const kube = new FakeKube();
    const { logger, lines } = capture();
    const seen: ObjectKey[] = [];
    const controller = new Controller({
      name: 'demo',
      primary: kube.informer(configMaps),
      reconciler: {
        async reconcile(key, { log }: ReconcileContext) {
          seen.push(key);
          log.info('Reconciled');
        },
      },
      clock: new FakeClock(),
      logger,
    });
    await kube.create(configMaps, configMap('one'));
    await controller.start();
    await controller.queue.idle();
    assert.deepEqual(seen, [{ namespace: 'team', name: 'one' }]);
    const line = lines.find((l) => l.msg === 'Reconciled');
    assert.equal(line?.controller, 'demo');
    assert.equal(line?.namespace, 'team');
    assert.equal(line?.name, 'one');
    assert.equal(typeof line?.reconcileID, 'number');
    await controller.stop();
  });

  test('stop() waits for the reconciles in flight and takes no new work', async () => {
    const kube = new FakeKube();
    const gate = deferred();
    let finished = 0;
    let started = 0;
    const controller = new Controller({
      name: 'demo',
      primary: kube.informer(configMaps),
      reconciler: {
        async reconcile() {
          started++;
          await gate.promise;
          finished++;
        },
      },
      clock: new FakeClock(),
      logger: pino({ level: 'silent' }),
    });
    await kube.create(configMaps, configMap('one'));
    await controller.start();
    assert.equal(started, 1);
    let stopped = false;
    const stopping = controller.stop().then(() => (stopped = true));
    await kube.create(configMaps, configMap('two')); // after stop: never reconciled
    await new Promise((r) => setImmediate(r));
    assert.equal(stopped, false, 'stop() returned while a reconcile was still running');
    gate.resolve();
    await stopping;
    assert.equal(finished, 1);
    assert.equal(started, 1);
  });

  test('a TerminalError is not retried with backoff; it requeues after its own delay; other errors back off', async () => {
    const kube = new FakeKube();
    const clock = new FakeClock();
    const calls: string[] = [];
    const registry = new Registry();
    const controller = new Controller({
      name: 'demo',
      primary: kube.informer(configMaps),
      reconciler: {
        async reconcile({ name }) {
          calls.push(name);
          if (name === 'terminal') throw new TerminalError('invalid', 60_000);
          if (name === 'flaky') throw new Error('API down');
        },
      },
      clock,
      logger: pino({ level: 'silent' }),
      metrics: createControllerMetrics(registry),
    });
    await kube.create(configMaps, configMap('terminal'));
    await kube.create(configMaps, configMap('flaky'));
    await controller.start();
    await controller.queue.idle();
    for (let s = 0; s < 59; s++) {
      clock.advance(1_000);
      await controller.queue.idle();
    }
    const terminalCalls = () => calls.filter((c) => c === 'terminal').length;
    assert.equal(terminalCalls(), 1, 'a terminal error must not be retried before its delay');
    assert.ok(calls.filter((c) => c === 'flaky').length > 3, 'a retryable error backs off and retries');
    clock.advance(1_000);
    await controller.queue.idle();
    assert.equal(terminalCalls(), 2);
    const metrics = await registry.metrics();
    assert.match(metrics, /sluice_controller_reconcile_total\{controller="demo",result="terminal"\} 2/);
    assert.match(metrics, /sluice_controller_reconcile_errors_total\{controller="demo"\} [4-9]/);
    assert.match(metrics, /sluice_workqueue_retries_total\{name="demo"\} [4-9]/);
    assert.match(metrics, /sluice_workqueue_depth\{name="demo"\} 0/);
    await controller.stop();
  });

  test('watches map other objects to keys; ignored event types do not queue', async () => {
    const kube = new FakeKube();
    const seen: string[] = [];
    const primary = kube.informer(configMaps);
    const controller = new Controller({
      name: 'demo',
      primary,
      ignore: ['DELETED'],
      watches: [{ informer: kube.informer(kinds.secret), keysFor: (s) => [`${s.metadata?.namespace}/owner-of-${s.metadata?.name}`] }],
      reconciler: {
        async reconcile({ namespace, name }) {
          seen.push(`${namespace}/${name}`);
        },
      },
      clock: new FakeClock(),
      logger: pino({ level: 'silent' }),
    });
    await controller.start();
    await kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'team' } });
    await controller.queue.idle();
    await kube.create(configMaps, configMap('cm'));
    await controller.queue.idle();
    await kube.delete(configMaps, 'team', 'cm');
    await controller.queue.idle();
    assert.deepEqual(seen, ['team/owner-of-s', 'team/cm']);
    await controller.stop();
  });

  test('startCaches() alone reconciles nothing, even when objects change (a follower only watches); run() then looks at every object', async () => {
    const kube = new FakeKube();
    const seen: string[] = [];
    const controller = new Controller({
      name: 'demo',
      primary: kube.informer(configMaps),
      watches: [{ informer: kube.informer(kinds.secret), keysFor: (s) => [`${s.metadata?.namespace}/owner-of-${s.metadata?.name}`] }],
      reconciler: {
        async reconcile({ namespace, name }) {
          seen.push(`${namespace}/${name}`);
        },
      },
      clock: new FakeClock(),
      logger: pino({ level: 'silent' }),
    });
    await kube.create(configMaps, configMap('before'));
    await controller.startCaches();
    await kube.create(configMaps, configMap('while-following'));
    await kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'team' } });
    await controller.queue.idle();
    assert.deepEqual(seen, [], 'a controller whose caches run but which was not told to run() reconciled');
    controller.run();
    await controller.queue.idle();
    assert.deepEqual(seen.sort(), ['team/before', 'team/while-following']);
    await kube.create(kinds.secret, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 't', namespace: 'team' } });
    await controller.queue.idle();
    assert.deepEqual(seen.sort(), ['team/before', 'team/owner-of-t', 'team/while-following']);
    await controller.stop();
  });
});
