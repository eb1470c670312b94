// Informers on our list-watch, against a stand-in API server on 127.0.0.1 that the test drives
// event by event: list, watch events, bookmarks, a re-watch after the server ends a watch, a 410
// relist that finds a delete, a broken connection, and stop() leaving nothing behind. The line
// splitting is tested on ListWatch alone, with chunks cut where the test says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { kinds, type KubeObject, type WatchEventType } from '../../ports/kube.ts';
import { RestKubeClient } from './client.ts';
import { kubeconfigFromText } from './kubeconfig.ts';
import { ListWatch } from './list-watch.ts';

async function waitUntil(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const pod = (name: string, rv: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({ metadata: { name, namespace: 'ns', resourceVersion: rv }, spec: { nodeName: 'n1' }, ...extra }) as KubeObject;

interface Watch {
  url: URL;
  res: ServerResponse;
  closed: boolean;
  send(type: string, object: unknown): void;
}

/** The stand-in API server: lists answer `list()`, watches are held open for the test to drive. */
async function apiServer(t: { after: (fn: () => Promise<void>) => void }) {
  const state = {
    list: (): { status: number; body: unknown } => ({ status: 200, body: { metadata: { resourceVersion: '10' }, items: [] } }),
    watchStatus: 200,
  };
  const lists: URL[] = [];
  const watches: Watch[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.searchParams.get('watch') === 'true') {
      if (state.watchStatus !== 200) {
        res.writeHead(state.watchStatus, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ kind: 'Status', code: state.watchStatus, reason: 'Expired', message: 'too old resource version' }));
        state.watchStatus = 200;
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
      const w: Watch = { url, res, closed: false, send: (type, object) => res.write(`${JSON.stringify({ type, object })}\n`) };
      req.socket.on('close', () => (w.closed = true));
      watches.push(w);
      return;
    }
    lists.push(url);
    const { status, body } = state.list();
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const kc = kubeconfigFromText(
    `{clusters: [{name: c, cluster: {server: "http://127.0.0.1:${port}"}}], users: [{name: u, user: {token: t}}],
      contexts: [{name: x, context: {cluster: c, user: u}}], current-context: x}`,
    tmpdir(),
  );
  return { state, lists, watches, kc, server };
}

function record(informer: { onChange(h: (type: WatchEventType, obj: KubeObject) => void): void }) {
  const seen: Array<[WatchEventType, string, string]> = [];
  informer.onChange((type, obj) => seen.push([type, obj.metadata?.name ?? '', obj.metadata?.resourceVersion ?? '']));
  return seen;
}

test('list, then watch: events replace objects (never edit them), bookmarks move the resourceVersion, a watch the server ends is resumed', async (t) => {
  const api = await apiServer(t);
  api.state.list = () => ({ status: 200, body: { metadata: { resourceVersion: '10' }, items: [pod('a', '1'), pod('b', '2')] } });
  const informer = new RestKubeClient(api.kc).informer(kinds.pod, { labelSelector: 'app=web' });
  t.after(() => informer.stop());
  const seen = record(informer);
  await informer.start();
  assert.deepEqual(
    informer
      .list('ns')
      .map((p) => p.metadata?.name)
      .sort(),
    ['a', 'b'],
  );
  assert.equal(informer.get('ns', 'a')?.kind, 'Pod', "a list's items get their kind");
  assert.equal(api.lists[0]?.searchParams.get('labelSelector'), 'app=web');
  await waitUntil(() => api.watches.length === 1, 'a watch');
  const w = api.watches[0] as Watch;
  assert.equal(w.url.searchParams.get('resourceVersion'), '10');
  assert.equal(w.url.searchParams.get('allowWatchBookmarks'), 'true');
  assert.equal(w.url.searchParams.get('labelSelector'), 'app=web');
  const timeout = Number(w.url.searchParams.get('timeoutSeconds'));
  assert.ok(timeout >= 300 && timeout < 600, `timeoutSeconds ${timeout}`);

  const before = informer.get('ns', 'a');
  w.send('MODIFIED', { apiVersion: 'v1', kind: 'Pod', ...pod('a', '11', { status: { phase: 'Running' } }) });
  w.send('ADDED', { apiVersion: 'v1', kind: 'Pod', ...pod('c', '12') });
  w.send('DELETED', { apiVersion: 'v1', kind: 'Pod', ...pod('b', '13') });
  w.send('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '20' } });
  await waitUntil(() => seen.length === 5, 'three events after the two adds of the list');
  assert.deepEqual(seen, [
    ['ADDED', 'a', '1'],
    ['ADDED', 'b', '2'],
    ['MODIFIED', 'a', '11'],
    ['ADDED', 'c', '12'],
    ['DELETED', 'b', '13'],
  ]);
  const after = informer.get('ns', 'a');
  assert.notEqual(after, before, 'replaced, not edited');
  assert.equal(before?.metadata?.resourceVersion, '1', 'the object handed out before is as it was');
  assert.equal(informer.get('ns', 'b'), undefined);

  w.res.end(); // as the server does at timeoutSeconds
  await waitUntil(() => api.watches.length === 2, 'a new watch');
  assert.equal(api.watches[1]?.url.searchParams.get('resourceVersion'), '20', 'from the bookmark');
  assert.equal(api.lists.length, 1, 'no relist');
});

for (const how of ['an ERROR event', 'HTTP 410 Gone'] as const) {
  test(`after ${how} the informer lists again and tells of what changed, the delete included`, async (t) => {
    const api = await apiServer(t);
    api.state.list = () => ({ status: 200, body: { metadata: { resourceVersion: '10' }, items: [pod('a', '1'), pod('b', '2'), pod('c', '3')] } });
    const errors: unknown[] = [];
    const informer = new RestKubeClient(api.kc, { onInformerError: (_k, err) => errors.push(err) }).informer(kinds.pod);
    t.after(() => informer.stop());
    const seen = record(informer);
    await informer.start();
    await waitUntil(() => api.watches.length === 1, 'a watch');
    const unchanged = informer.get('ns', 'c');
    // Meanwhile b is deleted, a changes and d is made, and the watch cannot resume.
    api.state.list = () => ({ status: 200, body: { metadata: { resourceVersion: '40' }, items: [pod('a', '31'), pod('c', '3'), pod('d', '32')] } });
    if (how === 'an ERROR event') {
      api.watches[0]?.send('ERROR', { kind: 'Status', apiVersion: 'v1', code: 410, reason: 'Expired', message: 'too old resource version: 10 (25)' });
    } else {
      api.state.watchStatus = 410; // the next watch, after this one ends (a watch ended at once with no event at all would count as a failure)
      api.watches[0]?.send('BOOKMARK', { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: '10' } });
      api.watches[0]?.res.end();
    }
    await waitUntil(() => api.lists.length === 2 && api.watches.length >= 2, 'a relist, then a watch');
    assert.deepEqual(seen.slice(3), [
      ['DELETED', 'b', '2'],
      ['MODIFIED', 'a', '31'],
      ['ADDED', 'd', '32'],
    ]);
    assert.equal(informer.get('ns', 'c'), unchanged, 'an object whose version did not change is kept as it was');
    assert.equal(api.watches.at(-1)?.url.searchParams.get('resourceVersion'), '40');
    assert.deepEqual(errors, [], 'an expired resourceVersion is not an error');
  });
}

test('a broken watch is resumed from its resourceVersion after the backoff, and told as an error', async (t) => {
  const api = await apiServer(t);
  const errors: unknown[] = [];
  const informer = new RestKubeClient(api.kc, { onInformerError: (_k, err) => errors.push(err), informerBackoff: { baseMs: 20, maxMs: 100 } }).informer(
    kinds.service,
  );
  t.after(() => informer.stop());
  await informer.start();
  await waitUntil(() => api.watches.length === 1, 'a watch');
  api.watches[0]?.send('ADDED', { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'ns', resourceVersion: '15' } });
  await waitUntil(() => informer.get('ns', 's') !== undefined, 'the added Service');
  api.watches[0]?.res.socket?.destroy();
  await waitUntil(() => api.watches.length === 2, 'a new watch');
  assert.equal(api.watches[1]?.url.searchParams.get('resourceVersion'), '15');
  assert.equal(api.lists.length, 1);
  assert.equal(errors.length, 1);
});

