// Benchmark (prints figures; not a test): the controller over the in-memory API with a fake
// clock. For N concurrent canary rollouts it reports reconcile latency (p50/p99 of observe +
// plan + act), API writes per completed rollout, wall time and memory. The API server is
// in memory, so this measures Sluice's own overhead, not network or etcd.
//   node bench/reconcile.ts [N ...]     (default: 1 100 1000)
import { performance } from 'node:perf_hooks';
import { kinds } from '../src/ports/kube.ts';
import { canaryRollout, startHarness } from '../test/helpers/harness.ts';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const pct = (xs: number[], p: number) => xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;

for (const n of sizes.length ? sizes : [1, 100, 1000]) {
  const h = await startHarness();
  const latencies: number[] = [];
  const original = h.controller.queue;
  const steps = [{ setWeight: 25 }, { pause: { duration: '30s' } }, { setWeight: 50 }, { pause: { duration: '30s' } }, { setWeight: 75 }];
  for (let i = 0; i < n; i++) await h.kube.create(kinds.rollout, canaryRollout({ steps, maxSurge: 1, maxUnavailable: 0 }, { replicas: 4 }, `app-${i}`));
  await h.settle();
  // Measure every reconcile from here on by wrapping the reconciler the queue calls.
  const reconcile = (original as unknown as { reconcile: (k: string) => Promise<unknown> }).reconcile;
  (original as unknown as { reconcile: (k: string) => Promise<unknown> }).reconcile = async (key: string) => {
    const t = performance.now();
    try {
      return await reconcile(key);
    } finally {
      latencies.push(performance.now() - t);
    }
  };
  const writesBefore = h.kube.writes.length;
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const r = h.rollout(`app-${i}`);
    const template = structuredClone(r.spec.template) as any;
    template.spec.containers[0].image = 'example/app:v2';
    await h.kube.patch(kinds.rollout, 'default', `app-${i}`, { spec: { template } }, { type: 'merge' });
  }
  await h.settle();
  // Fake seconds pass (pauses end, the queue's rate limit refills) until every rollout is done.
  const done = () => Array.from({ length: n }, (_, i) => h.rollout(`app-${i}`).status.phase).filter((p) => p === 'Healthy').length;
  let fakeSeconds = 0;
  while (done() < n && fakeSeconds < 3600) {
    await h.advance(1000);
    fakeSeconds++;
  }
  const healthy = done();
  const wall = performance.now() - started;
  const writes = h.kube.writes.slice(writesBefore);
  // The fake cluster's own writes (pods, their status, ReplicaSet status) are not Sluice's.
  const controllerWrites = writes.filter((w) => !/^(create|delete) pods /.test(w) && !/^patch (pods|replicasets) .*\/status$/.test(w));
  console.log(
    `rollouts=${n} completed=${healthy}/${n} reconciles=${latencies.length} p50=${pct(latencies, 50).toFixed(2)}ms p99=${pct(latencies, 99).toFixed(2)}ms ` +
      `controller-writes/rollout=${(controllerWrites.length / n).toFixed(1)} fake-time=${fakeSeconds}s ` +
      `wall=${(wall / 1000).toFixed(2)}s rss=${(process.memoryUsage().rss / 2 ** 20).toFixed(0)}MiB`,
  );
  const byKind = new Map<string, number>();
  for (const w of controllerWrites) {
    const [verb, resource, path] = w.split(' ');
    const key = `${verb} ${resource}${path?.endsWith('/status') ? '/status' : ''}`;
    byKind.set(key, (byKind.get(key) ?? 0) + 1);
  }
  console.log(`  per rollout: ${[...byKind].map(([k, v]) => `${k}=${(v / n).toFixed(1)}`).join(' ')}`);
  await h.stop();
}