test('stop() closes the watch and leaves no timer, also when it comes during a backoff', async (t) => {
  const api = await apiServer(t);
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const baseline = timers();
  const client = new RestKubeClient(api.kc, { informerBackoff: { baseMs: 60_000, maxMs: 60_000 } });
  const watching = client.informer(kinds.service);
  await watching.start();
  await waitUntil(() => api.watches.length === 1, 'a watch');
  await watching.stop();
  await waitUntil(() => api.watches[0]?.closed === true, 'the watch connection closed');

  // A second informer whose relist fails: it waits out a 60 s backoff, which stop() ends.
  const errors: unknown[] = [];
  const failing = new RestKubeClient(api.kc, { onInformerError: (_k, err) => errors.push(err), informerBackoff: { baseMs: 60_000, maxMs: 60_000 } }).informer(
    kinds.service,
  );
  await failing.start();
  await waitUntil(() => api.watches.length === 2, 'its watch');
  api.state.list = () => ({ status: 500, body: { kind: 'Status', reason: 'InternalError', message: 'etcd is down' } });
  api.watches[1]?.send('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old' });
  await waitUntil(() => errors.length === 1, 'the failed relist told');
  assert.ok(timers() > baseline, 'the backoff is a timer');
  await failing.stop();
  assert.equal(timers(), baseline, 'no timer left');
  assert.equal(api.watches.length, 2, 'no watch after stop');
});

test('ListWatch splits newline-delimited JSON however the chunks are cut, multi-byte characters included', async () => {
  const line = (type: string, name: string, rv: string, note = '') =>
    `${JSON.stringify({ type, object: { metadata: { name, namespace: 'ns', resourceVersion: rv, annotations: { note } } } })}\n`;
  const text = line('ADDED', 'a', '2', 'café ✓ 日本') + line('MODIFIED', 'a', '3', '✓✓') + line('BOOKMARK', '', '9') + line('ADDED', 'b', '4');
  const bytes = Buffer.from(text);
  // Cut into pieces of 1 to 7 bytes: through the middle of every multi-byte character and line end.
  const chunks: Buffer[] = [];
  for (let i = 0, n = 1; i < bytes.length; i += n, n = (n % 7) + 1) chunks.push(bytes.subarray(i, i + n));
  const paths: string[] = [];
  const seen: Array<[string, string, string | undefined]> = [];
  let opened = 0;
  const stop = { lw: undefined as ListWatch | undefined };
  const lw = new ListWatch({
    path: '/api/v1/pods',
    source: {
      list: async () => ({ metadata: { resourceVersion: '1' }, items: [] }),
      watch: async (path, signal) => {
        paths.push(path);
        opened++;
        if (opened === 1) {
          return (async function* () {
            yield* chunks;
          })();
        }
        stop.lw?.stop(); // the second watch: the test is done
        return new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
      },
    },
    prepare: () => undefined,
    emit: (type, obj) => seen.push([type, obj.metadata?.name ?? '', (obj.metadata?.annotations as Record<string, string> | undefined)?.note]),
    failed: async (err) => {
      throw err;
    },
  });
  stop.lw = lw;
  await lw.relist();
  lw.run();
  await waitUntil(() => opened === 2, 'the second watch');
  assert.deepEqual(seen, [
    ['ADDED', 'a', 'café ✓ 日本'],
    ['MODIFIED', 'a', '✓✓'],
    ['ADDED', 'b', ''],
  ]);
  assert.match(paths[1] ?? '', /resourceVersion=4/);
});
